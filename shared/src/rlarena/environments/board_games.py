"""Tic-tac-toe, connect-four and chess: PettingZoo classic AEC games behind `Environment`.

PettingZoo owns the rules; this adapter only checks each action against PettingZoo's own
action_mask before stepping (its wrappers would otherwise end the game or assert), turns numpy
into plain lists, and reads the result from its rewards. PettingZoo, numpy and python-chess are
imported when a game is created, never when this module is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from rlarena.environments.base import EnvironmentSpec, Outcome, check_actions

if TYPE_CHECKING:
    import chess

# PettingZoo's illegal-move penalty is never reached (we refuse first), so its rewards are only
# +1 / -1 for a win or 0 for a draw; the platform scores that as 1 / 0 / 0.5.
_WIN, _DRAW = (1.0, 0.0), (0.5, 0.5)


class BoardGame:
    """Turn-based, two players, one acts per step; subclasses name the game and its extras."""

    pettingzoo_id: ClassVar[str]  # in PettingZoo's own registry, e.g. "classic/tictactoe-v3"
    win_reason: ClassVar[str]
    draw_reason: ClassVar[str] = "board full"

    def __init__(self, spec: EnvironmentSpec) -> None:
        from pettingzoo import make  # type: ignore[import-untyped]

        self.spec = spec
        self._env: Any = make("aec", self.pettingzoo_id)
        # Reads and (already checked) steps go to the game itself: each attribute read through
        # PettingZoo's three wrappers costs a chain of __getattr__ calls, and its illegal-move
        # wrapper observes the position once more at every step.
        self._game: Any = self._env.unwrapped
        self._agents: list[str] = list(self._env.possible_agents)
        self.reset(0)

    def reset(self, seed: int) -> None:
        # The rules are deterministic; the seed is passed on only so PettingZoo stays seeded.
        self._env.reset(seed=seed)
        self._steps = 0
        self._last_action: int | None = None
        self._rewards = (0.0, 0.0)
        self._outcome: Outcome | None = None
        self._turn_view: dict[str, Any] | None = None  # PettingZoo's observation for the mover
        self._legal: list[int] | None = None  # the mover's legal actions, once asked for

    @property
    def steps(self) -> int:
        return self._steps

    def done(self) -> bool:
        return self._outcome is not None

    def to_act(self) -> list[int]:
        return [] if self.done() else [self._mover()]

    def legal_actions(self, player: int) -> list[int]:
        if player not in self.to_act():
            return []
        if self._legal is None:
            self._legal = self._mover_view()["action_mask"].nonzero()[0].tolist()
        return list(self._legal)

    def observation(self, player: int) -> dict[str, Any]:
        to_move = player in self.to_act()
        view = self._mover_view() if to_move else self._game.observe(self._agents[player])
        # PettingZoo still shows moves to the next agent once a game is won; nobody may move.
        mask = view["action_mask"].tolist() if to_move else [0] * len(view["action_mask"])
        planes = view["observation"].astype("int8").tolist()
        return {
            "observation": planes,
            "action_mask": mask,
            "legal_actions": self.legal_actions(player),
            "player": player,
            **self._extras(player, view, planes),
        }

    def step(self, actions: Mapping[int, int]) -> None:
        check_actions(self, actions)
        ((_player, action),) = actions.items()
        self._game.step(action)
        self._steps += 1
        self._last_action = action
        self._turn_view = None
        self._legal = None
        self._outcome = self._judge()
        # PettingZoo's rewards are the last step's: 0 until the deciding move.
        self._rewards = self._pettingzoo_rewards()

    def last_rewards(self) -> tuple[float, float]:
        return self._rewards

    def outcome(self) -> Outcome:
        if self._outcome is None:
            raise ValueError("the game is not over")
        return self._outcome

    def frame(self) -> dict[str, Any]:
        return {"last_action": self._last_action, "to_act": self.to_act(), **self._frame_extras()}

    def _mover(self) -> int:
        return self._agents.index(self._game.agent_selection)

    def _mover_view(self) -> dict[str, Any]:
        if self._turn_view is None:
            self._turn_view = self._game.observe(self._game.agent_selection)
        return self._turn_view

    def _pettingzoo_rewards(self) -> tuple[float, float]:
        first, second = (float(self._game.rewards[agent]) for agent in self._agents)
        return first, second

    def _judge(self) -> Outcome | None:
        env = self._game
        if any(env.terminations.values()) or any(env.truncations.values()):
            first, second = self._pettingzoo_rewards()
            if first == second:
                return Outcome(winner=None, scores=_DRAW, reason=self._ending(None))
            winner = 0 if first > second else 1
            scores = _WIN if winner == 0 else (_WIN[1], _WIN[0])
            return Outcome(winner=winner, scores=scores, reason=self._ending(winner))
        if self._steps >= self.spec.max_steps:
            return Outcome(winner=None, scores=_DRAW, reason="move limit")
        return None

    def _ending(self, winner: int | None) -> str:
        return self.draw_reason if winner is None else self.win_reason

    def _extras(self, player: int, view: dict[str, Any], planes: list[Any]) -> dict[str, Any]:
        """Game-specific keys of `player`'s observation; `planes` is view["observation"] as lists."""
        return {}

    def _frame_extras(self) -> dict[str, Any]:
        return {}


