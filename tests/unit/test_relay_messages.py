"""Which messages each platform event becomes, who receives them, and what the router lets through."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cloudevents.http import CloudEvent

from rlarena.errors import EventRejected, ServiceUnavailable
from rlarena.events.catalogue import (
    EventType,
    MatchFailed,
    MatchFinished,
    MatchStarted,
    Source,
    make_event,
)
from rlarena.relay.messages import Outbound, messages_for, read
from rlarena.relay.router import Router
from tests.support.relay import FakeDirectory, build_event, rating_updated, scheduled


def translate(event: CloudEvent, directory: FakeDirectory | None = None) -> list[Outbound]:
    return messages_for(read(event), directory or FakeDirectory())


# --- builds -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "status"),
    [
        (EventType.SUBMISSION_UPLOADED, "pending"),
        (EventType.BUILD_STARTED, "building"),
        (EventType.BUILD_SUCCEEDED, "active"),
        (EventType.BUILD_FAILED, "failed"),
    ],
)
def test_every_build_event_is_a_build_status_for_the_owner_only(event_type: EventType, status: str) -> None:
    owner = uuid.uuid4()
    event = build_event(event_type, user_id=owner, status=status)

    status_message = translate(event)[0]

    assert status_message.type == "build_status"
    assert status_message.users == {owner}
    assert status_message.channels == frozenset()
    assert status_message.payload["status"] == status
    assert set(status_message.payload) == {"submissionId", "agentId", "version", "status", "message", "imageUrl"}


def test_a_successful_build_carries_the_image_and_a_failed_one_its_error() -> None:
    succeeded = translate(build_event(EventType.BUILD_SUCCEEDED, status="active"))[0]
    failed = translate(build_event(EventType.BUILD_FAILED, status="failed", message=None))[0]

    assert succeeded.payload["imageUrl"] == "registry/agent:v1"
    assert failed.payload["imageUrl"] is None
    assert failed.payload["message"] == "agent.py line 3: SyntaxError"


def test_a_version_becoming_active_also_updates_its_environments_leaderboard() -> None:
    active = translate(build_event(EventType.BUILD_SUCCEEDED, status="active"))
    inactive = translate(build_event(EventType.BUILD_SUCCEEDED, status="inactive"))

    assert [m.type for m in active] == ["build_status", "leaderboard_update"]
    assert active[1].channels == {"leaderboard:pong"}
    assert active[1].users == frozenset()
    assert [m.type for m in inactive] == ["build_status"]


def test_build_events_need_no_database_lookup() -> None:
    directory = FakeDirectory()

    translate(build_event(), directory)

    assert directory.lookups == 0


# --- matches ----------------------------------------------------------------------------------------


def test_a_scheduled_match_is_created_for_both_owners_and_both_agents_channels() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    match_id = uuid.uuid4()
    directory.matches[match_id] = facts

    (created,) = translate(scheduled(facts, match_id), directory)

    assert created.type == "match_created"
    assert created.users == {facts.owner1_id, facts.owner2_id}
    assert created.channels == {f"agent:{facts.agent1_id}", f"agent:{facts.agent2_id}"}
    assert created.payload["matchId"] == str(match_id)
    assert created.payload["status"] == "pending"


def test_a_private_match_goes_to_its_owners_but_to_no_public_channel() -> None:
    directory = FakeDirectory()
    facts = directory.add_match(public=False)
    match_id = uuid.uuid4()
    directory.matches[match_id] = facts

    (created,) = translate(scheduled(facts, match_id), directory)

    assert created.users == {facts.owner1_id, facts.owner2_id}
    assert created.channels == frozenset()


def test_a_match_not_in_the_database_still_reaches_the_owners_of_the_agents_the_event_names() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()

    (created,) = translate(scheduled(facts), directory)

    assert created.users == {facts.owner1_id, facts.owner2_id}
    assert created.channels == frozenset()  # whether anyone may watch is unknown: nobody does


def test_a_started_match_says_when() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    match_id = uuid.uuid4()
    directory.matches[match_id] = facts
    payload = MatchStarted(
        match_id=match_id,
        environment_id="pong",
        agent1_id=facts.agent1_id,
        agent2_id=facts.agent2_id,
        started_at=datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
    )

    (started,) = translate(make_event(EventType.MATCH_STARTED, Source.EXECUTOR, payload), directory)

    assert started.type == "match_started"
    assert started.payload["startedAt"] == "2026-11-24T12:00:00Z"
    assert started.users == {facts.owner1_id, facts.owner2_id}


def test_a_failed_match_names_its_players_from_the_database() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    match_id = uuid.uuid4()
    directory.matches[match_id] = facts
    payload = MatchFailed(match_id=match_id, environment_id="pong", error_message="the executor is unreachable")

    (failed,) = translate(make_event(EventType.MATCH_FAILED, Source.MATCHMAKER, payload), directory)

    assert failed.type == "match_failed"
    assert failed.users == {facts.owner1_id, facts.owner2_id}
    assert failed.payload["agent1Id"] == str(facts.agent1_id)
    assert failed.payload["errorMessage"] == "the executor is unreachable"


def test_a_rated_match_completes_with_scores_elo_changes_and_the_replay_url() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    match_id = uuid.uuid4()
    directory.matches[match_id] = facts

    completed, leaderboard = translate(rating_updated(facts, match_id), directory)

    assert completed.type == "match_completed"
    assert completed.users == {facts.owner1_id, facts.owner2_id}
    assert completed.channels == {f"agent:{facts.agent1_id}", f"agent:{facts.agent2_id}"}
    body = completed.payload
    assert (body["agent1Score"], body["agent2Score"]) == (1.0, 0.0)
    assert (body["agent1EloChange"], body["agent2EloChange"]) == (20, -20)
    assert body["winnerId"] == str(facts.agent1_id)
    assert body["replayUrl"] == f"/api/v1/matches/{match_id}/replay"
    assert body["eloChanges"][1] == {
        "agentId": str(facts.agent2_id),
        "eloBefore": 1500,
        "eloAfter": 1480,
        "eloChange": -20,
    }
    assert leaderboard.type == "leaderboard_update"
    assert leaderboard.channels == {"leaderboard:pong"}
    assert leaderboard.payload["changes"] == body["eloChanges"]


def test_an_unrated_match_completes_for_its_owners_without_a_leaderboard_update() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    match_id = uuid.uuid4()
    directory.matches[match_id] = facts

    (completed,) = translate(rating_updated(facts, match_id, rated=False), directory)

    assert completed.users == {facts.owner1_id, facts.owner2_id}
    assert completed.payload["isRated"] is False
    assert completed.payload["eloChanges"] == []


# --- what is refused ------------------------------------------------------------------------------


def test_an_event_type_the_relay_does_not_relay_is_rejected() -> None:
    payload = MatchFinished(match_id=uuid.uuid4(), environment_id="pong", winner_id=None, agent_results=[])

    with pytest.raises(EventRejected, match="does not relay"):
        read(make_event(EventType.MATCH_FINISHED, Source.EXECUTOR, payload))


def test_an_event_with_a_payload_that_does_not_fit_its_type_is_rejected() -> None:
    event = CloudEvent({"type": EventType.BUILD_STARTED.value, "source": "/rlarena/builder"}, {"status": "building"})

    with pytest.raises(EventRejected, match="invalid payload"):
        read(event)


# --- the router -------------------------------------------------------------------------------------


def test_a_redelivered_event_is_relayed_once() -> None:
    router = Router(FakeDirectory())
    event = build_event(event_id="build-started-1")

    assert len(router.route(event)) == 1
    assert router.route(event) == []


def test_an_older_status_arriving_after_a_newer_one_is_dropped() -> None:
    router = Router(FakeDirectory())
    submission = uuid.uuid4()
    now = datetime.now(UTC)
    started = build_event(EventType.BUILD_STARTED, submission_id=submission, time=now)
    succeeded = build_event(
        EventType.BUILD_SUCCEEDED, submission_id=submission, status="active", time=now + timedelta(1)
    )

    assert router.route(succeeded)
    assert router.route(started) == []


def test_staleness_is_judged_per_submission() -> None:
    router = Router(FakeDirectory())
    now = datetime.now(UTC)

    assert router.route(build_event(time=now + timedelta(seconds=1)))
    assert router.route(build_event(time=now))


def test_an_event_without_a_readable_time_is_never_judged_stale() -> None:
    router = Router(FakeDirectory())
    submission = uuid.uuid4()
    router.route(build_event(submission_id=submission, time=datetime.now(UTC)))
    timeless = build_event(submission_id=submission)
    timeless["time"] = "yesterday"

    assert router.route(timeless)


def test_an_event_that_failed_on_the_database_is_not_remembered_so_its_retry_goes_through() -> None:
    directory = FakeDirectory()
    facts = directory.add_match()
    event = scheduled(facts)
    router = Router(directory)
    directory.down = True

    with pytest.raises(ServiceUnavailable):
        router.route(event)
    directory.down = False

    assert router.route(event)


def test_the_routers_memory_is_bounded() -> None:
    router = Router(FakeDirectory(), memory=2)
    first = build_event(event_id="first")
    router.route(first)
    router.route(build_event(event_id="second"))
    router.route(build_event(event_id="third"))

    assert router.route(first)  # forgotten, so relayed again
