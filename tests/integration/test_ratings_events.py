"""The ratings CloudEvent target: Elo applied once per match, whatever the delivery does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from sqlalchemy import func, select

from rlarena.adapters.db.models import Match, ProcessedEvent, RatingHistory
from rlarena.bootstrap import Platform
from rlarena.domain.statuses import MatchStatus
from rlarena.events.publisher import RecordingPublisher
from tests.support.api import ApiClient
from tests.support.seed import activate, insert_match

Encoder = Callable[[CloudEvent], tuple[dict[str, str], bytes]]
MODES: dict[str, Encoder] = {"binary": to_binary, "structured": to_structured}


def finished(match_id: str, a: str, b: str, winner: str | None, *, event_id: str | None = None) -> CloudEvent:
    attributes = {"type": "dev.rlarena.match.finished", "source": "/rlarena/executor"}
    if event_id:
        attributes["id"] = event_id
    scores = {a: 1.0 if winner == a else 0.5 if winner is None else 0.0}
    scores[b] = 1.0 - scores[a]
    data = {
        "matchId": match_id,
        "environmentId": "tic-tac-toe",
        "winnerId": winner,
        "agentResults": [{"agentId": a, "score": scores[a]}, {"agentId": b, "score": scores[b]}],
        "totalSteps": 7,
    }
    return CloudEvent(attributes, data)


def deliver(target: Any, event: CloudEvent, mode: str = "binary") -> Any:
    headers, body = MODES[mode](event)
    return target.post("/", headers=headers, data=body)


@pytest.fixture
def two_agents(api: ApiClient, platform: Platform) -> tuple[str, str]:
    alice, bob = api.register(), api.register()
    a, b = api.create_agent(alice)["id"], api.create_agent(bob)["id"]
    activate(platform, a)
    activate(platform, b)
    return a, b


@pytest.mark.parametrize("mode", ["binary", "structured"])
def test_a_win_moves_both_ratings_by_the_seed_formula(
    mode: str, ratings_target: Any, api: ApiClient, platform: Platform, two_agents: tuple[str, str]
) -> None:
    a, b = two_agents
    match_id = insert_match(platform, a, b)
    response = deliver(ratings_target, finished(match_id, a, b, winner=a), mode)
    assert response.status_code == 200
    winner, loser = api.get(f"/api/v1/agents/{a}").json["agent"], api.get(f"/api/v1/agents/{b}").json["agent"]
    # 1500 vs 1500, K=40: +20 / -20.
    assert (winner["elo"], winner["wins"], winner["totalMatches"]) == (1520, 1, 1)
    assert (loser["elo"], loser["losses"], loser["totalMatches"]) == (1480, 1, 1)
    with platform.uow() as uow:
        match = uow.session.get(Match, uuid.UUID(match_id))
        assert match is not None
        assert (match.status, match.agent1_elo_change, match.agent2_elo_change) == ("completed", 20, -20)
        assert match.rated_at is not None
        assert uow.session.scalar(select(func.count()).select_from(RatingHistory)) == 2


def test_a_redelivered_or_republished_result_changes_nothing(
    ratings_target: Any, api: ApiClient, platform: Platform, published: RecordingPublisher, two_agents: tuple[str, str]
) -> None:
    a, b = two_agents
    match_id = insert_match(platform, a, b)
    event = finished(match_id, a, b, winner=None, event_id="result-1")
    assert deliver(ratings_target, event).status_code == 200
    assert deliver(ratings_target, event, "structured").status_code == 200
    # The executor retried and minted a new id for the same match.
    assert deliver(ratings_target, finished(match_id, a, b, winner=a, event_id="result-2")).status_code == 200
    agents = [api.get(f"/api/v1/agents/{x}").json["agent"] for x in (a, b)]
    assert [(x["elo"], x["draws"], x["wins"], x["totalMatches"]) for x in agents] == [(1500, 1, 0, 1)] * 2
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(RatingHistory)) == 2
        assert uow.session.scalar(select(func.count()).select_from(ProcessedEvent)) == 1
    # Announced once, by the transaction that rated it (the outbox); redeliveries announce nothing.
    updates = [e for e in published.events if e["type"] == "dev.rlarena.rating.updated"]
    assert [e["id"] for e in updates] == [f"rating-updated-{match_id}"]


def test_concurrent_duplicates_rate_the_match_once(
    ratings_target: Any, api: ApiClient, platform: Platform, two_agents: tuple[str, str]
) -> None:
    a, b = two_agents
    match_id = insert_match(platform, a, b)
    event = finished(match_id, a, b, winner=b)
    headers, body = to_binary(event)

    def post(_: int) -> int:
        return int(ratings_target.post("/", headers=headers, data=body).status_code)

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(post, range(8)))
    assert statuses == [200] * 8
    assert api.get(f"/api/v1/agents/{b}").json["agent"]["elo"] == 1520
    assert api.get(f"/api/v1/agents/{a}").json["agent"]["elo"] == 1480


def test_unrated_matches_complete_without_moving_ratings(
    ratings_target: Any, api: ApiClient, platform: Platform, two_agents: tuple[str, str]
) -> None:
    a, b = two_agents
    match_id = insert_match(platform, a, b, is_rated=False)
    assert deliver(ratings_target, finished(match_id, a, b, winner=a)).status_code == 200
    assert api.get(f"/api/v1/agents/{a}").json["agent"]["elo"] == 1500
    with platform.uow() as uow:
        match = uow.session.get(Match, uuid.UUID(match_id))
        assert match is not None and match.status == "completed" and match.rated_at is None


def test_a_late_result_for_a_failed_match_is_acknowledged_and_ignored(
    ratings_target: Any, api: ApiClient, platform: Platform, two_agents: tuple[str, str]
) -> None:
    a, b = two_agents
    match_id = insert_match(platform, a, b, status=MatchStatus.FAILED)
    assert deliver(ratings_target, finished(match_id, a, b, winner=a)).status_code == 200
    assert api.get(f"/api/v1/agents/{a}").json["agent"]["elo"] == 1500


@pytest.mark.parametrize(
    "mutate",
    [
        lambda data, a, b: data.update(matchId=str(uuid.uuid4())),
        lambda data, a, b: data.update(winnerId=str(uuid.uuid4())),
        lambda data, a, b: data["agentResults"].pop(),
        lambda data, a, b: data.update(matchId="not-a-uuid"),
        lambda data, a, b: data.pop("agentResults"),
    ],
    ids=["unknown match", "stranger wins", "one result", "bad id", "no results"],
)
def test_events_that_can_never_be_processed_are_rejected_with_4xx(
    mutate: Callable[[dict[str, Any], str, str], None],
    ratings_target: Any,
    api: ApiClient,
    platform: Platform,
    two_agents: tuple[str, str],
) -> None:
    a, b = two_agents
    match_id = insert_match(platform, a, b)
    event = finished(match_id, a, b, winner=a)
    data = json.loads(json.dumps(event.get_data()))
    mutate(data, a, b)
    response = deliver(ratings_target, CloudEvent({"type": event["type"], "source": event["source"]}, data))
    assert response.status_code == 400
    assert response.json["code"] == "event_rejected"
    assert api.get(f"/api/v1/agents/{a}").json["agent"]["elo"] == 1500
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(ProcessedEvent)) == 0


def test_an_event_of_another_type_is_rejected(ratings_target: Any) -> None:
    event = CloudEvent({"type": "dev.rlarena.match.started", "source": "/rlarena/executor"}, {"matchId": "x"})
    response = deliver(ratings_target, event)
    assert response.status_code == 400
    assert "consumes dev.rlarena.match.finished" in response.json["error"]


def test_a_request_that_is_not_a_cloudevent_is_400(ratings_target: Any) -> None:
    response = ratings_target.post("/", data=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
