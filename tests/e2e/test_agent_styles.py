"""End to end on `rlarena dev`: an agent in every style the platform accepts is uploaded over HTTP,
becomes active, and plays a whole match without an ERROR or INVALID.

The styles: the native interface; a Kaggle ConnectX agent and a Kaggle chess agent (UCI moves,
python-chess); the old rl-arena Pong Quick Start shape (numpy, `act(self, observation)` on the
plain 8-float list); a numpy policy with .npz weights in a zip (examples/connect-four-reinforce);
an ONNX policy (a tiny model built here, run by onnxruntime); and requirements.txt naming a wheel
from the package index. Each agent is written here from the public interface descriptions.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.support.onnx_models import linear_policy
from tests.support.running_platform import (
    RunningPlatform,
    active_agent,
    eventually,
    start_platform,
    stop_platform,
    upload,
    zipped,
)

EXAMPLE = ROOT / "examples" / "connect-four-reinforce"

NATIVE = b"""
class Agent:
    def act(self, observation):
        legal = observation["legal_actions"]
        return min(legal, key=lambda column: abs(column - 3))  # the most central free column
"""

# Kaggle ConnectX: a flat board of rows * columns absolute marks, the agent's own mark, and the
# configuration's shape; the last callable in the file is the agent.
KAGGLE_CONNECTX = b"""
def free_columns(board, columns):
    return [column for column in range(columns) if board[column] == 0]


