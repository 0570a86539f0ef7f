"""The reconciler on SQLite and PostgreSQL: open matches ended from the executor's stored results.

Each match is booked by the matchmaker and played by the real executor service (sandboxed agents)
into the platform's own object store, with a broker that refuses its announcements: the match is
open while its result is stored, as after a lost match.finished. The reconciler must rate it
exactly once (a second pass and the late announcement itself change nothing), fail one whose
stored result is an ERROR with the stored reason, and leave one without a result alone until its
deadline.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from functions_framework import create_app
from sqlalchemy import func, select

from rlarena.adapters.db.models import Agent, Match, MatchmakingQueueEntry, RatingHistory
from rlarena.bootstrap import Platform
from rlarena.domain.match_keys import result_key
from rlarena.domain.statuses import MatchStatus, QueueStatus
from rlarena.environments.registry import spec_of
from rlarena.errors import ServiceUnavailable
from rlarena.events.catalogue import EventType, MatchFinished
from rlarena.events.match_results import finished_payload
from rlarena.events.publisher import RecordingPublisher
from rlarena.executor.app import sandboxed_runner
from rlarena.executor.service import AgentEntry, ExecutorService, MatchOrder, Played, Runner
from rlarena.platform.local import _fail_lost_matches
from rlarena.sandbox.runtime_install import agent_python, install_runtime
from rlarena.service import match_lifecycle, matchmaking
from rlarena.service.match_reconciler import ResultsPlatform, complete_stored_results
from tests.conftest import ROOT
from tests.support.agent_code import readable_agents
from tests.support.postgres import free_port
from tests.support.seed import seed_arena

FIRST_LEGAL = "def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"
LAST_LEGAL = (
    "def agent(observation, configuration):\n"
    "    mask = observation['action_mask']\n"
    "    return len(mask) - 1 - mask[::-1].index(1)\n"
)
LOST = "the executor stopped while this match was open"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Broker:
    """The executor's publisher: refuses everything while down, then keeps what it is given."""

    def __init__(self) -> None:
        self.down = True
        self.events: list[CloudEvent] = []
        self.lock = threading.Lock()

    def publish(self, event: CloudEvent) -> None:
        if self.down:
            raise ServiceUnavailable("the broker is down")
        with self.lock:
            self.events.append(event)

    def wait_for(self, event_type: str, match_id: uuid.UUID, timeout: float = 30) -> CloudEvent:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for event in self.events:
                    if event["type"] == event_type and (event.get_data() or {}).get("matchId") == str(match_id):
                        return event
            time.sleep(0.02)
        raise AssertionError(f"the executor never announced {event_type} for {match_id}")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"EXECUTOR_URL": f"127.0.0.1:{free_port()}"}


@pytest.fixture
def clock(platform: Platform) -> Clock:
    clock = Clock()
    platform.clock = clock
    return clock


@pytest.fixture(scope="module")
def code() -> Iterator[dict[str, Path]]:
    with readable_agents({"first": FIRST_LEGAL, "last": LAST_LEGAL}, "rlarena-reconciler-test-") as folders:
        yield folders


@pytest.fixture(scope="module")
def real_run() -> Runner:
    return sandboxed_runner(install_runtime(agent_python(None)))


@pytest.fixture
def broker() -> Broker:
    return Broker()


@pytest.fixture
def play(
    platform: Platform, broker: Broker, code: dict[str, Path], real_run: Runner
) -> Iterator[Callable[..., dict[str, Any]]]:
    """Play a booked match on the real executor into the platform's store; returns the stored result."""
    services: list[ExecutorService] = []

    def run(match: Match, runner: Runner | None = None) -> dict[str, Any]:
        service = ExecutorService(
            runner or real_run, broker, platform.store, max_concurrent=1, version="t", flush_delays=(0.2, 0.5)
        )
        services.append(service)
        agents = (
            AgentEntry(str(match.agent1_id), code["first"], "agent.py"),
            AgentEntry(str(match.agent2_id), code["last"], "agent.py"),
        )
        service.submit(MatchOrder(str(match.id), match.environment_id, agents, seed=match.seed or 1), wait=True)
        return dict(json.loads(platform.store.get(result_key(str(match.id)))))

    yield run
    for service in services:
        service.shutdown(grace_seconds=1)


