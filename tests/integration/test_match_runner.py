"""The match runner against real sandboxed agent processes: whole games, then hostile agents.

Each hostile agent plays player 1 against a well-behaved player 0 and must end with the right
status while the match still returns, the other agent wins, and no sandbox process is left.
Timeouts are shrunk through `limits` so the file stays fast.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlarena.environments import registry
from rlarena.executor.runner import ERROR, INVALID, OK, TIMEOUT, AgentSpec, MatchLimits, MatchResult, run_match
from rlarena.sandbox import uid_pool
from rlarena.sandbox.process import MiB
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime
from tests.support.hostile import live_processes_of

FIRST_LEGAL = """
def agent(observation, configuration):
    mask = observation["action_mask"]
    return mask.index(1)
"""

# Pong: follow the ball with the own paddle (0 up, 1 stay, 2 down; y grows downwards or not,
# either way tracking beats standing still often enough to finish the game).
BALL_TRACKER = """
def agent(observation, configuration):
    ball_y = observation["observation"][1]
    me = observation["player"]
    paddle = observation["observation"][4 + me]
    if abs(ball_y - paddle) < 0.02:
        return 1
    return 2 if ball_y > paddle else 0
"""

# A small budget for the hostile tests: a well-behaved move takes milliseconds.
FAST = {"move_timeout_s": 0.5, "overage_s": 0.5, "startup_timeout_s": 10.0, "match_timeout_s": 20.0}


@pytest.fixture(scope="module")
def runtime() -> AgentRuntime:
    return install_runtime(agent_python(None))


@pytest.fixture
def agents_root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-agents-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    before = _sandbox_pids()
    yield
    deadline = time.monotonic() + 3
    while (left := _sandbox_pids() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"sandbox processes left running: {sorted(left)}"


def _sandbox_pids() -> set[int]:
    return set(live_processes_of())


def _agent(root: Path, name: str, code: str) -> AgentSpec:
    folder = root / name
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(code))
    return AgentSpec(agent_id=name, folder=folder, entry_point="main.py")


def _play(
    runtime: AgentRuntime, root: Path, hostile: str, environment: str = "tic-tac-toe", **limits: Any
) -> MatchResult:
    good = _agent(root, "good", FIRST_LEGAL)
    bad = _agent(root, "bad", hostile)
    spec = registry.spec_of(environment)
    match_limits = MatchLimits.from_spec(spec, **{**FAST, **limits})
    return run_match(environment, [good, bad], seed=7, runtime=runtime, limits=match_limits)


def _assert_bad_lost(result: MatchResult, status: str) -> None:
    good, bad = result.agent_results
    assert result.status == "SUCCESS", result.error_message
    assert (good.status, bad.status) == (OK, status), (bad.error_message, bad.stderr)
    assert result.winner_agent_id == "good"
    assert (good.score, bad.score) == (1.0, 0.0)
    assert bad.error_message


# --- whole games -------------------------------------------------------------------------------


def test_a_tic_tac_toe_game_between_reference_agents(runtime: AgentRuntime, agents_root: Path) -> None:
    first, second = _agent(agents_root, "x", FIRST_LEGAL), _agent(agents_root, "o", FIRST_LEGAL)
    result = run_match("tic-tac-toe", [first, second], seed=1, runtime=runtime, match_id="m-1")
    assert result.status == "SUCCESS", result.error_message
    assert [r.status for r in result.agent_results] == [OK, OK]
    # First-legal against first-legal: X takes cells 0, 2, 4, 6, a diagonal on the 7th ply.
    assert result.winner_agent_id == "x"
    assert [r.score for r in result.agent_results] == [1.0, 0.0]
    assert result.total_steps == 7
    assert len(result.agent_results[0].move_times) == 4
    replay = result.replay
    assert replay is not None
    assert replay["version"] == 1
    metadata = replay["metadata"]
    assert metadata["match_id"] == "m-1"
    assert metadata["environment"] == "tic-tac-toe-v3"
    assert metadata["agents"] == ["x", "o"]
    assert (metadata["winner"], metadata["status"], metadata["seed"], metadata["total_steps"]) == ("x", "SUCCESS", 1, 7)
    frames = replay["frames"]
    assert len(frames) == result.total_steps + 1
    assert [frame["frame_number"] for frame in frames] == list(range(8))
    assert frames[0]["actions"] == [None, None]
    assert frames[1]["actions"] == [0, None]
    assert frames[2]["actions"] == [None, 1]
    assert frames[-1]["done"] is True and not any(frame["done"] for frame in frames[:-1])
    assert frames[-1]["rewards"] == [1.0, -1.0]
    assert set(frames[-1]["info"]) >= {"last_action", "to_act"}


def test_pong_between_ball_trackers_is_played_to_the_end(runtime: AgentRuntime, agents_root: Path) -> None:
    left, right = _agent(agents_root, "left", BALL_TRACKER), _agent(agents_root, "right", BALL_TRACKER)
    result = run_match("pong", [left, right], seed=3, runtime=runtime)
    assert result.status == "SUCCESS", result.error_message
    assert [r.status for r in result.agent_results] == [OK, OK], [r.error_message for r in result.agent_results]
    assert sorted(r.score for r in result.agent_results) in ([0.0, 1.0], [0.5, 0.5])
    assert result.replay is not None
    frames = result.replay["frames"]
    assert len(frames) == result.total_steps + 1
    assert set(frames[-1]["info"]) == {"ball_pos", "paddle_positions", "score"}
    assert all(action in (0, 1, 2) for action in frames[1]["actions"])  # both act every step


def test_connect_four_between_reference_agents(runtime: AgentRuntime, agents_root: Path) -> None:
    first, second = _agent(agents_root, "a", FIRST_LEGAL), _agent(agents_root, "b", FIRST_LEGAL)
    result = run_match("connect-four", [first, second], seed=0, runtime=runtime, record_replay=False)
    assert result.status == "SUCCESS", result.error_message
    # Both drop into column 0 until it is full, then column 1...: the first four in a column wins.
    assert result.winner_agent_id in ("a", "b", "")
    assert [r.status for r in result.agent_results] == [OK, OK]
    assert result.replay is None
    assert result.total_steps > 0


# --- hostile agents ----------------------------------------------------------------------------


def test_an_agent_that_raises_on_import_loses_with_its_traceback(runtime: AgentRuntime, agents_root: Path) -> None:
    result = _play(runtime, agents_root, "def helper():\n    raise RuntimeError('broken at import')\n\nhelper()\n")
    _assert_bad_lost(result, ERROR)
    message = result.agent_results[1].error_message
    assert "broken at import" in message and "Traceback" in message and "helper" in message
    assert result.total_steps == 0


def test_an_agent_that_raises_mid_game_loses(runtime: AgentRuntime, agents_root: Path) -> None:
    code = FIRST_LEGAL.replace("    mask =", "    if sum(observation['action_mask']) < 7:\n        1 / 0\n    mask =")
    result = _play(runtime, agents_root, code)
    _assert_bad_lost(result, ERROR)
    assert "ZeroDivisionError" in result.agent_results[1].error_message
    assert result.total_steps == 3


def test_an_agent_in_an_infinite_loop_times_out(runtime: AgentRuntime, agents_root: Path) -> None:
    started = time.monotonic()
    result = _play(runtime, agents_root, "def agent(observation, configuration):\n    while True:\n        pass\n")
    _assert_bad_lost(result, TIMEOUT)
    assert time.monotonic() - started < 5  # 0.5 s move + 0.5 s overage, not the match clock


def test_a_slow_agent_times_out_once_the_overage_pool_is_spent(runtime: AgentRuntime, agents_root: Path) -> None:
    # 0.35 s a move against a 0.2 s move limit: 0.15 s of overage each, a 0.4 s pool lasts 2 moves.
    code = "import time\n" + FIRST_LEGAL.replace("    mask =", "    time.sleep(0.35)\n    mask =")
    result = _play(runtime, agents_root, code, move_timeout_s=0.2, overage_s=0.4)
    _assert_bad_lost(result, TIMEOUT)
    assert len(result.agent_results[1].move_times) == 2
    assert result.total_steps == 5  # X, O, X, O, then X: O's third move is the one over


@pytest.mark.parametrize("action", ["'four'", "4.0", "None", "True", "99", "0"])
def test_garbage_or_illegal_actions_are_invalid(runtime: AgentRuntime, agents_root: Path, action: str) -> None:
    # "0": the cell X just took, an illegal move.
    result = _play(runtime, agents_root, f"def agent(observation, configuration):\n    return {action}\n")
    _assert_bad_lost(result, INVALID)
    assert result.total_steps == 1


def test_numpy_style_integers_are_accepted(runtime: AgentRuntime, agents_root: Path) -> None:
    code = """
    class Index:  # what numpy.int64 offers: __index__, no int subclass
        def __init__(self, value):
            self.value = value
        def __index__(self):
            return self.value

    def agent(observation, configuration):
        return Index(observation["action_mask"].index(1))
    """
    result = _play(runtime, agents_root, code)
    assert [r.status for r in result.agent_results] == [OK, OK]


def test_megabytes_of_prints_are_capped_and_the_game_goes_on(runtime: AgentRuntime, agents_root: Path) -> None:
    code = "import sys, os\n" + FIRST_LEGAL.replace(
        "    mask =", "    print('x' * 2_000_000)\n    os.write(1, b'y' * 1_000_000)\n    mask ="
    )
    result = _play(runtime, agents_root, code)
    assert [r.status for r in result.agent_results] == [OK, OK]
    assert result.winner_agent_id == "good"  # the normal first-legal game
    stderr = result.agent_results[1].stderr
    assert stderr.startswith("x" * 1000)
    assert len(stderr) <= 10_100 and stderr.endswith("[stderr truncated]")


def test_a_memory_bomb_is_an_error(runtime: AgentRuntime, agents_root: Path) -> None:
    code = "def agent(observation, configuration):\n    hoard = [bytearray(50 * 1024 * 1024) for _ in range(100)]\n"
    result = _play(runtime, agents_root, code, memory_bytes=256 * MiB)
    _assert_bad_lost(result, ERROR)
    assert "MemoryError" in result.agent_results[1].error_message


def test_a_fork_bomb_ends_and_the_executor_stays_healthy(runtime: AgentRuntime, agents_root: Path) -> None:
    code = """
    import os

    def agent(observation, configuration):
        while True:
            try:
                os.fork()
            except OSError:
                pass
    """
    result = _play(runtime, agents_root, code, max_processes=32)
    good, bad = result.agent_results
    assert good.status == OK and bad.status in (ERROR, TIMEOUT)
    assert result.winner_agent_id == "good"
    # Healthy afterwards: a fresh match runs normally.
    (agents_root / "again").mkdir()
    again = _play(runtime, agents_root / "again", FIRST_LEGAL)
    assert [r.status for r in again.agent_results] == [OK, OK]


def test_an_agent_that_kills_its_parent_hurts_nobody(runtime: AgentRuntime, agents_root: Path) -> None:
    code = "import os, signal\n" + FIRST_LEGAL.replace(
        "    mask =",
        "    try:\n        os.kill(os.getppid(), signal.SIGKILL)\n    except OSError:\n        pass\n    mask =",
    )
    result = _play(runtime, agents_root, code)
    assert [r.status for r in result.agent_results] == [OK, OK]  # and this test process lives


def test_the_platforms_environment_is_invisible(
    runtime: AgentRuntime, agents_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RLARENA_SECRET_TEST", "hunter2")
    code = "import os\n" + FIRST_LEGAL.replace(
        "    mask =",
        "    if 'RLARENA_SECRET_TEST' in os.environ or 'hunter2' in str(os.environ):\n        return -1\n    mask =",
    )
    result = _play(runtime, agents_root, code)
    assert [r.status for r in result.agent_results] == [OK, OK], result.agent_results[1].error_message


def test_an_agent_cannot_reach_a_local_listener(runtime: AgentRuntime, agents_root: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = "import socket\n" + FIRST_LEGAL.replace(
            "    mask =",
            f"    try:\n        socket.create_connection(('127.0.0.1', {port}), timeout=0.2).close()\n"
            "        return -1\n    except OSError:\n        pass\n    mask =",
        )
        result = _play(runtime, agents_root, code)
    assert [r.status for r in result.agent_results] == [OK, OK], result.agent_results[1].error_message


def test_the_sandbox_uid_is_used_when_root(runtime: AgentRuntime, agents_root: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the uid drop only happens when the platform is root")
    low, high = uid_pool.POOL_BASE, uid_pool.POOL_BASE + uid_pool.POOL_SIZE
    code = "import os\n" + FIRST_LEGAL.replace(
        "    mask =", f"    if not {low} <= os.getuid() < {high}:\n        return -1\n    mask ="
    )
    result = _play(runtime, agents_root, code)
    assert [r.status for r in result.agent_results] == [OK, OK]