def my_agent(obs, config):
    assert len(obs.board) == config.rows * config.columns and obs.mark in (1, 2)
    free = free_columns(obs.board, config.columns)
    return min(free, key=lambda column: abs(column - config.columns // 2))
"""

# Kaggle chess: the position as FEN, the answer a UCI move; python-chess from the agent runtime.
KAGGLE_CHESS = b"""
import chess


def chess_bot(obs):
    board = chess.Board(obs.board)
    moves = list(board.legal_moves)
    captures = [move for move in moves if board.is_capture(move)]
    return (captures or moves)[0].uci()
"""

# The old rl-arena Pong Quick Start shape: numpy, a class, act(self, observation) on the 8 floats.
OLD_RL_ARENA_PONG = b"""
import numpy as np


class PongAgent:
    def __init__(self, player_id=0):
        self.paddle = 4 + player_id  # paddle1_y, then paddle2_y

    def act(self, observation):
        ball_y = observation[1]
        paddle_y = observation[self.paddle]
        return int(1 + np.sign(np.float32(ball_y - paddle_y)))  # 0 up (y shrinks), 1 stay, 2 down
"""

ONNX_AGENT = b"""
import numpy as np
import onnxruntime

SESSION = onnxruntime.InferenceSession("policy.onnx", providers=["CPUExecutionProvider"])  # a relative path


def agent(observation, configuration):
    planes = np.asarray(observation["observation"], dtype=np.float32).reshape(1, 18)
    (logits,) = SESSION.run(["logits"], {"planes": planes})
    scores = np.where(np.asarray(observation["action_mask"]) == 1, logits[0], -np.inf)
    return int(np.argmax(scores))
"""

WHEEL_AGENT = b"""
import tabulate


def agent(observation, configuration):
    assert tabulate.__version__ == "0.9.0"
    return observation["legal_actions"][-1]
"""

FIRST_LEGAL = b"def agent(observation, configuration):\n    return observation['legal_actions'][0]\n"
STAY = b"def agent(observation, configuration):\n    return 1\n"


def onnx_policy() -> bytes:
    """A linear tic-tac-toe policy: the 18 plane inputs to 9 cell logits, preferring centre, corners."""
    import numpy as np

    weights = np.random.default_rng(0).normal(0.0, 0.1, (18, 9))
    return linear_policy(weights, np.array([1, 0, 1, 0, 2, 0, 1, 0, 1]), input_name="planes")


def example_zip() -> bytes:
    files = {path.name: path.read_bytes() for path in EXAMPLE.iterdir() if path.is_file() and path.suffix != ".pyc"}
    return zipped(files)


@dataclass(frozen=True)
class Style:
    name: str
    game: str
    filename: str
    upload: Callable[[], bytes]
    interface: str  # how the build log names the interface (and layer) the platform found


STYLES = [
    Style("native", "connect-four", "agent.py", lambda: NATIVE, "Agent class"),
    Style(
        "kaggle-connectx", "connect-four", "main.py", lambda: KAGGLE_CONNECTX, "kaggle layer, last callable: my_agent"
    ),
    Style("kaggle-chess-uci", "chess", "main.py", lambda: KAGGLE_CHESS, "kaggle layer, last callable: chess_bot"),
    Style("old-rl-arena-pong", "pong", "agent.py", lambda: OLD_RL_ARENA_PONG, "rl-arena-v1 layer, single class"),
    Style("numpy-npz-zip", "connect-four", "policy.zip", example_zip, "function (agent)"),
    Style(
        "onnx",
        "tic-tac-toe",
        "policy.zip",
        lambda: zipped({"agent.py": ONNX_AGENT, "policy.onnx": onnx_policy()}),
        "function (agent)",
    ),
    Style(
        "requirements-wheel",
        "tic-tac-toe",
        "bot.zip",
        lambda: zipped({"agent.py": WHEEL_AGENT, "requirements.txt": b"tabulate==0.9.0\n"}),
        "function (agent)",
    ),
]


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    # Installed requirements must be readable by the sandboxes: not under pytest's private tmp folder.
    packages = Path(tempfile.mkdtemp(prefix="rlarena-styles-packages-"))
    packages.chmod(0o755)
    running = start_platform(
        tmp_path_factory.mktemp("agent-styles"),
        REQUIREMENTS_CACHE_DIR=str(packages / "cache"),
        MANUAL_MATCH_RATE_LIMIT_PER_MINUTE="1000",
    )
    yield running
    stop_platform(running)
    shutil.rmtree(packages, ignore_errors=True)


@pytest.fixture(scope="module")
def author(arena: RunningPlatform) -> str:
    user = arena.request(
        "POST", "/api/v1/auth/register", {"username": "stylist", "email": "stylist@e.io", "password": "long enough"}
    )
    return str(user.body["token"])


@pytest.fixture(scope="module")
def rivals(arena: RunningPlatform) -> dict[str, str]:
    """A plain native agent per game, active, for the styles to play against."""
    return {
        game: active_agent(arena, f"rival-{game}", STAY if game == "pong" else FIRST_LEGAL, game)[1]
        for game in sorted({style.game for style in STYLES})
    }


@pytest.mark.parametrize("style", STYLES, ids=lambda style: style.name)
def test_an_agent_in_every_style_becomes_active_and_plays_a_clean_match(
    arena: RunningPlatform, author: str, rivals: dict[str, str], style: Style
) -> None:
    agent = arena.request("POST", "/api/v1/agents", {"name": style.name, "environmentId": style.game}, author)
    assert agent.status == 201, agent.body
    agent_id = agent.body["agent"]["id"]
    status, body = upload(arena, author, agent_id, style.filename, style.upload())
    assert status == 201, body
    submission_id = body["submission"]["id"]
    built = eventually(lambda: _settled(arena, author, submission_id), 240, f"the {style.name} build")
    log = arena.request("GET", f"/api/v1/submissions/{submission_id}/build-logs", token=author).body["buildLog"]
    assert built["status"] == "active", f"{style.name}: {built.get('errorMessage')}\n{log}"
    assert f"agent interface: {style.interface}" in log, log

    for agent1, agent2 in ((agent_id, rivals[style.game]), (rivals[style.game], agent_id)):  # both sides
        match = _played(arena, author, agent1, agent2)
        assert match["status"] == "completed", match
        assert (match["agent1Status"], match["agent2Status"]) == ("OK", "OK"), match


def _settled(arena: RunningPlatform, token: str, submission_id: str) -> dict[str, Any] | None:
    submission: dict[str, Any] = arena.request("GET", f"/api/v1/submissions/{submission_id}", token=token).body[
        "submission"
    ]
    return submission if submission["status"] in ("active", "failed") else None


def _played(arena: RunningPlatform, token: str, agent1: str, agent2: str) -> dict[str, Any]:
    started = arena.request("POST", "/api/v1/matches", {"agent1Id": agent1, "agent2Id": agent2}, token)
    assert started.status == 202, started.body
    match_id = started.body["match"]["id"]

    def ended() -> dict[str, Any] | None:
        match: dict[str, Any] = arena.request("GET", f"/api/v1/matches/{match_id}").body["match"]
        return match if match["status"] in ("completed", "failed") else None

    return dict(eventually(ended, 120, f"match {match_id}"))