@pytest.fixture
def deliver(platform: Platform) -> Callable[[str, CloudEvent], int]:
    """A CloudEvent to a function's event target, as the broker delivers it."""
    clients = {
        name: create_app(f"{name}_events", str(ROOT / "functions" / name / "main.py")).test_client()  # type: ignore[no-untyped-call]
        for name in ("ratings", "matchmaker")
    }

    def send(function: str, event: CloudEvent) -> int:
        headers, body = to_binary(event)
        return int(clients[function].post("/", headers=headers, data=body).status_code)

    return send


def book(platform: Platform, agents: int = 2) -> list[Match]:
    seed_arena(platform, "tic-tac-toe", [1500] * agents)
    matchmaking.tick(platform, dispatch=False)
    return open_matches(platform)


def open_matches(platform: Platform) -> list[Match]:
    with platform.uow() as uow:
        return list(
            uow.session.scalars(select(Match).where(Match.status.in_(("pending", "running"))).order_by(Match.id))
        )


def match_of(platform: Platform, match_id: uuid.UUID) -> Match:
    with platform.uow() as uow:
        match = uow.session.get(Match, match_id)
        assert match is not None
        return match


def books(platform: Platform) -> dict[str, Any]:
    """Rating history rows, and each agent's Elo, record and the sum of its changes."""
    with platform.uow() as uow:
        history = uow.session.scalars(select(RatingHistory)).all()
        agents = uow.session.scalars(select(Agent)).all()
        queue = uow.session.scalars(select(MatchmakingQueueEntry)).all()
        return {
            "rows": len(history),
            "elo": {a.id: a.elo for a in agents},
            "changes": {a.id: sum(h.elo_change for h in history if h.agent_id == a.id) for a in agents},
            "records": {a.id: (a.wins, a.losses, a.draws, a.total_matches, a.rated_matches) for a in agents},
            "queue": {e.agent_id: e.status for e in queue},
        }


def published_of(platform: Platform, event_type: str, match_id: uuid.UUID) -> list[CloudEvent]:
    publisher = platform.publisher
    assert isinstance(publisher, RecordingPublisher)
    return [
        e for e in publisher.events if e["type"] == event_type and (e.get_data() or {}).get("matchId") == str(match_id)
    ]


def test_the_platform_is_what_the_reconciler_needs(platform: Platform) -> None:
    needs: ResultsPlatform = platform  # mypy checks the Protocol
    assert needs.store is not None


def test_an_open_match_whose_result_is_stored_is_rated_exactly_once(
    platform: Platform,
    clock: Clock,
    broker: Broker,
    play: Callable[..., dict[str, Any]],
    deliver: Callable[[str, CloudEvent], int],
) -> None:
    (match,) = book(platform)
    stored = play(match)  # match.finished is lost: the broker refused it
    assert stored["status"] == "SUCCESS" and stored["finished_at"]
    assert match_of(platform, match.id).status == MatchStatus.PENDING
    clock.advance(seconds=10)

    assert complete_stored_results(platform) == 1
    done = match_of(platform, match.id)
    assert done.status == MatchStatus.COMPLETED
    assert done.winner_id == (uuid.UUID(stored["winner_agent_id"]) if stored["winner_agent_id"] else None)
    scores = {r["agent_id"]: r["score"] for r in stored["agent_results"]}
    assert (done.agent1_score, done.agent2_score) == (scores[str(match.agent1_id)], scores[str(match.agent2_id)])
    assert done.replay_url == stored["replay_url"]
    assert done.completed_at is not None
    assert done.completed_at.replace(tzinfo=UTC) == datetime.fromisoformat(stored["finished_at"])
    after = books(platform)
    assert after["rows"] == 2
    for agent_id, elo in after["elo"].items():
        assert elo == 1500 + after["changes"][agent_id]
        wins, losses, draws, total, rated = after["records"][agent_id]
        assert wins + losses + draws == total == rated == 1
    assert set(after["queue"].values()) == {QueueStatus.WAITING}  # both agents may play again
    assert len(published_of(platform, EventType.RATING_UPDATED, match.id)) == 1

    # A second pass, and the reaper, change nothing.
    assert complete_stored_results(platform) == 0
    assert match_lifecycle.reap(platform).settled == 0
    assert books(platform) == after

    # The late announcement itself (the executor's spool sends it once the broker is back) is the
    # very payload the reconciler rebuilt, and rating it again changes nothing.
    broker.down = False
    late = broker.wait_for(EventType.MATCH_FINISHED, match.id)
    assert MatchFinished.model_validate(late.get_data()) == finished_payload(match.id, match.environment_id, stored)
    for _ in range(2):
        assert deliver("ratings", late) == 200
        assert deliver("matchmaker", late) == 200
    assert books(platform) == after
    assert match_of(platform, match.id).status == MatchStatus.COMPLETED
    assert len(published_of(platform, EventType.RATING_UPDATED, match.id)) == 1


