"""The transactional outbox, on SQLite and PostgreSQL: an event goes out if and only if its change
committed, and it keeps going out (with backoff) until the broker takes it, across restarts."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from cloudevents.http import CloudEvent

from rlarena.adapters.builders.base import BuildOutcome
from rlarena.adapters.db.models import OutboxEvent
from rlarena.adapters.db.outbox import LEASE, OutboxRelay
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.bootstrap import Platform
from rlarena.errors import ServiceUnavailable
from rlarena.events.catalogue import EventType, MatchScheduled, Source, make_event
from rlarena.events.publisher import RecordingPublisher
from rlarena.service import build_queue, builds
from tests.support.api import ApiClient

AGENT = b"def agent(observation, configuration):\n    return 0\n"


class Broker(RecordingPublisher):
    """A broker that can be down: while it is, every publish is refused."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.refused = 0

    def publish(self, event: CloudEvent) -> None:
        if self.down:
            self.refused += 1
            raise ServiceUnavailable("the broker is unreachable")
        super().publish(event)


def scheduled(match_id: uuid.UUID | None = None) -> CloudEvent:
    match_id = match_id or uuid.uuid4()
    payload = MatchScheduled(
        match_id=match_id, environment_id="pong", agent1_id=uuid.uuid4(), agent2_id=uuid.uuid4(), is_rated=True
    )
    return make_event(EventType.MATCH_SCHEDULED, Source.MATCHMAKER, payload, event_id=f"match-scheduled-{match_id}")


def with_broker(platform: Platform) -> Broker:
    broker = Broker()
    platform.publisher = broker  # the outbox relay publishes to whatever the platform's publisher is
    return broker


def ids(events: list[CloudEvent]) -> list[str]:
    return [str(event["id"]) for event in events]


def test_an_event_goes_out_with_its_commit_and_never_with_a_rollback(platform: Platform) -> None:
    broker = with_broker(platform)
    kept, dropped = scheduled(), scheduled()
    with platform.uow() as uow:
        uow.publish(kept)
        uow.commit()
    with platform.uow() as uow:
        uow.publish(dropped)  # never committed
    assert ids(broker.events) == [kept["id"]]
    assert platform.outbox.pending() == 0  # published and forgotten
    assert platform.outbox.publish_due().published == 0


def test_a_refused_event_waits_in_the_outbox_and_goes_out_when_the_broker_is_back(platform: Platform) -> None:
    broker = with_broker(platform)
    broker.down = True
    event = scheduled()
    with platform.uow() as uow:
        uow.publish(event)
        uow.commit()  # the commit stands although the broker refused the event
    assert broker.refused == 1 and platform.outbox.pending() == 1
    assert platform.outbox.publish_due().published == 0  # backing off: not due yet
    time.sleep(1.1)  # the first backoff is a second
    assert platform.outbox.publish_due().failed == 1  # still down: tried again, backs off longer
    broker.down = False
    time.sleep(2.1)
    run = platform.outbox.publish_due()
    assert (run.published, run.failed) == (1, 0)
    assert ids(broker.events) == [event["id"]]
    assert platform.outbox.pending() == 0


def test_events_of_a_process_that_died_after_its_commit_go_out_once_its_lease_ends(platform: Platform) -> None:
    broker = with_broker(platform)
    event = scheduled()
    with UnitOfWork(platform.engine) as uow:  # no relay: the process "died" right after the commit
        uow.publish(event)
        uow.commit()
    assert broker.events == []
    assert platform.outbox.publish_due().published == 0  # the dead committer's lease still holds
    later = OutboxRelay(platform.engine, broker.publish, lambda: datetime.now(UTC) + LEASE + timedelta(seconds=1))
    assert later.publish_due().published == 1
    assert ids(broker.events) == [event["id"]]
    assert later.publish_due().published == 0  # and only once


def test_two_relays_at_once_publish_each_event_once(platform: Platform) -> None:
    broker = with_broker(platform)
    events = [scheduled() for _ in range(60)]
    with UnitOfWork(platform.engine) as uow:
        for event in events:
            uow.publish(event)
        uow.commit()
    clock = lambda: datetime.now(UTC) + LEASE + timedelta(seconds=1)  # noqa: E731
    relays = [OutboxRelay(platform.engine, broker.publish, clock) for _ in range(2)]
    threads = [threading.Thread(target=relay.publish_due) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids(broker.events)) == sorted(str(event["id"]) for event in events)
    assert platform.outbox.pending() == 0


def test_an_upload_announced_while_the_broker_is_down_is_queued_and_announced_later(
    platform: Platform, api: ApiClient
) -> None:
    broker = with_broker(platform)
    owner = api.register("outboxed")
    agent = api.create_agent(owner, "outboxed", "pong")
    broker.down = True
    response = api.upload(owner, agent["id"], "agent.py", AGENT)
    assert response.status_code == 201, response.get_json()  # the upload stands: its event is owed
    assert platform.outbox.pending() == 1
    broker.down = False
    time.sleep(1.1)
    assert platform.outbox.publish_due().published == 1
    assert [event["type"] for event in broker.events] == [EventType.SUBMISSION_UPLOADED.value]


def test_a_build_result_whose_announcement_failed_is_announced_later(platform: Platform, api: ApiClient) -> None:
    """The old bug: finish_build published after its commit, and a redelivery returned early."""
    broker = with_broker(platform)
    owner = api.register("built")
    agent = api.create_agent(owner, "built", "pong")
    assert api.upload(owner, agent["id"], "agent.py", AGENT).status_code == 201
    ticket = builds.claim_next(platform)
    assert ticket is not None
    broker.down = True
    builds.finish_build(platform, ticket, BuildOutcome(ok=True, log="ok", image_url="local", interface="function"))
    builds.finish_build(platform, ticket, BuildOutcome(ok=True, log="ok", image_url="local", interface="function"))
    broker.down = False
    time.sleep(1.1)
    platform.outbox.publish_due()
    finished = [event for event in broker.events if event["type"] == EventType.BUILD_SUCCEEDED.value]
    assert len(finished) == 1
    assert finished[0].get_data()["status"] == "active"  # type: ignore[index]
    assert build_queue.run_queue(platform).started == 0
    with platform.uow() as uow:
        assert uow.session.query(OutboxEvent).count() == 0
