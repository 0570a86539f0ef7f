"""docs/agents.md's examples, executed: for each game, an agent in the real sandbox, driven by the
match runner, plays the documented actions from the documented seed and prints what it receives at
the documented step; that is exactly the documented observation and configuration.

The agent is written here on its own (stdlib only, as agents are), elisions included, so it checks
the generator rather than repeating it.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rlarena.executor.runner import MATCH_SUCCESS, AgentSpec, run_match
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime
from tests.conftest import ROOT

DOC = ROOT / "docs" / "agents.md"
# Kept apart from the generator's own pattern on purpose: this reads the file as a reader would.
MARKER = re.compile(
    r"<!-- example (?P<game>[a-z-]+) (?P<part>observation|configuration) seed=(?P<seed>\d+) "
    r"actions=(?P<actions>\S+) step=(?P<step>\d+) player=(?P<player>\d) -->\n```json\n(?P<json>.*?)\n```",
    re.S,
)
ELIDED = re.compile(r'"<\d+(?:x\d+)* values, sha256 [0-9a-f]{12}>"')

RECORDER = """
import hashlib
import json
import sys

ACTIONS = {actions}
STEP = {step}
PLAYER = {player}


def _shape(value):
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        value = value[0] if value else None
    return shape


def _elided(value):
    digest = hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()[:12]
    return "<%s values, sha256 %s>" % ("x".join(str(n) for n in _shape(value)), digest)


def agent(observation, configuration):
    step, me = configuration["step"], configuration["player"]
    if step < STEP:
        actions = ACTIONS[step]
        return actions[0] if len(actions) == 1 else actions[me]
    if me == PLAYER:
        shown = {{key: _elided(value) if key in {elided} else value for key, value in observation.items()}}
        print("RECEIVED " + json.dumps({{"observation": shown, "configuration": configuration}}), file=sys.stderr)
    raise RuntimeError("the example is taken")
"""


@dataclass(frozen=True)
class DocumentedExample:
    game: str
    seed: int
    actions: list[list[int]]
    step: int
    player: int
    observation: dict[str, Any]
    configuration: dict[str, Any]
    elided: list[str]


def _documented() -> dict[str, DocumentedExample]:
    parts: dict[str, dict[str, Any]] = {}
    for match in MARKER.finditer(DOC.read_text(encoding="utf-8")):
        entry = parts.setdefault(match["game"], {})
        entry[match["part"]] = json.loads(match["json"])
        entry["elided"] = entry.get("elided", []) + [
            key for key in re.findall(r'"(\w+)": ' + ELIDED.pattern, match["json"])
        ]
        entry["header"] = (int(match["seed"]), json.loads(match["actions"]), int(match["step"]), int(match["player"]))
    examples = {}
    for game, entry in parts.items():
        seed, actions, step, player = entry["header"]
        examples[game] = DocumentedExample(
            game, seed, actions, step, player, entry["observation"], entry["configuration"], entry["elided"]
        )
    return examples


DOCUMENTED = _documented()


@pytest.fixture(scope="module")
def runtime() -> AgentRuntime:
    return install_runtime(agent_python(None))


@pytest.fixture
def agent_folder() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-example-agent-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_doc_has_an_example_for_every_game() -> None:
    assert set(DOCUMENTED) == {"tic-tac-toe", "connect-four", "chess", "pong"}
    assert DOCUMENTED["chess"].elided == ["observation", "action_mask"]


@pytest.mark.parametrize("game", sorted(DOCUMENTED))
def test_an_agent_in_the_sandbox_receives_the_documented_example(
    game: str, runtime: AgentRuntime, agent_folder: Path
) -> None:
    example = DOCUMENTED[game]
    code = RECORDER.format(actions=example.actions, step=example.step, player=example.player, elided=example.elided)
    (agent_folder / "main.py").write_text(code)
    played = run_match(
        game,
        [AgentSpec("first", agent_folder, "main.py"), AgentSpec("second", agent_folder, "main.py")],
        seed=example.seed,
        runtime=runtime,
        record_replay=False,
    )
    assert played.status == MATCH_SUCCESS, played.error_message
    assert played.total_steps == example.step  # the documented actions were all legal and played
    recorder = played.agent_results[example.player]
    lines = [line for line in recorder.stderr.splitlines() if line.startswith("RECEIVED ")]
    assert len(lines) == 1, recorder.stderr + recorder.error_message
    received = json.loads(lines[0].removeprefix("RECEIVED "))
    assert received["observation"] == example.observation
    assert received["configuration"] == example.configuration
    assert received["configuration"]["step"] == example.step
    assert received["configuration"]["player"] == example.player


def test_a_bulky_field_is_elided_by_its_shape_and_digest_only_in_the_doc() -> None:
    chess = DOCUMENTED["chess"]
    assert chess.observation["observation"].startswith("<8x8x111 values, sha256 ")
    assert chess.observation["action_mask"].startswith("<4672 values, sha256 ")
    assert chess.observation["legal_moves"][0] == "a7a6" and len(chess.observation["legal_moves"]) == len(
        chess.observation["legal_actions"]
    )
