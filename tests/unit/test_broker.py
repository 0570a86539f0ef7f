from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from rlarena.errors import EventRejected
from rlarena.platform.broker import InProcessBroker
from rlarena.platform.manifests import BackoffPolicy, Trigger

FINISHED = "dev.rlarena.match.finished"


def trigger(
    name: str = "ratings-match-finished",
    subscriber: str = "ratings",
    *,
    type_: str = FINISHED,
    retry: int = 0,
    policy: BackoffPolicy = "exponential",
    delay: float = 0.5,
) -> Trigger:
    return Trigger(
        name=name,
        broker="default",
        filters={"type": type_},
        subscriber=subscriber,
        retry=retry,
        backoff_policy=policy,
        backoff_delay=timedelta(seconds=delay),
    )


def event(type_: str = FINISHED, data: Any = None) -> CloudEvent:
    return CloudEvent({"type": type_, "source": "/rlarena/executor", "id": "e-1"}, data or {"matchId": "m1"})


class Recorder:
    """A subscriber that keeps what it receives and fails the first `failures` times with `error`."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.received: list[CloudEvent] = []
        self._failures = failures
        self._error = error or RuntimeError("database is down")
        self._lock = threading.Lock()

    def __call__(self, delivered: CloudEvent) -> None:
        with self._lock:
            self.received.append(delivered)
            if len(self.received) <= self._failures:
                raise self._error


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def dead_letters(tmp_path: Path) -> Path:
    return tmp_path / "data" / "dead-letters.jsonl"


@pytest.fixture
def make_broker(sleeps: list[float], dead_letters: Path) -> Iterator[Callable[..., InProcessBroker]]:
    made: list[InProcessBroker] = []

    def make(
        triggers: Sequence[Trigger], subscribers: Mapping[str, Callable[[CloudEvent], None]], **options: Any
    ) -> InProcessBroker:
        broker = InProcessBroker(triggers, subscribers, dead_letter_path=dead_letters, sleep=sleeps.append, **options)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close(timeout=5)


def data_of(delivered: CloudEvent) -> dict[str, Any]:
    data = delivered.get_data()
    assert isinstance(data, dict)
    return data


def read_dead_letters(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_matching_event_is_delivered_to_the_triggers_subscriber(make_broker: Callable[..., InProcessBroker]) -> None:
    ratings = Recorder()
    broker = make_broker([trigger()], {"ratings": ratings})

    broker.publish(event())

    assert broker.drain(5)
    assert [delivered["id"] for delivered in ratings.received] == ["e-1"]
    assert ratings.received[0].get_data() == {"matchId": "m1"}


def test_an_event_fans_out_to_every_matching_trigger(make_broker: Callable[..., InProcessBroker]) -> None:
    ratings, stats, builder = Recorder(), Recorder(), Recorder()
    broker = make_broker(
        [trigger("a", "ratings"), trigger("b", "stats"), trigger("c", "builder", type_="dev.rlarena.build.failed")],
        {"ratings": ratings, "stats": stats, "builder": builder},
    )

    broker.publish(event())

    assert broker.drain(5)
    assert len(ratings.received) == 1
    assert len(stats.received) == 1
    assert builder.received == []


def test_an_event_no_trigger_matches_is_dropped_and_logged_at_debug(
    make_broker: Callable[..., InProcessBroker], caplog: pytest.LogCaptureFixture, dead_letters: Path
) -> None:
    ratings = Recorder()
    broker = make_broker([trigger()], {"ratings": ratings})

    with caplog.at_level(logging.DEBUG, logger="rlarena.platform.broker"):
        broker.publish(event("dev.rlarena.match.started"))

    assert broker.pending() == 0
    assert ratings.received == []
    assert not dead_letters.exists()
    assert any("no trigger matches" in record.message for record in caplog.records)


def test_a_failing_delivery_is_retried_with_exponential_backoff_then_dead_lettered(
    make_broker: Callable[..., InProcessBroker], sleeps: list[float], dead_letters: Path
) -> None:
    ratings = Recorder(failures=10)
    broker = make_broker([trigger(retry=3, delay=0.5)], {"ratings": ratings})

    broker.publish(event())

    assert broker.drain(5)
    assert len(ratings.received) == 4
    assert sleeps == [0.5, 1.0, 2.0]
    (letter,) = read_dead_letters(dead_letters)
    assert letter["trigger"] == "ratings-match-finished"
    assert letter["subscriber"] == "ratings"
    assert letter["attempts"] == 4
    assert letter["error"] == {"type": "RuntimeError", "message": "database is down"}
    assert letter["event"]["attributes"]["type"] == FINISHED
    assert letter["event"]["attributes"]["id"] == "e-1"
    assert letter["event"]["data"] == {"matchId": "m1"}


def test_linear_backoff_grows_by_the_delay_and_is_capped(
    make_broker: Callable[..., InProcessBroker], sleeps: list[float]
) -> None:
    broker = make_broker(
        [trigger(retry=4, policy="linear", delay=10)], {"ratings": Recorder(failures=10)}, max_backoff=25.0
    )

    broker.publish(event())

    assert broker.drain(5)
    assert sleeps == [10.0, 20.0, 25.0, 25.0]


def test_exponential_backoff_is_capped_too(make_broker: Callable[..., InProcessBroker], sleeps: list[float]) -> None:
    broker = make_broker([trigger(retry=3, delay=4)], {"ratings": Recorder(failures=10)}, max_backoff=10.0)

    broker.publish(event())

    assert broker.drain(5)
    assert sleeps == [4.0, 8.0, 10.0]


def test_a_delivery_that_recovers_within_its_retries_is_not_dead_lettered(
    make_broker: Callable[..., InProcessBroker], sleeps: list[float], dead_letters: Path
) -> None:
    ratings = Recorder(failures=2)
    broker = make_broker([trigger(retry=5)], {"ratings": ratings})

    broker.publish(event())

    assert broker.drain(5)
    assert len(ratings.received) == 3
    assert len(sleeps) == 2
    assert not dead_letters.exists()


def test_a_rejected_event_is_dead_lettered_without_retrying(
    make_broker: Callable[..., InProcessBroker], sleeps: list[float], dead_letters: Path
) -> None:
    ratings = Recorder(failures=10, error=EventRejected("payload has no matchId"))
    broker = make_broker([trigger(retry=5)], {"ratings": ratings})

    broker.publish(event())

    assert broker.drain(5)
    assert len(ratings.received) == 1
    assert sleeps == []
    (letter,) = read_dead_letters(dead_letters)
    assert letter["attempts"] == 1
    assert letter["error"] == {"type": "EventRejected", "message": "payload has no matchId"}


def test_a_trigger_without_a_running_subscriber_warns_once_and_dead_letters_its_events(
    make_broker: Callable[..., InProcessBroker], caplog: pytest.LogCaptureFixture, dead_letters: Path
) -> None:
    with caplog.at_level(logging.WARNING, logger="rlarena.platform.broker"):
        broker = make_broker([trigger(subscriber="matchmaker")], {})
        broker.publish(event())
        broker.publish(event())
        assert broker.drain(5)

    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "matchmaker" in warnings[0].getMessage()
    letters = read_dead_letters(dead_letters)
    assert [letter["error"]["type"] for letter in letters] == ["NoSubscriber", "NoSubscriber"]
    assert letters[0]["attempts"] == 0


def test_each_delivery_gets_its_own_copy_of_the_event(make_broker: Callable[..., InProcessBroker]) -> None:
    seen: list[Any] = []
    publisher_done = threading.Event()

    def vandal(delivered: CloudEvent) -> None:
        publisher_done.wait(5)
        data_of(delivered)["matchId"] = "changed"
        delivered["type"] = "changed"

    def witness(delivered: CloudEvent) -> None:
        seen.append((delivered["type"], data_of(delivered)["matchId"]))

    # One worker runs the vandal's delivery to the end before the witness's starts.
    broker = make_broker(
        [trigger("a", "vandal"), trigger("b", "witness")], {"vandal": vandal, "witness": witness}, max_workers=1
    )
    published = event()

    broker.publish(published)
    data_of(published)["matchId"] = "changed after publishing"
    publisher_done.set()

    assert broker.drain(5)
    assert seen == [(FINISHED, "m1")]


def test_publish_returns_before_delivery_and_drain_waits_for_it(
    make_broker: Callable[..., InProcessBroker],
) -> None:
    release = threading.Event()
    finished: list[str] = []

    def slow(delivered: CloudEvent) -> None:
        release.wait(5)
        finished.append(delivered["id"])

    broker = make_broker([trigger()], {"ratings": slow})
    try:
        broker.publish(event())

        assert broker.pending() == 1
        assert not broker.drain(0.05)
        assert finished == []
    finally:
        release.set()
    assert broker.drain(5)
    assert broker.pending() == 0
    assert finished == ["e-1"]


def test_drain_waits_for_retries_to_finish(make_broker: Callable[..., InProcessBroker]) -> None:
    ratings = Recorder(failures=2)
    broker = make_broker([trigger(retry=2)], {"ratings": ratings})

    broker.publish(event())

    assert broker.drain(5)
    assert len(ratings.received) == 3


def test_close_delivers_what_was_queued_then_refuses_new_events(make_broker: Callable[..., InProcessBroker]) -> None:
    ratings = Recorder()
    broker = make_broker([trigger()], {"ratings": ratings})
    broker.publish(event())

    assert broker.close()

    assert len(ratings.received) == 1
    with pytest.raises(RuntimeError, match="closed"):
        broker.publish(event())


def test_close_with_a_timeout_reports_deliveries_left_unfinished(
    make_broker: Callable[..., InProcessBroker],
) -> None:
    release = threading.Event()

    def stuck(_: CloudEvent) -> None:
        release.wait(5)

    broker = make_broker([trigger()], {"ratings": stuck})
    broker.publish(event())
    try:
        assert not broker.close(timeout=0.05)
    finally:
        release.set()


def test_binary_data_that_is_not_text_is_dead_lettered_as_base64(
    make_broker: Callable[..., InProcessBroker], dead_letters: Path
) -> None:
    broker = make_broker([trigger()], {"ratings": Recorder(failures=1)})

    broker.publish(event(data=b"\xff\x00"))

    assert broker.drain(5)
    (letter,) = read_dead_letters(dead_letters)
    assert letter["event"]["data_base64"] == "/wA="


def test_secrets_in_the_event_data_are_not_logged(
    make_broker: Callable[..., InProcessBroker], caplog: pytest.LogCaptureFixture
) -> None:
    broker = make_broker([trigger()], {"ratings": Recorder(failures=1, error=RuntimeError("token=hunter2"))})

    with caplog.at_level(logging.DEBUG, logger="rlarena.platform.broker"):
        broker.publish(event(data={"password": "hunter2"}))
        assert broker.drain(5)

    assert caplog.records
    assert all("hunter2" not in record.getMessage() for record in caplog.records)
