"""The skill estimate beside Elo: stored with each rating, shown in agent and leaderboard JSON,
published in rating.updated, and `?sort=conservative` on the leaderboards."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select, update

from rlarena.adapters.db.models import Agent, RatingHistory
from rlarena.bootstrap import Platform
from rlarena.domain.skill import DEFAULT_MU, DEFAULT_SIGMA, Skill, rate
from rlarena.events.catalogue import AgentResult, MatchFinished
from rlarena.events.publisher import RecordingPublisher
from rlarena.service import ratings
from tests.support.api import ApiClient
from tests.support.seed import activate, play


def set_skill(platform: Platform, agent_id: str, mu: float, sigma: float, *, elo: int | None = None) -> None:
    values: dict[str, object] = {"skill_mu": mu, "skill_sigma": sigma}
    if elo is not None:
        values["elo"] = elo
    with platform.uow() as uow:
        uow.session.execute(update(Agent).where(Agent.id == uuid.UUID(agent_id)).values(**values))
        uow.commit()


@pytest.fixture
def agents_of_three(api: ApiClient, platform: Platform) -> list[str]:
    ids = []
    for name in ("ann", "bob", "cyd"):
        user = api.register(name)
        agent_id = api.create_agent(user, name=f"{name}-bot")["id"]
        activate(platform, agent_id)
        ids.append(agent_id)
    return ids


def skill_of(api: ApiClient, agent_id: str) -> dict[str, Any]:
    skill: dict[str, Any] = api.get(f"/api/v1/agents/{agent_id}").json["agent"]["skill"]
    return skill


def test_a_new_agent_shows_the_default_skill(api: ApiClient) -> None:
    agent = api.create_agent(api.register())
    assert agent["skill"] == {"mu": DEFAULT_MU, "sigma": DEFAULT_SIGMA, "conservative": DEFAULT_MU - 3 * DEFAULT_SIGMA}


def test_a_rated_match_moves_skill_with_elo_in_one_go(
    api: ApiClient, platform: Platform, agents_of_three: list[str]
) -> None:
    a, b, _ = agents_of_three
    match_id = play(platform, a, b, winner=a)
    won, lost = rate(Skill(), Skill(), 1.0)
    assert skill_of(api, a) == {"mu": won.mu, "sigma": won.sigma, "conservative": won.conservative}
    assert skill_of(api, b) == {"mu": lost.mu, "sigma": lost.sigma, "conservative": lost.conservative}
    with platform.uow() as uow:
        rows = {r.agent_id: r for r in uow.session.scalars(select(RatingHistory)).all()}
    row = rows[uuid.UUID(a)]
    assert (row.match_id, row.elo_before, row.elo_after) == (uuid.UUID(match_id), 1500, 1520)
    assert (row.skill_mu_before, row.skill_sigma_before) == (DEFAULT_MU, DEFAULT_SIGMA)
    assert (row.skill_mu_after, row.skill_sigma_after) == (won.mu, won.sigma)
    assert (rows[uuid.UUID(b)].skill_mu_after, rows[uuid.UUID(b)].skill_sigma_after) == (lost.mu, lost.sigma)


def test_skill_carries_over_from_match_to_match(api: ApiClient, platform: Platform, agents_of_three: list[str]) -> None:
    a, b, c = agents_of_three
    play(platform, a, b, winner=a)
    play(platform, a, c, winner=None)
    after_first, _ = rate(Skill(), Skill(), 1.0)
    expected, _ = rate(after_first, Skill(), 0.5)
    assert (skill_of(api, a)["mu"], skill_of(api, a)["sigma"]) == (expected.mu, expected.sigma)


def test_an_unrated_match_leaves_skill_alone(api: ApiClient, platform: Platform, agents_of_three: list[str]) -> None:
    a, b, _ = agents_of_three
    play(platform, a, b, winner=a, is_rated=False)
    assert skill_of(api, a) == skill_of(api, b) == {"mu": DEFAULT_MU, "sigma": DEFAULT_SIGMA, "conservative": 0.0}


def test_rating_updated_carries_skill_and_a_redelivery_announces_nothing_new(
    platform: Platform, published: RecordingPublisher, agents_of_three: list[str]
) -> None:
    a, b, _ = agents_of_three
    match_id = uuid.UUID(play(platform, a, b, winner=b))
    finished = MatchFinished(
        match_id=match_id,
        environment_id="tic-tac-toe",
        winner_id=uuid.UUID(b),
        agent_results=[AgentResult(agent_id=uuid.UUID(a), score=0.0), AgentResult(agent_id=uuid.UUID(b), score=1.0)],
    )
    ratings.record_result(platform, finished)
    updates: list[Any] = [e.get_data() for e in published.events if e["type"] == "dev.rlarena.rating.updated"]
    assert len(updates) == 1  # the redelivery returned the stored update and announced nothing
    again = ratings.record_result(platform, finished)
    assert again is not None and again.model_dump(mode="json", by_alias=True) == updates[0]
    lost, won = rate(Skill(), Skill(), 0.0)
    changes = {c["agentId"]: c for c in updates[0]["changes"]}
    assert changes[b]["skillMuBefore"] == DEFAULT_MU and changes[b]["skillSigmaBefore"] == DEFAULT_SIGMA
    assert (changes[b]["skillMuAfter"], changes[b]["skillSigmaAfter"]) == (won.mu, won.sigma)
    assert (changes[a]["skillMuAfter"], changes[a]["skillSigmaAfter"]) == (lost.mu, lost.sigma)


# -- leaderboards ------------------------------------------------------------------------------


@pytest.fixture
def elo_and_skill_disagree(platform: Platform, agents_of_three: list[str]) -> list[str]:
    """ann leads on Elo with an unsure estimate; cy has a sure, high one; bob is in between."""
    ann, bob, cy = agents_of_three
    set_skill(platform, ann, 30.0, 8.0, elo=1700)  # conservative 6
    set_skill(platform, bob, 28.0, 4.0, elo=1600)  # conservative 16
    set_skill(platform, cy, 27.0, 2.0, elo=1500)  # conservative 21
    return agents_of_three


@pytest.mark.parametrize("path", ["/api/v1/leaderboard", "/api/v1/leaderboard/environment/tic-tac-toe"])
def test_the_leaderboard_stays_in_elo_order_by_default(
    api: ApiClient, path: str, elo_and_skill_disagree: list[str]
) -> None:
    for query in ("", "?sort=elo"):
        board = api.get(path + query).json["leaderboard"]
        assert [row["id"] for row in board] == elo_and_skill_disagree
        assert [row["rank"] for row in board] == [1, 2, 3]


@pytest.mark.parametrize("path", ["/api/v1/leaderboard", "/api/v1/leaderboard/environment/tic-tac-toe"])
def test_sort_conservative_orders_by_mu_minus_three_sigma(
    api: ApiClient, path: str, elo_and_skill_disagree: list[str]
) -> None:
    response = api.get(path + "?sort=conservative")
    assert response.status_code == 200
    board = response.json["leaderboard"]
    assert [row["id"] for row in board] == list(reversed(elo_and_skill_disagree))
    assert [row["skill"]["conservative"] for row in board] == [21.0, 16.0, 6.0]
    assert [row["rank"] for row in board] == [1, 2, 3]
    assert response.json["total"] == 3


def test_conservative_ranks_share_ties_across_pages(
    api: ApiClient, platform: Platform, elo_and_skill_disagree: list[str]
) -> None:
    ann, bob, cy = elo_and_skill_disagree
    set_skill(platform, bob, 27.0, 2.0)  # ties with cy on 21
    first = api.get("/api/v1/leaderboard?sort=conservative&limit=1").json
    second = api.get("/api/v1/leaderboard?sort=conservative&limit=1&page=2").json
    third = api.get("/api/v1/leaderboard?sort=conservative&limit=1&page=3").json
    # Equal conservative scores: the higher Elo (bob, 1600) first, both ranked 1, then ann third.
    assert [p["leaderboard"][0]["id"] for p in (first, second, third)] == [bob, cy, ann]
    assert [p["leaderboard"][0]["rank"] for p in (first, second, third)] == [1, 1, 3]
    assert api.get("/api/v1/leaderboard?sort=conservative&page=9").json == {"leaderboard": [], "total": 3}


def test_unranked_agents_stay_off_the_conservative_leaderboard(
    api: ApiClient, platform: Platform, elo_and_skill_disagree: list[str]
) -> None:
    inactive = api.create_agent(api.register(), name="no-code")["id"]
    set_skill(platform, inactive, 50.0, 1.0)
    ids = [row["id"] for row in api.get("/api/v1/leaderboard?sort=conservative").json["leaderboard"]]
    assert inactive not in ids and len(ids) == 3


@pytest.mark.parametrize("value", ["mu", "ELO ", "", "conservative;drop"])
def test_an_unknown_sort_is_400_naming_the_allowed_values(api: ApiClient, value: str) -> None:
    for path in ("/api/v1/leaderboard", "/api/v1/leaderboard/environment/tic-tac-toe"):
        response = api.get(path, query_string={"sort": value})
        assert response.status_code == 400
        assert response.json["code"] == "invalid_input"
        assert "'elo'" in response.json["error"] and "'conservative'" in response.json["error"]


def test_an_unknown_environment_is_still_404_when_sorted(api: ApiClient) -> None:
    assert api.get("/api/v1/leaderboard/environment/go?sort=conservative").status_code == 404
