"""What an agent is given, per game, as plain data: the one source for docs/agents.md, for
`GET /api/v1/environments` and for the game parameters the match runner sends in `configuration`.

Cheap to import (the API imports it): no numpy or PettingZoo; pong's parameters are read from its
pure-Python module, so they cannot drift from the game. The time limits live in the registry's
`EnvironmentSpec`, the sandbox limits in `rlarena.executor.runner.MatchLimits`; this module
describes the rest: each observation field, the configuration, the action format, the turns, the
ways a game ends and an example position (played for real by `rlarena.author_docs.examples`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rlarena.environments import pong
from rlarena.environments.base import EnvironmentSpec
from rlarena.environments.registry import spec_of

# The Python agents run on: /usr/bin/python3 on the local platform (AGENT_PYTHON changes it) and
# the agent image's base (AGENT_BASE_IMAGE, python:3.11-slim) on Kubernetes; tests hold both to it.
AGENT_PYTHON_VERSION = "3.11"


@dataclass(frozen=True)
class Field:
    name: str
    type: str  # "int", "number" (int or float), "str", "int[3][3]", "float[8]", "str[]"
    meaning: str


@dataclass(frozen=True)
class Parameter:
    """A game parameter, sent in every `configuration` under `name`."""

    name: str
    value: int | float | list[float]
    meaning: str


@dataclass(frozen=True)
class Ending:
    reason: str  # as the match records it (its outcome reason)
    result: str  # "win", "draw" or "win or draw"
    meaning: str


@dataclass(frozen=True)
class Example:
    """A position reached from `reset(seed)` by `moves` (per step, the action of each player to
    act, in player order; UCI strings for chess), shown as `player` receives it."""

    seed: int
    moves: tuple[tuple[int | str, ...], ...]
    player: int
    caption: str


@dataclass(frozen=True)
class Guide:
    environment_id: str
    summary: str
    observation: tuple[Field, ...]
    parameters: tuple[Parameter, ...]
    actions: str
    turns: str
    endings: tuple[Ending, ...]
    example: Example
    elided: tuple[str, ...] = ()  # observation keys too big to print in full in the docs


# Sent in every game's configuration, before the game's parameters (`configuration()` below).
COMMON_CONFIGURATION: tuple[Field, ...] = (
    Field("environment", "str", "the game's versioned id, e.g. `tic-tac-toe-v3`"),
    Field("player", "int", "your side: 0 or 1 (the same as `observation.player`)"),
    Field("step", "int", "steps played so far in this match (plies for board games), 0 at the start"),
    Field("max_steps", "int", "the step after which the game ends on its limit"),
    Field("move_timeout_s", "number", "seconds per move before the overage bank is charged"),
    Field("overage_s", "number", "your overage bank for the whole match, in seconds"),
)

_PLAYER = Field("player", "int", "your side: 0 moves first, 1 second")
_LEGAL = Field("legal_actions", "int[]", "the legal actions in this position, sorted; play one of these")
_OUT_OF_TURN = "1 where the action is legal (you are only asked on your turn)"

_GRID_TURNS = "Players alternate, one mark or piece per step; player 0 moves first."
_BOARD_FULL = Ending("board full", "draw", "every cell is taken and nobody has a line")

TIC_TAC_TOE = Guide(
    environment_id="tic-tac-toe",
    summary="Three in a row on a 3x3 board (PettingZoo classic tictactoe_v3).",
    observation=(
        Field(
            "observation",
            "int[3][3][2]",
            "PettingZoo's planes, indexed [column][row][plane]: "
            "plane 0 your marks, plane 1 the opponent's (1 = a mark)",
        ),
        Field("action_mask", "int[9]", _OUT_OF_TURN),
        _LEGAL,
        _PLAYER,
        Field(
            "board",
            "int[3][3]",
            "the board as rows, top to bottom, read board[row][column]: 0 empty, 1 your mark, 2 the opponent's",
        ),
    ),
    parameters=(
        Parameter("rows", 3, "rows of the board"),
        Parameter("columns", 3, "columns of the board"),
        Parameter("inarow", 3, "marks in a line (row, column or diagonal) that win"),
    ),
    actions="an integer 0-8: the cell to mark, numbered down the columns: cell = 3 * column + row "
    "(board[row][column]); it must be empty",
    turns=_GRID_TURNS,
    endings=(Ending("three in a row", "win", "a player has three marks in a row, column or diagonal"), _BOARD_FULL),
    example=Example(
        seed=1,
        moves=((4,), (0,)),
        player=0,
        caption="player 0 took the centre (cell 4), player 1 the top-left corner (cell 0); player 0 to move",
    ),
)

CONNECT_FOUR = Guide(
    environment_id="connect-four",
    summary="Four in a row on a 6x7 grid (PettingZoo classic connect_four_v3).",
    observation=(
        Field(
            "observation",
            "int[6][7][2]",
            "PettingZoo's planes, indexed [row][column][plane], row 0 at the top: "
            "plane 0 your pieces, plane 1 the opponent's",
        ),
        Field("action_mask", "int[7]", _OUT_OF_TURN + "; a full column is 0"),
        _LEGAL,
        _PLAYER,
        Field(
            "board",
            "int[6][7]",
            "the grid as rows from the top (pieces fall to row 5), read board[row][column]: "
            "0 empty, 1 your piece, 2 the opponent's",
        ),
    ),
    parameters=(
        Parameter("rows", 6, "rows of the grid"),
        Parameter("columns", 7, "columns of the grid"),
        Parameter("inarow", 4, "pieces in a line (row, column or diagonal) that win"),
    ),
    actions="an integer 0-6: the column to drop a piece into, left to right; it must not be full",
    turns=_GRID_TURNS,
    endings=(
        Ending("four in a row", "win", "a player has four pieces in a row, column or diagonal"),
        _BOARD_FULL,
    ),
    example=Example(
        seed=1,
        moves=((3,), (3,), (4,)),
        player=1,
        caption="player 0 dropped into column 3, player 1 on top of it, player 0 into column 4; player 1 to move",
    ),
)

CHESS = Guide(
    environment_id="chess",
    summary="Standard chess (PettingZoo classic chess_v6, python-chess rules).",
    observation=(
        Field(
            "observation",
            "int[8][8][111]",
            "PettingZoo chess_v6's AlphaZero-style planes, seen from your side: castling rights (0-3), "
            "side to move (4), fifty-move counter (5), all ones (6), pieces (7-18), repetition (19), "
            "the previous seven positions (20-110)",
        ),
        Field("action_mask", "int[4672]", _OUT_OF_TURN),
        _LEGAL,
        Field("player", "int", "your side: 0 white (moves first), 1 black"),
        Field("fen", "str", "the position in FEN"),
        Field("legal_moves", "str[]", "the legal moves in UCI (`e2e4`, `e7e8q`): legal_moves[i] is legal_actions[i]"),
    ),
    parameters=(
        Parameter("max_plies", spec_of("chess").max_steps, "plies (half-moves) after which the game is a draw"),
    ),
    actions="an integer from legal_actions (PettingZoo's 0-4671 move encoding), or the UCI string of a legal "
    'move (`"e2e4"`, one of legal_moves), which plays the move it names',
    turns="Players alternate, one ply per step; player 0 is white and moves first.",
    endings=(
        Ending("checkmate", "win", "the side to move is checkmated"),
        Ending("stalemate", "draw", "the side to move has no legal move and is not in check"),
        Ending("insufficient material", "draw", "neither side can mate"),
        Ending(
            "fifty-move rule", "draw", "fifty moves by each side without a capture or a pawn move (claimed at once)"
        ),
        Ending("threefold repetition", "draw", "the same position a third time (claimed at once)"),
        Ending("move limit", "draw", "`max_plies` plies were played"),
    ),
    example=Example(
        seed=1,
        moves=(("e2e4",), ("e7e5",), ("g1f3",)),
        player=1,
        caption="1. e4 e5 2. Nf3, black (player 1) to move",
    ),
    elided=("observation", "action_mask"),
)

PONG = Guide(
    environment_id="pong",
    summary=f"Two paddles, one ball: first to {pong.POINTS_TO_WIN} points, or the most points after the step limit.",
    observation=(
        Field(
            "observation",
            "float[8]",
            "[ball_x, ball_y, ball_vx, ball_vy, paddle0_y, paddle1_y, score0, score1]: the court is the unit "
            "square, x grows to the right, y grows downwards; velocities are per step; paddle positions "
            "are their centres; player 0's paddle is on the left",
        ),
        Field("player", "int", "your side: 0 the left paddle, 1 the right one"),
    ),
    parameters=(
        Parameter("court_width", 1.0, "width of the court (x from 0 to 1)"),
        Parameter("court_height", 1.0, "height of the court (y from 0 at the top to 1)"),
        Parameter("paddle_height", pong.PADDLE_HEIGHT, "height of a paddle"),
        Parameter("paddle_speed", pong.PADDLE_SPEED, "how far a paddle moves in one step"),
        Parameter(
            "paddle_x", list(pong.PADDLE_X), "the x of player 0's and player 1's paddles (the ball bounces there)"
        ),
        Parameter("ball_radius", pong.BALL_RADIUS, "radius of the ball"),
        Parameter("ball_speed", pong.BALL_SPEED, "the ball's speed per step (constant)"),
        Parameter(
            "max_angle",
            pong.MAX_ANGLE,
            "radians from the horizontal of a serve or a return off a paddle's edge "
            "(the centre of a paddle returns the ball straight)",
        ),
        Parameter("points_to_win", pong.POINTS_TO_WIN, "points that win the game"),
    ),
    actions=f"an integer: {pong.UP} up (y decreases), {pong.STAY} stay, {pong.DOWN} down (y increases)",
    turns="Both players act in every step, at once; then the paddles move, then the ball. "
    "A point serves the ball again from the centre in a random direction (the match's seed).",
    endings=(
        Ending(f"{pong.POINTS_TO_WIN} points", "win", "a player reached `points_to_win`"),
        Ending("step limit", "win or draw", "`max_steps` steps were played: the higher score wins, equal is a draw"),
    ),
    example=Example(
        seed=1,
        moves=((2, 0), (2, 0), (1, 1)),
        player=1,
        caption="player 0 went down twice and player 1 up twice, then both stayed; both to move",
    ),
)

GUIDES: tuple[Guide, ...] = (TIC_TAC_TOE, CONNECT_FOUR, CHESS, PONG)
_BY_ID = {guide.environment_id: guide for guide in GUIDES}


def guide_of(environment_id: str) -> Guide:
    """The guide of a registered game, by its unversioned id (`spec.id`)."""
    return _BY_ID[environment_id]


def parameters_of(environment_id: str) -> dict[str, Any]:
    return {parameter.name: parameter.value for parameter in guide_of(environment_id).parameters}


def configuration(
    spec: EnvironmentSpec, *, player: int, step: int, move_timeout_s: float, overage_s: float
) -> dict[str, Any]:
    """The `configuration` an agent receives with each observation (the match runner sends this)."""
    return {
        "environment": spec.versioned_id,
        "player": player,
        "step": step,
        "max_steps": spec.max_steps,
        "move_timeout_s": move_timeout_s,
        "overage_s": overage_s,
        **parameters_of(spec.id),
    }