class _GridGame(BoardGame, ABC):
    """Tic-tac-toe and connect-four: add the board as rows, 0 empty / 1 own / 2 opponent."""

    @abstractmethod
    def _rows(self, planes: list[list[list[int]]]) -> list[list[int]]:
        """The PettingZoo planes as rows, as the players see the board."""

    def _extras(self, player: int, view: dict[str, Any], planes: list[Any]) -> dict[str, Any]:
        return {"board": self._rows(planes)}

    def _frame_extras(self) -> dict[str, Any]:
        # Seen from player 0, so the frame's 1 is always player 0 and 2 always player 1.
        return {"board": self._rows(self._game.observe(self._agents[0])["observation"].tolist())}


def _cell(planes: list[list[list[int]]], first: int, second: int) -> int:
    own, opponent = planes[first][second]
    return 1 if own else 2 if opponent else 0


class TicTacToe(_GridGame):
    pettingzoo_id = "classic/tictactoe-v3"
    win_reason = "three in a row"

    def _rows(self, planes: list[list[list[int]]]) -> list[list[int]]:
        # PettingZoo numbers cells down the columns (cell 3 * column + row), so its planes are
        # indexed [column][row]; people read rows.
        return [[_cell(planes, column, row) for column in range(3)] for row in range(3)]


class ConnectFour(_GridGame):
    pettingzoo_id = "classic/connect_four-v3"
    win_reason = "four in a row"

    def _rows(self, planes: list[list[list[int]]]) -> list[list[int]]:
        return [[_cell(planes, row, column) for column in range(7)] for row in range(6)]


class Chess(BoardGame):
    """Chess with UCI beside PettingZoo's action integers, and a draw at `max_steps` plies."""

    pettingzoo_id = "classic/chess-v6"

    def reset(self, seed: int) -> None:
        super().reset(seed)
        self._moves: dict[int, str] | None = None  # action -> UCI for the position on the board

    def step(self, actions: Mapping[int, int]) -> None:
        super().step(actions)
        self._moves = None

    def uci_of(self, action: int) -> str:
        """The UCI of a legal action in the current position; `ValueError` for any other."""
        try:
            return self._legal_moves()[action]
        except KeyError:
            raise ValueError(f"action {action} is not a legal move in this position") from None

    def action_of(self, uci: str) -> int:
        """The action for a legal UCI move in the current position; `ValueError` otherwise."""
        for action, move in self._legal_moves().items():
            if move == uci:
                return action
        raise ValueError(f"{uci!r} is not a legal move in this position")

    def _board(self) -> chess.Board:
        board: chess.Board = self._game.board
        return board

    def _legal_moves(self) -> dict[int, str]:
        if self.done():
            return {}
        if self._moves is None:
            board = self._board()
            self._moves = dict(sorted((_action_of(board, move), move.uci()) for move in board.legal_moves))
        return self._moves

    def _extras(self, player: int, view: dict[str, Any], planes: list[Any]) -> dict[str, Any]:
        # legal_moves[i] is the UCI of legal_actions[i]; built from the mask, so should our encoding
        # ever disagree with PettingZoo's, uci_of fails loudly instead of misleading the agent.
        moves = [self.uci_of(action) for action in self.legal_actions(player)]
        return {"fen": self._board().fen(), "legal_moves": moves}

    def _frame_extras(self) -> dict[str, Any]:
        board = self._board()
        last_move = board.move_stack[-1].uci() if board.move_stack else None
        return {"fen": board.fen(), "last_move": last_move}

    def _ending(self, winner: int | None) -> str:
        board = self._board()
        if board.is_checkmate():
            return "checkmate"
        if board.is_stalemate():
            return "stalemate"
        if board.is_insufficient_material():
            return "insufficient material"
        if board.can_claim_fifty_moves():
            return "fifty-move rule"
        return "threefold repetition"


def _action_of(board: chess.Board, move: chess.Move) -> int:
    """PettingZoo's integer for `move`, built from its own chess_utils encoding.

    PettingZoo fills its action<->UCI tables lazily as positions are seen, so they cannot be
    read directly; instead, encode as it does: black's moves mirrored to white's side, then
    (from-square column * 8 + row) * 73 + the move's plane.
    """
    import chess as python_chess
    from pettingzoo.classic.chess import chess_utils  # type: ignore[import-untyped]

    seen = chess_utils.mirror_move(move) if board.turn == python_chess.BLACK else move
    column: int
    row: int
    column, row = chess_utils.square_to_coord(seen.from_square)
    plane: int = chess_utils.get_move_plane(seen)
    return (column * 8 + row) * 73 + plane
