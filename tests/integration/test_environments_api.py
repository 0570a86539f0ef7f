"""GET /api/v1/environments: the seeded rows with the contract's fields kept, plus the agent interface
from the same source as docs/agents.md (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rlarena.agent_docs.markdown import EXAMPLE_MARKER
from rlarena.agent_runtime.loader import LAYERS
from rlarena.environments import registry
from rlarena.environments.guide import guide_of
from rlarena.executor.runner import MatchLimits
from rlarena.house.catalogue import for_game
from rlarena.sandbox.agent_venv import listed
from tests.conftest import ROOT
from tests.support.api import ApiClient

CONTRACT_FIELDS = {"id", "name", "description", "version", "config", "createdAt"}


def _environments(api: ApiClient) -> dict[str, dict[str, Any]]:
    response = api.get("/api/v1/environments")
    assert response.status_code == 200
    return {environment["id"]: environment for environment in response.json["environments"]}


def test_every_game_keeps_the_contract_fields_and_adds_the_interface(api: ApiClient) -> None:
    environments = _environments(api)
    assert set(environments) == {spec.id for spec in registry.available()}
    for environment in environments.values():
        assert set(environment) >= CONTRACT_FIELDS
        assert {"observation", "configuration", "actions", "limits", "endConditions", "packages"} <= set(environment)


def test_chess_names_the_fields_the_runtime_sends(api: ApiClient) -> None:
    chess = _environments(api)["chess"]
    names = [field["name"] for field in chess["observation"]["fields"]]
    assert names == ["observation", "action_mask", "legal_actions", "player", "fen", "legal_moves"]
    reasons = [ending["reason"] for ending in chess["endConditions"]]
    assert reasons == [
        "checkmate", "stalemate", "insufficient material", "fifty-move rule", "threefold repetition", "move limit"
    ]  # fmt: skip
    assert chess["configuration"]["parameters"] == {"max_plies": 1000}
    assert "fen" in chess["config"]["observation"]  # the seeded snapshot is overwritten by the registry's


@pytest.mark.parametrize("game", ["tic-tac-toe", "connect-four", "chess", "pong"])
def test_limits_are_the_runner_s_and_parameters_the_documented_configuration(api: ApiClient, game: str) -> None:
    environment = _environments(api)[game]
    spec = registry.spec_of(game)
    limits = MatchLimits.from_spec(spec)
    assert environment["limits"] == {
        "moveTimeoutS": limits.move_timeout_s,
        "overageS": limits.overage_s,
        "startupTimeoutS": limits.startup_timeout_s,
        "matchTimeoutS": limits.match_timeout_s,
        "memoryBytes": 2 * 1024**3,
        "maxProcesses": limits.max_processes,
        "maxFileBytes": limits.max_file_bytes,
        "tmpBytes": limits.sandbox().tmp_bytes,
        "cpus": limits.sandbox().cpus,
        "network": False,
        "logCapChars": limits.stderr_cap_chars,
    }
    assert environment["config"]["matchTimeoutSec"] == limits.match_timeout_s
    documented = _documented_configuration(game)
    assert environment["configuration"]["parameters"] == {p.name: p.value for p in guide_of(game).parameters}
    assert set(environment["configuration"]["parameters"]) < set(documented)
    assert [field["name"] for field in environment["configuration"]["fields"]] == list(documented)
    # The curated agent runtime's list (rlarena/sandbox/agent_packages.txt), name and version.
    assert environment["packages"]["preinstalled"] == [{"name": pin.name, "version": pin.version} for pin in listed()]
    assert environment["documentation"] == f"docs/agents.md#{game}"
    compatibility = environment["compatibility"]
    assert [layer["name"] for layer in compatibility["layers"]] == list(LAYERS)
    assert compatibility["documentation"] == "docs/agents.md#coming-from-kaggle-or-the-old-rl-arena"
    assert [agent["name"] for agent in environment["houseAgents"]] == [a.reference for a in for_game(game)]


def test_pong_keeps_its_seeded_config_keys(api: ApiClient) -> None:
    pong = _environments(api)["pong"]
    assert pong["config"]["paddleHeight"] == 0.2
    assert pong["config"]["maxSteps"] == 1000
    assert pong["configuration"]["parameters"]["paddle_height"] == 0.2


def _documented_configuration(game: str) -> dict[str, Any]:
    text = (ROOT / "docs" / "agents.md").read_text(encoding="utf-8")
    for match in EXAMPLE_MARKER.finditer(text):
        if (match["game"], match["part"]) == (game, "configuration"):
            documented: dict[str, Any] = json.loads(match["json"])
            return documented
    raise AssertionError(f"no configuration example for {game} in docs/agents.md")
