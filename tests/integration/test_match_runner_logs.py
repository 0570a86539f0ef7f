"""Each agent's stderr, line by line, attached to the replay frame it was printed for (real sandboxes).

Frame 0 is the position after reset (start-up output belongs to it); frame n follows step n, so a
line an agent prints while choosing its move at step s belongs to frame s + 1.
"""

from __future__ import annotations

import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlarena.domain.log_lines import frame_lines
from rlarena.executor.runner import OK, AgentSpec, MatchLimits, run_match
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime

# Prints at load time, then "turn N" (N the step it moves at) each move; one line with a character
# beyond ASCII so that the offsets are counted in characters, not bytes.
CHATTY = """
import sys
print("loading", file=sys.stderr)

def agent(observation, configuration):
    step = configuration["step"]
    print("turn", step)  # an agent's stdout is its captured stderr too
    print(f"h\\u00e9 \\u2713 {step}", file=sys.stderr)
    return observation["action_mask"].index(1)
"""


@pytest.fixture(scope="module")
def runtime() -> AgentRuntime:
    return install_runtime(agent_python(None))


@pytest.fixture
def agents_root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-logs-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _agent(root: Path, name: str) -> AgentSpec:
    folder = root / name
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(CHATTY))
    return AgentSpec(name, folder, "main.py")


def test_each_line_is_attached_to_the_frame_of_its_move(runtime: AgentRuntime, agents_root: Path) -> None:
    limits = MatchLimits(move_timeout_s=5.0, overage_s=5.0, startup_timeout_s=20.0, match_timeout_s=60.0)
    agents = [_agent(agents_root, "first"), _agent(agents_root, "second")]
    result = run_match("tic-tac-toe", agents, 7, runtime, limits=limits)
    assert result.status == "SUCCESS" and result.replay is not None, result.error_message
    frames = result.replay["frames"]
    assert [agent.status for agent in result.agent_results] == [OK, OK]
    for player, agent in enumerate(result.agent_results):
        assert len(agent.stderr_offsets) == len(frames), (agent.stderr_offsets, len(frames))
        lines = frame_lines(agent.stderr, agent.stderr_offsets)
        assert lines[0] == {"frame": 0, "text": "loading"}
        # The steps this player moved at: those whose next frame carries its action.
        moved = [n - 1 for n in range(1, len(frames)) if frames[n]["actions"][player] is not None]
        assert moved, frames
        expected = [{"frame": 0, "text": "loading"}]
        for step in moved:
            expected += [{"frame": step + 1, "text": f"turn {step}"}, {"frame": step + 1, "text": f"hé ✓ {step}"}]
        # print() to stdout is flushed after the move, stderr at once: within a frame either order.
        assert sorted(lines, key=_order) == sorted(expected, key=_order), (player, agent.stderr, agent.stderr_offsets)


def _order(line: dict[str, object]) -> tuple[int, str]:
    frame = line["frame"]
    return (frame if isinstance(frame, int) else -1, str(line["text"]))


def test_lines_without_offsets_have_no_frame_and_late_lines_go_to_the_last_frame() -> None:
    assert frame_lines("a\nb\n", []) == [{"frame": None, "text": "a"}, {"frame": None, "text": "b"}]
    text = "start\nx\n\ny\nafter the end\n"
    offsets = [6, 8, 11]  # frame 0: "start"; frame 1: "x"; frame 2: "" and "y"
    assert frame_lines(text, offsets) == [
        {"frame": 0, "text": "start"},
        {"frame": 1, "text": "x"},
        {"frame": 2, "text": "y"},
        {"frame": 2, "text": "after the end"},
    ]
