"""The answer checker the client's platform test relies on: it finds what does not fit a type."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from tests.support.openapi_fixture import DOCUMENT, generated_module
from tests.support.typed_values import mismatches


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    return generated_module(DOCUMENT, tmp_path_factory.mktemp("generated"), "answers_fixture_api")


def agent(**changes: Any) -> dict[str, Any]:
    base = {"id": "a", "name": "bot", "elo": 1200, "wins": 0, "house": False, "description": None, "rank": None,
            "status": "active", "kind": "agent", "skill": {"mu": 25.0}}  # fmt: skip
    return {key: value for key, value in {**base, **changes}.items() if value != "<gone>"}


def test_an_answer_that_fits_has_no_mismatches(api: ModuleType) -> None:
    assert mismatches({"agents": [agent(), agent(rank=3, description="x")], "total": 2}, api.AgentList) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"name": "<gone>"}, "answer.agents[0].name: missing"),
        ({"wins": True}, "answer.agents[0].wins: True is not int"),
        ({"elo": "1200"}, "answer.agents[0].elo: '1200' is not float"),
        ({"status": "paused"}, "answer.agents[0].status: 'paused' is none of"),
        ({"rank": "first"}, "answer.agents[0].rank: 'first' is not"),
        ({"skill": {"sigma": 1.0}}, "answer.agents[0].skill.mu: missing"),
        ({"surprise": 1}, "answer.agents[0].surprise: not in Agent"),
    ],
)
def test_each_kind_of_drift_is_found_and_located(api: ModuleType, changes: dict[str, Any], problem: str) -> None:
    found = mismatches({"agents": [agent(**changes)], "total": 1}, api.AgentList)
    assert len(found) == 1 and found[0].startswith(problem), found


def test_lists_objects_and_null_are_checked_too(api: ModuleType) -> None:
    assert mismatches({"agents": {}, "total": 0}, api.AgentList) == ["answer.agents: {} is not a list"]
    assert mismatches(None, api.AgentList) == ["answer: None is not an object (AgentList)"]
    assert mismatches(None, None) == []
    assert mismatches({"a": 1, "b": "x"}, dict[str, int]) == ["answer.b: 'x' is not int"]