def test_an_open_match_whose_stored_result_is_an_error_is_failed_with_its_reason(
    platform: Platform, clock: Clock, play: Callable[..., dict[str, Any]]
) -> None:
    (match,) = book(platform)

    def broken(order: MatchOrder) -> Played:
        raise RuntimeError("the runner broke")

    stored = play(match, broken)
    assert stored["status"] == "ERROR"
    clock.advance(seconds=10)
    assert complete_stored_results(platform) == 1
    failed = match_of(platform, match.id)
    assert failed.status == MatchStatus.FAILED
    assert failed.error_message == stored["error_message"] == "the executor failed: RuntimeError"
    announced = published_of(platform, EventType.MATCH_FAILED, match.id)
    assert [(e.get_data() or {})["errorMessage"] for e in announced] == [stored["error_message"]]
    after = books(platform)
    assert after["rows"] == 0 and set(after["elo"].values()) == {1500}
    assert set(after["queue"].values()) == {QueueStatus.WAITING}
    assert complete_stored_results(platform) == 0
    assert len(published_of(platform, EventType.MATCH_FAILED, match.id)) == 1


def test_an_open_match_without_a_stored_result_is_left_alone_until_its_deadline(
    platform: Platform, clock: Clock
) -> None:
    (match,) = book(platform)
    clock.advance(seconds=10)
    assert complete_stored_results(platform) == 0
    assert match_lifecycle.reap(platform).failed == 0
    assert match_of(platform, match.id).status == MatchStatus.PENDING
    clock.advance(seconds=spec_of("tic-tac-toe").match_timeout_s + 120)
    report = match_lifecycle.reap(platform)
    assert (report.failed, report.settled) == (1, 0)
    reaped = match_of(platform, match.id)
    assert reaped.status == MatchStatus.FAILED and reaped.error_message == match_lifecycle.MISSED_DEADLINE


def test_the_reaper_completes_an_overdue_match_whose_result_is_stored_instead_of_failing_it(
    platform: Platform, clock: Clock, play: Callable[..., dict[str, Any]]
) -> None:
    (match,) = book(platform)
    play(match)
    clock.advance(seconds=spec_of("tic-tac-toe").match_timeout_s + 600)
    report = match_lifecycle.reap(platform)
    assert (report.failed, report.settled) == (0, 1)
    assert match_of(platform, match.id).status == MatchStatus.COMPLETED
    assert books(platform)["rows"] == 2
    # The tick runs the reaper first, so a tick completes such a match too (and rates it once).
    assert matchmaking.tick(platform, dispatch=False).booked == 0  # both agents are cooling down
    assert books(platform)["rows"] == 2


def test_a_tick_skips_matches_booked_seconds_ago_but_a_gone_executor_settles_them_all(
    platform: Platform, clock: Clock, play: Callable[..., dict[str, Any]]
) -> None:
    finished, unfinished = book(platform, agents=4)
    play(finished)
    assert complete_stored_results(platform) == 0  # booked less than a few seconds ago: not read
    clock.advance(seconds=1)
    # The local platform's executor stopped: its matches end from their stored results, and only
    # the one whose game did not finish is failed.
    _fail_lost_matches(platform)
    assert match_of(platform, finished.id).status == MatchStatus.COMPLETED
    lost = match_of(platform, unfinished.id)
    assert lost.status == MatchStatus.FAILED and lost.error_message == LOST
    assert books(platform)["rows"] == 2
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Match).where(Match.status == "completed")) == 1
