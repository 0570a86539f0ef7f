"""Agents written for Kaggle Simulations and for the old rl-arena, run unchanged in the real sandbox.

Each agent is written here from the public description of its interface (Kaggle's ConnectX and
chess observations, the old rl-arena Pong observation) and plays a whole match through
`run_match` against a house agent, on the curated agent runtime (numpy, python-chess), as the
platform runs it. The agents check what they are given and raise when it is not what their
interface promises, so a wrong translation ends the match with ERROR instead of passing quietly.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlarena.executor.runner import ERROR, INVALID, MATCH_SUCCESS, OK, AgentSpec, MatchResult, run_match
from rlarena.house import catalogue
from rlarena.sandbox import agent_venv
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime
from tests.support.author_cli import rlarena

# Kaggle's ConnectX agent: the last function of the file, after its helpers; obs.board is the
# flat 42-cell grid with absolute marks (1 = the first player), obs.mark its own mark.
KAGGLE_CONNECTX = """
def centre_first(columns):
    return sorted(range(columns), key=lambda column: abs(column - columns // 2))


def check(obs, config):
    board = obs.board
    assert len(board) == config.rows * config.columns == 42, len(board)
    assert obs["board"] is board and config["inarow"] == config.inarow == 4
    # Absolute marks: on its turn the first player has as many pieces as the second, the
    # second player one fewer than the first; and every piece is one step.
    assert board.count(1) - board.count(2) == obs.mark - 1, (obs.mark, board)
    assert board.count(1) + board.count(2) == obs.step
    assert 0 < config.actTimeout <= obs.remainingOverageTime + config.actTimeout


def my_agent(obs, config):
    check(obs, config)
    return next(column for column in centre_first(config.columns) if obs.board[column] == 0)
"""

# Kaggle's chess agent with python-chess: FEN in, UCI out.
KAGGLE_CHESS = """
import chess

def my_agent(obs, config):
    board = chess.Board(obs.board)
    assert board.turn == (obs.mark == "white"), (obs.mark, obs.board)
    moves = sorted(board.legal_moves, key=lambda move: not board.is_capture(move))
    return moves[0].uci()
"""

# Kaggle's chess agent with Chessnut (the package Kaggle's chess starter imports): FEN in, UCI out.
KAGGLE_CHESS_CHESSNUT = """
from Chessnut import Game

def my_agent(obs, config):
    game = Game(obs.board)
    moves = list(game.get_moves())
    captures = [move for move in moves if game.board.get_piece(Game.xy2i(move[2:4])) != " "]
    return (captures or moves)[0]
"""

# The same without any package: the colour is read from the FEN's side-to-move field.
KAGGLE_CHESS_STANDARD_LIBRARY = """
import random

def side_to_move(fen):
    return "white" if fen.split()[1] == "w" else "black"

def my_agent(obs, config):
    assert side_to_move(obs.board) == obs.mark, (obs.mark, obs.board)
    return random.choice(obs.legal_moves)
"""

# The native interface returning UCI: each move is printed so the test can find it in the replay.
NATIVE_CHESS_UCI = """
import sys

def agent(observation, configuration):
    move = observation["legal_moves"][-1]
    if configuration["step"] < 40:
        print("played", move, file=sys.stderr)
    return move
"""

WRONG_UCI = """
def agent(observation, configuration):
    return "e2e5"
"""

# The old rl-arena Pong interface: an object with act(observation), the plain 8-float list
# [ball_x, ball_y, ball_vx, ball_vy, paddle1_y, paddle2_y, score1, score2], the same for both sides.
OLD_PONG_NUMPY = """
import numpy as np

class Agent:
    def __init__(self, player_id=0):
        self.paddle = 4 + player_id

    def act(self, observation):
        state = np.asarray(observation, dtype=np.float32)
        assert state.shape == (8,), state.shape
        ball_y, paddle_y = state[1], state[self.paddle]
        if ball_y > paddle_y + 0.03:
            return 2
        if ball_y < paddle_y - 0.03:
            return 0
        return 1
"""

OLD_PONG_PLAIN = """
class PongAgent:
    def act(self, observation):
        assert len(observation) == 8 and all(isinstance(value, float) for value in observation)
        ball_y = observation[1]
        paddle_y = observation[4]
        return 2 if ball_y > paddle_y + 0.05 else 0 if ball_y < paddle_y - 0.05 else 1
"""


@pytest.fixture(scope="module")
def runtime() -> AgentRuntime:
    python = agent_python(None)  # the curated runtime once `make agent-runtime` made it (make test, CI)
    assert python == str(agent_venv.python_of(agent_venv.default_dir())), "no agent runtime: make agent-runtime"
    return install_runtime(python)


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-compat-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _agent(root: Path, name: str, code: str, entry_point: str = "main.py") -> AgentSpec:
    folder = root / name
    folder.mkdir()
    (folder / entry_point).write_text(textwrap.dedent(code))
    return AgentSpec(agent_id=name, folder=folder, entry_point=entry_point)


def _house(game: str, name: str) -> AgentSpec:
    house = catalogue.lookup(game, name)
    return AgentSpec(agent_id=house.reference, folder=house.folder, entry_point=house.entry_point)


def _play(runtime: AgentRuntime, game: str, agents: list[AgentSpec], seed: int = 3) -> MatchResult:
    result = run_match(game, agents, seed=seed, runtime=runtime)
    assert result.status == MATCH_SUCCESS, result.error_message
    return result


def _assert_played_cleanly(result: MatchResult) -> None:
    details = [(r.agent_id, r.status, r.error_message, r.stderr[-1500:]) for r in result.agent_results]
    assert [r.status for r in result.agent_results] == [OK, OK], details
    assert not result.outcome_reason.startswith(("ERROR", "INVALID", "TIMEOUT")), result.outcome_reason


@pytest.mark.parametrize("side", [0, 1])
def test_a_kaggle_connectx_agent_plays_connect_four_unchanged(runtime: AgentRuntime, root: Path, side: int) -> None:
    kaggle = _agent(root, "kaggle", KAGGLE_CONNECTX)
    agents = [kaggle, _house("connect-four", "random")]
    result = _play(runtime, "connect-four", agents if side == 0 else agents[::-1])
    _assert_played_cleanly(result)
    assert result.outcome_reason in ("four in a row", "board full")
    assert len(result.agent_results[side].move_times) >= 4


@pytest.mark.parametrize(
    ("code", "side"),
    [(KAGGLE_CHESS, 0), (KAGGLE_CHESS, 1), (KAGGLE_CHESS_CHESSNUT, 1), (KAGGLE_CHESS_STANDARD_LIBRARY, 0)],
    ids=["python-chess as white", "python-chess as black", "Chessnut as black", "standard library"],
)
def test_a_kaggle_chess_agent_reads_fen_and_answers_uci(
    runtime: AgentRuntime, root: Path, code: str, side: int
) -> None:
    kaggle = _agent(root, "kaggle", code)
    agents = [kaggle, _house("chess", "random")]
    result = _play(runtime, "chess", agents if side == 0 else agents[::-1])
    _assert_played_cleanly(result)
    assert result.total_steps >= 2
    replay = result.replay
    assert replay is not None
    # The runner turned the agent's UCI strings into the platform's integer actions.
    played = [frame["actions"][side] for frame in replay["frames"] if frame["actions"][side] is not None]
    assert played and all(isinstance(action, int) for action in played)


def test_a_native_chess_agent_may_answer_uci_and_the_replay_shows_those_moves(
    runtime: AgentRuntime, root: Path
) -> None:
    result = _play(runtime, "chess", [_agent(root, "uci", NATIVE_CHESS_UCI), _house("chess", "greedy")])
    _assert_played_cleanly(result)
    announced = re.findall(r"^played (\S+)$", result.agent_results[0].stderr, re.M)
    replay = result.replay
    assert replay is not None
    moves = [frame["info"]["last_move"] for frame in replay["frames"] if frame["actions"][0] is not None]
    assert announced and moves[: len(announced)] == announced


def test_an_illegal_uci_move_is_invalid_and_named(runtime: AgentRuntime, root: Path) -> None:
    result = _play(runtime, "chess", [_agent(root, "wrong", WRONG_UCI), _house("chess", "random")])
    wrong, house = result.agent_results
    assert (wrong.status, house.status) == (INVALID, OK)
    assert wrong.error_message == "the move 'e2e5' is not a legal UCI move in this position"
    assert result.winner_agent_id == "house:random"
    assert result.outcome_reason == f"INVALID by wrong: {wrong.error_message}"


def test_a_string_action_outside_chess_is_still_not_an_integer(runtime: AgentRuntime, root: Path) -> None:
    result = _play(runtime, "tic-tac-toe", [_agent(root, "text", WRONG_UCI), _house("tic-tac-toe", "random")])
    assert result.agent_results[0].status == INVALID
    assert result.agent_results[0].error_message == "the action 'e2e5' is not an integer"


@pytest.mark.parametrize(
    ("code", "side"),
    [(OLD_PONG_NUMPY, 0), (OLD_PONG_NUMPY, 1), (OLD_PONG_PLAIN, 0)],
    ids=["numpy, left", "numpy, right", "standard library"],
)
def test_an_old_rl_arena_pong_agent_plays_unchanged(runtime: AgentRuntime, root: Path, code: str, side: int) -> None:
    old = _agent(root, "old", code, entry_point="agent.py")
    agents = [old, _house("pong", "random")]
    result = _play(runtime, "pong", agents if side == 0 else agents[::-1])
    _assert_played_cleanly(result)
    assert len(result.agent_results[side].move_times) == result.total_steps > 0


@pytest.mark.parametrize(
    ("code", "game", "layer"),
    [
        (KAGGLE_CONNECTX, "connect-four", "kaggle layer, last callable: my_agent reads"),
        ('INTERFACE = "kaggle"\n' + KAGGLE_CHESS, "chess", "kaggle layer, last callable: INTERFACE = 'kaggle'"),
        (OLD_PONG_PLAIN, "pong", "rl-arena-v1 layer, single class: act reads observation[1]"),
        (NATIVE_CHESS_UCI, "chess", "agent interface: function (agent)"),
    ],
    ids=["kaggle detected", "kaggle declared", "old rl-arena", "native"],
)
def test_the_build_log_names_the_layer_chosen(tmp_path: Path, code: str, game: str, layer: str) -> None:
    agent = tmp_path / "upload" / "main.py"
    agent.parent.mkdir()
    agent.write_text(textwrap.dedent(code))
    result = rlarena(tmp_path / "home", "validate", game, str(agent))
    assert result.returncode == 0, result.stdout + result.stderr
    log_line = next(line for line in result.stdout.splitlines() if line.startswith("agent interface: "))
    assert layer in log_line


# Indexes the observation in a helper, where detection does not look: only a declaration helps.
OLD_PONG_HELPER = """
class Agent:
    def act(self, observation):
        return self.follow(observation)

    def follow(self, state):
        return 2 if state[1] > state[4] else 0
"""


def test_an_undetected_old_agent_is_told_what_to_declare_and_then_plays(runtime: AgentRuntime, root: Path) -> None:
    failed = _play(runtime, "pong", [_agent(root, "undeclared", OLD_PONG_HELPER), _house("pong", "random")])
    assert failed.agent_results[0].status == ERROR
    assert failed.agent_results[0].error_message.startswith("KeyError: 1 (the observation is a dict")
    assert 'declare INTERFACE = "rl-arena-v1"' in failed.agent_results[0].error_message
    declared = _agent(root, "declared", 'INTERFACE = "rl-arena-v1"\n' + OLD_PONG_HELPER)
    _assert_played_cleanly(_play(runtime, "pong", [declared, _house("pong", "random")]))


# Kaggle's tictactoe: 9 cells row by row, absolute marks; prints the cell it takes.
KAGGLE_TIC_TAC_TOE = """
import sys

def my_agent(obs, config):
    assert len(obs.board) == 9 and obs.board.count(1) - obs.board.count(2) == obs.mark - 1, obs
    cell = max(range(9), key=lambda index: (obs.board[index] == 0, index == 4, -index))
    print("cell", cell, file=sys.stderr)
    return cell
"""


@pytest.mark.parametrize("side", [0, 1])
def test_a_kaggle_tic_tac_toe_agent_marks_the_cells_it_names(runtime: AgentRuntime, root: Path, side: int) -> None:
    agents = [_agent(root, "kaggle", KAGGLE_TIC_TAC_TOE), _house("tic-tac-toe", "random")]
    result = _play(runtime, "tic-tac-toe", agents if side == 0 else agents[::-1])
    _assert_played_cleanly(result)
    cells = [int(cell) for cell in re.findall(r"^cell (\d)$", result.agent_results[side].stderr, re.M)]
    replay = result.replay
    assert replay is not None and cells
    boards = [frame["info"]["board"] for frame in replay["frames"] if frame["actions"][side] is not None]
    # Kaggle's cell row * 3 + column holds the agent's mark (frames count player 0 as 1) once it moved.
    assert [board[cell // 3][cell % 3] for board, cell in zip(boards, cells, strict=True)] == [side + 1] * len(cells)
