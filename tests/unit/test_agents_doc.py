"""docs/agents.md is what the generator renders from the games' guides, and the guides tell the truth
about the games (their parameters, boards and endings checked against the real environments)."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rlarena.agent_docs import examples
from rlarena.agent_docs.markdown import EXAMPLE_MARKER, SAMPLE_AGENT, render
from rlarena.cli import AUTHOR_COMMANDS
from rlarena.config import Settings
from rlarena.environments import pong, registry
from rlarena.environments.board_games import Chess
from rlarena.environments.guide import AGENT_PYTHON_VERSION, GUIDES, Guide, guide_of
from rlarena.executor.runner import MatchLimits
from rlarena.house.catalogue import HOUSE_AGENTS
from rlarena.sandbox.runtime_install import SYSTEM_PYTHON
from tests.conftest import ROOT
from tests.support.readme import readme_sample_agent

DOC = ROOT / "docs" / "agents.md"


def test_docs_agents_md_is_the_generated_text() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "docs/agents.md is stale: run python -m rlarena.agent_docs"


def test_the_generator_checks_and_writes_the_file(tmp_path: Path) -> None:
    stale = tmp_path / "agents.md"
    stale.write_text("old\n")
    check = [sys.executable, "-m", "rlarena.agent_docs", "--check", str(stale)]
    refused = subprocess.run(check, capture_output=True, text=True, check=False)
    assert refused.returncode == 1
    assert "stale" in refused.stderr
    written = subprocess.run([*check[:3], str(stale)], capture_output=True, text=True, check=False)
    assert written.returncode == 0, written.stderr
    assert stale.read_text() == DOC.read_text(encoding="utf-8")
    assert subprocess.run(check, capture_output=True, check=False).returncode == 0


def test_every_registered_game_has_a_guide_and_every_guide_a_game() -> None:
    assert [guide.environment_id for guide in GUIDES] == [spec.id for spec in registry.available()]


def test_the_doc_shows_an_observation_and_a_configuration_for_every_game() -> None:
    found = {(m["game"], m["part"]) for m in EXAMPLE_MARKER.finditer(DOC.read_text(encoding="utf-8"))}
    assert found == {(guide.environment_id, part) for guide in GUIDES for part in ("observation", "configuration")}


@pytest.mark.parametrize("guide", GUIDES, ids=lambda guide: guide.environment_id)
def test_each_observation_field_is_documented_and_nothing_more(guide: Guide) -> None:
    played = examples.play_example(guide)
    assert list(played.observation) == [field.name for field in guide.observation]


@pytest.mark.parametrize("game", ["tic-tac-toe", "connect-four"])
def test_grid_parameters_match_the_board_the_agent_gets(game: str) -> None:
    played = examples.play_example(guide_of(game))
    board, planes = played.observation["board"], played.observation["observation"]
    rows, columns = played.configuration["rows"], played.configuration["columns"]
    assert (len(board), len(board[0])) == (rows, columns)
    assert len(played.observation["action_mask"]) == rows * columns if game == "tic-tac-toe" else columns
    assert sorted((len(planes), len(planes[0]))) == sorted((rows, columns))


@pytest.mark.parametrize(("game", "moves"), [("tic-tac-toe", [0, 1, 3, 4, 6]), ("connect-four", [0, 1, 0, 1, 0, 1, 0])])
def test_a_line_of_inarow_wins_with_the_first_documented_reason(game: str, moves: list[int]) -> None:
    inarow = {p.name: p.value for p in guide_of(game).parameters}["inarow"]
    assert isinstance(inarow, int)
    assert len(moves) == 2 * inarow - 1  # player 0's inarow-th piece completes the line
    environment = registry.create(game)
    environment.reset(0)
    for move in moves:
        environment.step({environment.to_act()[0]: move})
    assert environment.outcome().winner == 0
    assert environment.outcome().reason == guide_of(game).endings[0].reason


def test_chess_endings_cover_every_reason_the_game_gives() -> None:
    documented = {ending.reason for ending in guide_of("chess").endings}
    chess = registry.create("chess")
    assert isinstance(chess, Chess)
    assert guide_of("chess").parameters[0].value == chess.spec.max_steps
    # Fool's mate: the shortest checkmate.
    chess.reset(0)
    for uci in ("f2f3", "e7e5", "g2g4", "d8h4"):
        chess.step({chess.to_act()[0]: chess.action_of(uci)})
    assert chess.outcome().reason == "checkmate"
    # Knights back and forth: a threefold repetition, claimed as soon as a move can reach it.
    chess.reset(0)
    cycle = ["g1f3", "g8f6", "f3g1", "f6g8"] * 3
    while not chess.done():
        chess.step({chess.to_act()[0]: chess.action_of(cycle[chess.steps])})
    assert chess.outcome().reason == "threefold repetition"
    assert {"checkmate", "threefold repetition", "stalemate", "insufficient material", "fifty-move rule"} <= documented
    assert "move limit" in documented


def test_pong_parameters_are_the_game_s_own() -> None:
    parameters = {p.name: p.value for p in guide_of("pong").parameters}
    assert parameters["paddle_height"] == pong.PADDLE_HEIGHT
    assert parameters["paddle_speed"] == pong.PADDLE_SPEED
    assert parameters["paddle_x"] == list(pong.PADDLE_X)
    assert parameters["ball_radius"] == pong.BALL_RADIUS
    assert parameters["ball_speed"] == pong.BALL_SPEED
    assert parameters["points_to_win"] == pong.POINTS_TO_WIN
    assert {ending.reason for ending in guide_of("pong").endings} == {f"{pong.POINTS_TO_WIN} points", "step limit"}


def test_the_documented_limits_are_the_runner_s() -> None:
    text = DOC.read_text(encoding="utf-8")
    for spec in registry.available():
        limits = MatchLimits.from_spec(spec)
        row = f"| {spec.name} | {limits.move_timeout_s:g} s | {limits.overage_s:g} s | {limits.startup_timeout_s:g} s |"
        assert row in text
    sandbox = MatchLimits.from_spec(registry.spec_of("chess")).sandbox()
    assert sandbox.memory_bytes == 2 * 1024**3 and "memory: 2 GiB" in text
    assert f"processes and threads: {sandbox.max_processes};" in text


def test_the_documented_python_is_the_one_agents_run_on() -> None:
    version = subprocess.run(
        [str(SYSTEM_PYTHON), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == AGENT_PYTHON_VERSION
    assert Settings.model_fields["agent_base_image"].default == f"python:{AGENT_PYTHON_VERSION}-slim"
    assert f"Python {AGENT_PYTHON_VERSION} with its standard library and the agent runtime" in DOC.read_text()


def test_an_elision_names_the_shape_and_digest_of_the_compact_json() -> None:
    value = [[[0, 1]] * 3] * 2
    digest = hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()[:12]
    assert examples.elision(value) == f"<2x3x2 values, sha256 {digest}>"
    assert examples.shown({"a": value, "b": 1}, ("a",)) == {"a": examples.elision(value), "b": 1}


def test_the_doc_shows_the_readme_s_sample_agent() -> None:
    code, environment = readme_sample_agent()
    assert code.rstrip("\n") == SAMPLE_AGENT
    assert f"```python\n{SAMPLE_AGENT}\n```" in DOC.read_text(encoding="utf-8")
    assert environment == "tic-tac-toe"


def test_the_commands_the_doc_shows_are_the_cli_s_and_the_house_agents_the_catalogue_s() -> None:
    text = DOC.read_text(encoding="utf-8")
    shown = set(re.findall(r"^rlarena (\w+) ", text, re.M))
    assert shown == {"new", "validate", "play", "compare"}
    assert shown <= set(AUTHOR_COMMANDS)
    for agent in HOUSE_AGENTS:
        assert f"`{agent.reference}`: {agent.description}" in text
