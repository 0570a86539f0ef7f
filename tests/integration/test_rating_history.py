"""GET /api/v1/agents/:id/rating-history: one row per rated match, newest first, paginated."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rlarena.bootstrap import Platform
from rlarena.domain.skill import DEFAULT_MU, DEFAULT_SIGMA, Skill, rate
from tests.support.api import ApiClient, User
from tests.support.seed import activate, play

START = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
def ticking_clock(platform: Platform, players: tuple[User, str, str]) -> Iterator[None]:
    """Each reading a minute after the last, so createdAt values are known and distinct (set
    after the players registered: their tokens are checked against the real time)."""
    minutes = itertools.count()
    platform.clock = lambda: START + timedelta(minutes=next(minutes))
    yield


@pytest.fixture
def players(api: ApiClient, platform: Platform) -> tuple[User, str, str]:
    owner, rival = api.register(), api.register()
    a, b = api.create_agent(owner)["id"], api.create_agent(rival)["id"]
    activate(platform, a)
    activate(platform, b)
    return owner, a, b


def history(api: ApiClient, agent_id: str, query: str = "") -> dict[str, Any]:
    response = api.get(f"/api/v1/agents/{agent_id}/rating-history{query}")
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json
    return body


def test_an_agent_that_never_played_has_an_empty_history(api: ApiClient, players: tuple[User, str, str]) -> None:
    _, a, _ = players
    assert history(api, a) == {"agentId": a, "history": [], "total": 0, "page": 1, "pageSize": 20}


@pytest.mark.usefixtures("ticking_clock")
def test_the_history_lists_each_rated_match_newest_first(
    api: ApiClient, platform: Platform, players: tuple[User, str, str]
) -> None:
    _, a, b = players
    first = play(platform, a, b, winner=a)
    second = play(platform, a, b, winner=None)
    third = play(platform, b, a, winner=b)
    play(platform, a, b, winner=a, is_rated=False)  # an unrated match is not in the history
    body = history(api, a)
    rows = body["history"]
    assert body["total"] == 3
    assert [r["matchId"] for r in rows] == [third, second, first]
    # 1500 -> 1520 (win), 1520 -> 1518 (draw against 1480), then a loss.
    assert [(r["eloBefore"], r["eloAfter"], r["eloChange"]) for r in reversed(rows)][:2] == [
        (1500, 1520, 20),
        (1520, 1518, -2),
    ]
    assert all(newer["eloBefore"] == older["eloAfter"] for newer, older in itertools.pairwise(rows))
    assert rows[0]["eloAfter"] == api.get(f"/api/v1/agents/{a}").json["agent"]["elo"]
    assert [r["createdAt"] for r in rows] == ["2026-11-24T09:02:00Z", "2026-11-24T09:01:00Z", "2026-11-24T09:00:00Z"]


def test_each_row_carries_the_skill_before_and_after(
    api: ApiClient, platform: Platform, players: tuple[User, str, str]
) -> None:
    _, a, b = players
    play(platform, a, b, winner=a)
    (row,) = history(api, a)["history"]
    won, _ = rate(Skill(), Skill(), 1.0)
    assert row["skillBefore"] == {
        "mu": DEFAULT_MU,
        "sigma": DEFAULT_SIGMA,
        "conservative": DEFAULT_MU - 3 * DEFAULT_SIGMA,
    }
    assert row["skill"] == {"mu": won.mu, "sigma": won.sigma, "conservative": won.conservative}
    assert row["skill"] == api.get(f"/api/v1/agents/{a}").json["agent"]["skill"]


@pytest.mark.usefixtures("ticking_clock")
def test_the_history_is_paginated_with_the_real_total(
    api: ApiClient, platform: Platform, players: tuple[User, str, str]
) -> None:
    _, a, b = players
    matches = [play(platform, a, b, winner=a) for _ in range(5)]
    pages = [history(api, a, f"?page={page}&pageSize=2") for page in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5] * 4
    assert [p["pageSize"] for p in pages] == [2] * 4
    ids = [r["matchId"] for p in pages for r in p["history"]]
    assert ids == list(reversed(matches))
    assert pages[3]["history"] == []
    assert len(history(api, a, "?pageSize=1000")["history"]) == 5


def test_an_unknown_or_deleted_agent_is_404(api: ApiClient, players: tuple[User, str, str]) -> None:
    owner, a, _ = players
    unknown = api.get(f"/api/v1/agents/{uuid.uuid4()}/rating-history")
    assert (unknown.status_code, unknown.json["code"]) == (404, "not_found")
    assert api.delete(f"/api/v1/agents/{a}", headers=owner.headers).status_code == 200
    assert api.get(f"/api/v1/agents/{a}/rating-history").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/agents/not-a-uuid/rating-history",
        "/api/v1/agents/{a}/rating-history?page=0",
        "/api/v1/agents/{a}/rating-history?pageSize=abc",
        "/api/v1/agents/{a}/rating-history?page=%00",
    ],
)
def test_bad_ids_and_paging_are_400(api: ApiClient, players: tuple[User, str, str], path: str) -> None:
    _, a, _ = players
    response = api.get(path.format(a=a))
    assert response.status_code == 400
    assert response.json["code"] == "invalid_input"


def test_only_get_is_allowed(api: ApiClient, players: tuple[User, str, str]) -> None:
    owner, a, _ = players
    response = api.post(f"/api/v1/agents/{a}/rating-history", json={}, headers=owner.headers)
    assert response.status_code == 405
