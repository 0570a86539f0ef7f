"""The matchmaker on SQLite and PostgreSQL: eligibility, pairing, booking, the lifecycle, the reaper."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cloudevents.conversion import to_binary
from functions_framework import create_app
from sqlalchemy import func, select

from rlarena.adapters.db.models import Match, MatchmakingHistory, MatchmakingQueueEntry
from rlarena.bootstrap import Platform
from rlarena.domain.statuses import MatchStatus, QueueStatus
from rlarena.environments.registry import spec_of
from rlarena.events.catalogue import (
    AgentResult,
    EventType,
    MatchFailed,
    MatchFinished,
    MatchStarted,
    Source,
    make_event,
)
from rlarena.events.publisher import RecordingPublisher
from rlarena.service import match_lifecycle, matchmaking
from tests.conftest import ROOT
from tests.support.postgres import free_port
from tests.support.seed import seed_arena

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # Dispatch goes to a port where nothing listens: tests that dispatch see it fail cleanly.
    # Established agents: windows, cooldown and rematches rule their pairing (new agents'
    # placement is tests/unit/test_pairing.py's).
    return {
        "EXECUTOR_URL": f"127.0.0.1:{free_port()}",
        "EXECUTOR_DISPATCH_TIMEOUT": "2s",
        "MATCHMAKER_NEW_AGENT_GAMES": 0,
    }


@pytest.fixture
def clock(platform: Platform) -> Clock:
    clock = Clock()
    platform.clock = clock
    return clock


def open_matches(platform: Platform) -> list[Match]:
    with platform.uow() as uow:
        return list(
            uow.session.scalars(
                select(Match).where(Match.status.in_(("pending", "running"))).order_by(Match.created_at)
            )
        )


def queue(platform: Platform) -> dict[uuid.UUID, MatchmakingQueueEntry]:
    with platform.uow() as uow:
        return {e.agent_id: e for e in uow.session.scalars(select(MatchmakingQueueEntry))}


def pairs(found: list[Match]) -> set[frozenset[uuid.UUID]]:
    return {frozenset((m.agent1_id, m.agent2_id)) for m in found}


def finish_all(platform: Platform) -> None:
    """What the ratings function and the matchmaker do with each result."""
    for match in open_matches(platform):
        with platform.uow() as uow:
            stored = uow.session.get(Match, match.id)
            assert stored is not None
            stored.status = MatchStatus.COMPLETED.value
            uow.commit()
        match_lifecycle.match_ended(platform, match.id)


def test_closest_rating_inside_a_window_that_widens_with_waiting(platform: Platform, clock: Clock) -> None:
    a, b, c, d, e = seed_arena(platform, "tic-tac-toe", [1500, 1510, 1700, 1950, 2400])
    report = matchmaking.tick(platform, dispatch=False)
    assert report.booked == 1
    assert pairs(open_matches(platform)) == {frozenset((a, b))}
    entries = queue(platform)
    assert {entries[a].status, entries[b].status} == {QueueStatus.MATCHED}
    assert entries[a].match_id == entries[b].match_id == open_matches(platform)[0].id
    assert {entries[c].status, entries[d].status, entries[e].status} == {QueueStatus.WAITING}
    # 1700 and 1950 are 250 apart: after three wait intervals both windows reach +-400.
    clock.advance(seconds=59)
    assert matchmaking.tick(platform, dispatch=False).booked == 0
    clock.advance(seconds=31)
    assert matchmaking.tick(platform, dispatch=False).booked == 1
    assert frozenset((c, d)) in pairs(open_matches(platform))
    # 2400 is 450 from anyone: even the widest window (+-500) could hold it, but nobody is free.
    assert queue(platform)[e].status == QueueStatus.WAITING


def test_a_booked_match_is_pending_with_its_versions_and_a_deadline(platform: Platform, clock: Clock) -> None:
    seed_arena(platform, "connect-four", [1500, 1500])
    matchmaking.tick(platform, dispatch=False)
    (match,) = open_matches(platform)
    assert match.status == MatchStatus.PENDING
    assert match.is_rated and match.is_public
    assert match.agent1_submission_id is not None and match.agent2_submission_id is not None
    expected = clock.now + timedelta(seconds=spec_of("connect-four").match_timeout_s) + timedelta(minutes=2)
    assert match.deadline_at == expected
    with platform.uow() as uow:
        history = uow.session.scalars(select(MatchmakingHistory)).all()
    assert [(h.match_id, h.agent1_id, h.agent2_id) for h in history] == [(match.id, match.agent1_id, match.agent2_id)]


def test_every_runnable_environment_is_matched(platform: Platform, clock: Clock) -> None:
    for environment in ("tic-tac-toe", "connect-four", "chess", "pong"):
        seed_arena(platform, environment, [1500, 1500])
    report = matchmaking.tick(platform, dispatch=False)
    assert report.environments == 4
    assert sorted(m.environment_id for m in open_matches(platform)) == ["chess", "connect-four", "pong", "tic-tac-toe"]


def test_cooldown_no_immediate_rematch_and_alternating_sides(platform: Platform, clock: Clock) -> None:
    seed_arena(platform, "tic-tac-toe", [1500, 1500, 1500, 1500])
    matchmaking.tick(platform, dispatch=False)
    first_round = open_matches(platform)
    assert len(first_round) == 2
    sides = {m.agent1_id: 1 for m in first_round} | {m.agent2_id: 2 for m in first_round}
    finish_all(platform)
    clock.advance(minutes=4, seconds=59)
    assert matchmaking.tick(platform, dispatch=False).booked == 0  # everyone is cooling down
    clock.advance(seconds=1)
    assert matchmaking.tick(platform, dispatch=False).booked == 2
    second_round = open_matches(platform)
    assert not pairs(second_round) & pairs(first_round)
    for match in second_round:
        if sides[match.agent1_id] != sides[match.agent2_id]:
            assert sides[match.agent1_id] == 2, "the agent that played side 2 last time now plays side 1"


def test_the_daily_cap_holds_an_agent_back_until_a_day_has_passed(platform: Platform, clock: Clock) -> None:
    platform.settings = platform.settings.model_copy(
        update={"matchmaker_daily_cap": 1, "matchmaker_cooldown": timedelta(0)}
    )
    seed_arena(platform, "tic-tac-toe", [1500, 1500])
    assert matchmaking.tick(platform, dispatch=False).booked == 1
    finish_all(platform)
    clock.advance(hours=23)
    assert matchmaking.tick(platform, dispatch=False).booked == 0
    clock.advance(hours=1)
    assert matchmaking.tick(platform, dispatch=False).booked == 1


def test_deleted_agents_and_agents_in_manual_matches_are_not_booked(platform: Platform, clock: Clock) -> None:
    from tests.support.seed import insert_match

    a, b, c, d = seed_arena(platform, "tic-tac-toe", [1500, 1500, 1500, 1500])
    insert_match(platform, str(a), str(b), status=MatchStatus.RUNNING)  # e.g. a manual match
    with platform.uow() as uow:
        agent = uow.agents.get(d)
        assert agent is not None
        agent.deleted_at = clock.now
        uow.commit()
    assert matchmaking.tick(platform, dispatch=False).booked == 0
    assert c in queue(platform)


def test_the_reaper_fails_overdue_matches_and_frees_their_agents(
    platform: Platform, clock: Clock, published: RecordingPublisher
) -> None:
    a, b = seed_arena(platform, "tic-tac-toe", [1500, 1500])
    matchmaking.tick(platform, dispatch=False)
    (match,) = open_matches(platform)
    clock.advance(seconds=spec_of("tic-tac-toe").match_timeout_s + 119)
    assert match_lifecycle.reap(platform).failed == 0
    clock.advance(seconds=2)
    assert match_lifecycle.reap(platform).failed == 1
    with platform.uow() as uow:
        reaped = uow.session.get(Match, match.id)
        assert reaped is not None
        assert reaped.status == MatchStatus.FAILED
        assert reaped.error_message == match_lifecycle.MISSED_DEADLINE
    entries = queue(platform)
    assert entries[a].status == entries[b].status == QueueStatus.WAITING
    # A failed match costs nothing: no cooldown, and it does not count against the daily cap.
    assert entries[a].last_match_at is None and entries[a].day_count == 0
    failures = [e for e in published.events if e["type"] == EventType.MATCH_FAILED]
    assert [(e.get_data() or {})["matchId"] for e in failures] == [str(match.id)]
    assert matchmaking.tick(platform, dispatch=False).booked == 1  # play goes on at once


def test_a_failed_dispatch_fails_the_match_with_the_reason_and_requeues(platform: Platform, clock: Clock) -> None:
    a, b = seed_arena(platform, "tic-tac-toe", [1500, 1500])
    report = matchmaking.tick(platform)  # over real gRPC, to a port where nothing listens
    assert (report.booked, report.dispatched) == (1, 0)
    with platform.uow() as uow:
        (match,) = uow.session.scalars(select(Match)).all()
    assert match.status == MatchStatus.FAILED
    assert match.error_message is not None and "the executor did not take the match" in match.error_message
    assert "UNAVAILABLE" in match.error_message
    entries = queue(platform)
    assert entries[a].status == entries[b].status == QueueStatus.WAITING


def test_stuck_queue_entries_of_ended_matches_are_freed(platform: Platform, clock: Clock) -> None:
    a, b = seed_arena(platform, "tic-tac-toe", [1500, 1500])
    matchmaking.tick(platform, dispatch=False)
    (match,) = open_matches(platform)
    assert queue(platform)[b].status == QueueStatus.MATCHED
    with platform.uow() as uow:  # the match ended, but the event that should free them was lost
        stored = uow.session.get(Match, match.id)
        assert stored is not None
        stored.status = MatchStatus.COMPLETED.value
        uow.commit()
    assert match_lifecycle.reap(platform).released == 2
    assert queue(platform)[a].status == QueueStatus.WAITING


# -- the CloudEvent target --------------------------------------------------------------------


@pytest.fixture
def matchmaker_events(platform: Platform) -> Callable[[Any], Any]:
    client = create_app("matchmaker_events", str(ROOT / "functions" / "matchmaker" / "main.py")).test_client()  # type: ignore[no-untyped-call]

    def send(event: Any) -> Any:
        headers, body = to_binary(event)
        return client.post("/", headers=headers, data=body)

    return send


def test_lifecycle_events_are_idempotent_and_never_free_a_rebooked_agent(
    platform: Platform, clock: Clock, matchmaker_events: Callable[[Any], Any]
) -> None:
    platform.settings = platform.settings.model_copy(update={"matchmaker_cooldown": timedelta(0)})
    a, b = seed_arena(platform, "tic-tac-toe", [1500, 1500])
    matchmaking.tick(platform, dispatch=False)
    (match,) = open_matches(platform)
    started = make_event(
        EventType.MATCH_STARTED,
        Source.EXECUTOR,
        MatchStarted(match_id=match.id, environment_id="tic-tac-toe", agent1_id=a, agent2_id=b, started_at=clock.now),
    )
    for _ in range(2):
        assert matchmaker_events(started).status_code == 200
    assert open_matches(platform)[0].status == MatchStatus.RUNNING
    finished = make_event(
        EventType.MATCH_FINISHED,
        Source.EXECUTOR,
        MatchFinished(
            match_id=match.id,
            environment_id="tic-tac-toe",
            winner_id=a,
            agent_results=[AgentResult(agent_id=a, score=1), AgentResult(agent_id=b, score=0)],
        ),
    )
    assert matchmaker_events(finished).status_code == 200
    assert queue(platform)[a].status == QueueStatus.WAITING
    # Once the rematch interval has passed they meet again (no other opponent exists); a late
    # duplicate of the old result must not free them while the new match is pending.
    clock.advance(minutes=29)
    assert matchmaking.tick(platform, dispatch=False).booked == 0
    clock.advance(minutes=1)
    matchmaking.tick(platform, dispatch=False)
    assert queue(platform)[a].status == QueueStatus.MATCHED
    assert matchmaker_events(finished).status_code == 200
    assert queue(platform)[a].status == queue(platform)[b].status == QueueStatus.MATCHED
    # A failure announced by the executor fails the new match and frees both.
    (second,) = open_matches(platform)
    failed = make_event(
        EventType.MATCH_FAILED,
        Source.EXECUTOR,
        MatchFailed(match_id=second.id, environment_id="tic-tac-toe", error_message="the executor failed"),
    )
    for _ in range(2):
        assert matchmaker_events(failed).status_code == 200
    assert not open_matches(platform)
    assert queue(platform)[a].status == QueueStatus.WAITING


def test_a_tick_event_matches_and_an_unknown_type_is_rejected(
    platform: Platform, clock: Clock, matchmaker_events: Callable[[Any], Any]
) -> None:
    from cloudevents.http import CloudEvent

    seed_arena(platform, "tic-tac-toe", [1500, 1500])
    ping = CloudEvent(
        {"type": EventType.PING.value, "source": "/apis/v1/namespaces/rlarena/pingsources/matchmaker-tick"},
        {"reason": "matchmaking tick"},
    )
    assert matchmaker_events(ping).status_code == 200
    assert len(open_matches(platform)) == 0  # booked, and its dispatch failed (nothing listens)
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Match)) == 1
    other = CloudEvent({"type": "dev.example.unknown", "source": "/x"}, {})
    assert matchmaker_events(other).status_code == 400


# -- several replicas ---------------------------------------------------------------------------


def test_overlapping_ticks_never_book_an_agent_twice(platform: Platform, clock: Clock) -> None:
    platform.settings = platform.settings.model_copy(update={"matchmaker_cooldown": timedelta(0)})
    agents = seed_arena(platform, "tic-tac-toe", [1400 + 5 * i for i in range(60)])
    errors: list[BaseException] = []
    booked: list[int] = []

    def replica() -> None:
        try:
            for _ in range(3):
                booked.append(matchmaking.tick(platform, environment_id="tic-tac-toe", dispatch=False).booked)
        except BaseException as error:  # surfaced below
            errors.append(error)

    for _ in range(3):
        threads = [threading.Thread(target=replica) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        running = open_matches(platform)
        seen = Counter(agent for m in running for agent in (m.agent1_id, m.agent2_id))
        assert seen and max(seen.values()) == 1, "an agent is in two open matches"
        assert set(seen) <= set(agents)
        finish_all(platform)
    assert sum(booked) >= 30 * 3 - 3  # nearly everyone played every round
