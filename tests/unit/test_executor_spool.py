"""The executor's durability rules on fakes: stored before announced, retried, spooled, recovered,
and a graceful shutdown that ends what is still playing as a stored ERROR."""

from __future__ import annotations

import json
import os
import stat
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from rlarena.adapters.storage.base import StoredObject
from rlarena.adapters.storage.local import LocalFolderStore
from rlarena.domain.match_keys import replay_key, result_key
from rlarena.errors import ServiceUnavailable
from rlarena.events.catalogue import MatchFinished
from rlarena.events.match_results import finished_payload
from rlarena.executor.service import (
    STOPPED_MID_GAME,
    AgentEntry,
    AgentOutcome,
    ExecutorService,
    MatchOrder,
    MatchReport,
    Played,
)
from rlarena.executor.spool import PendingResult, ResultSpool


class FlakyStore(LocalFolderStore):
    """A local folder store that is down while `down` is set (every put and get fails)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.down = False
        self.puts = 0

    def put(self, key: str, data: bytes, *, content_type: str = "application/octet-stream") -> StoredObject:
        self.puts += 1
        if self.down:
            raise ServiceUnavailable("storage is down")
        return super().put(key, data, content_type=content_type)

    def get(self, key: str) -> bytes:
        if self.down:
            raise ServiceUnavailable("storage is down")
        return super().get(key)


class CheckingPublisher:
    """Records each event, and whether its match's result was stored when it was published."""

    def __init__(self, store: FlakyStore) -> None:
        self.store = store
        self.down = False
        self.events: list[tuple[CloudEvent, bool]] = []
        self.lock = threading.Lock()

    def publish(self, event: CloudEvent) -> None:
        if self.down:
            raise ServiceUnavailable("the broker is down")
        match_id = (event.get_data() or {})["matchId"]
        stored = (self.store.root / self.store.bucket / result_key(match_id)).is_file()
        with self.lock:
            self.events.append((event, stored))

    def of(self, match_id: str) -> list[tuple[str, bool]]:
        with self.lock:
            return [
                (e["type"].rsplit(".", 1)[-1], s) for e, s in self.events if (e.get_data() or {})["matchId"] == match_id
            ]


class Runner:
    def __init__(self, delay: float = 0.0, *, then: Any = None) -> None:
        self.delay = delay
        self.then = then  # called when the game is over, before the executor stores anything
        self.finished = threading.Event()

    def __call__(self, order: MatchOrder) -> Played:
        time.sleep(self.delay)
        if self.then is not None:
            self.then()
        a, b = order.agents
        report = MatchReport(
            match_id=order.match_id,
            status="SUCCESS",
            winner_agent_id=a.agent_id,
            agent_results=[AgentOutcome(a.agent_id, 1.0, "OK"), AgentOutcome(b.agent_id, 0.0, "OK")],
            total_steps=5,
        )
        self.finished.set()
        return Played(report, {"frames": [1, 2, 3]})


def an_order(tmp_path: Path) -> MatchOrder:
    agents = (AgentEntry(str(uuid.uuid4()), tmp_path, "agent.py"), AgentEntry(str(uuid.uuid4()), tmp_path, "agent.py"))
    return MatchOrder(str(uuid.uuid4()), "tic-tac-toe", agents, seed=3)


def wait_until(check: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.01)


@pytest.fixture
def store(tmp_path: Path) -> FlakyStore:
    return FlakyStore(tmp_path / "objects")


@pytest.fixture
def publisher(store: FlakyStore) -> CheckingPublisher:
    return CheckingPublisher(store)


def service_of(runner: Runner, publisher: CheckingPublisher, store: FlakyStore, spool: Path) -> ExecutorService:
    return ExecutorService(
        runner,
        publisher,
        store,
        max_concurrent=2,
        version="t",
        spool=ResultSpool(spool),
        store_retry_delays=(0.01, 0.01),
        flush_delays=(0.05, 0.1),
    )


def test_a_result_is_stored_then_announced_with_its_finish_time(
    tmp_path: Path, store: FlakyStore, publisher: CheckingPublisher
) -> None:
    service = service_of(Runner(), publisher, store, tmp_path / "spool")
    order = an_order(tmp_path)
    report = service.submit(order, wait=True)
    assert report is not None and report.finished_at
    assert publisher.of(order.match_id) == [("started", False), ("finished", True)]
    stored = json.loads(store.get(result_key(order.match_id)))
    assert stored["finished_at"] == report.finished_at
    announced = publisher.events[-1][0].get_data()
    # The announcement is exactly what the reconciler would rebuild from the stored result.
    assert MatchFinished.model_validate(announced) == finished_payload(uuid.UUID(order.match_id), "tic-tac-toe", stored)
    assert not list((tmp_path / "spool").glob("*.json"))


def test_storage_down_spools_privately_then_the_flusher_stores_and_announces(
    tmp_path: Path, store: FlakyStore, publisher: CheckingPublisher
) -> None:
    service = service_of(Runner(then=lambda: setattr(store, "down", True)), publisher, store, tmp_path / "spool")
    order = an_order(tmp_path)
    service.submit(order, wait=True)
    assert store.puts >= 3  # the first attempt and two retries (and maybe the flusher's first)
    held = tmp_path / "spool" / f"{order.match_id}.json"
    assert stat.S_IMODE(os.stat(held).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "spool").st_mode) == 0o700
    assert publisher.of(order.match_id) == [("started", False)]
    assert service.stored_result(order.match_id) is not None  # known from the spool, never replayed
    store.down = False
    wait_until(lambda: ("finished", True) in publisher.of(order.match_id))
    assert json.loads(store.get(replay_key(order.match_id))) == {"frames": [1, 2, 3]}
    wait_until(lambda: not held.exists())
    service.shutdown(0)


def test_a_broker_down_keeps_the_announcement_until_it_takes_it(
    tmp_path: Path, store: FlakyStore, publisher: CheckingPublisher
) -> None:
    service = service_of(Runner(), publisher, store, tmp_path / "spool")
    publisher.down = True
    order = an_order(tmp_path)
    service.submit(order, wait=True)
    held = json.loads((tmp_path / "spool" / f"{order.match_id}.json").read_text())
    assert held["stored"] is True and held["replay"] is None
    publisher.down = False
    wait_until(lambda: publisher.of(order.match_id) == [("finished", True)])
    service.shutdown(0)


def test_a_new_executor_carries_on_with_the_spool_of_the_last(
    tmp_path: Path, store: FlakyStore, publisher: CheckingPublisher
) -> None:
    def outage() -> None:
        store.down = publisher.down = True

    first = service_of(Runner(then=outage), publisher, store, tmp_path / "spool")
    order = an_order(tmp_path)
    first.submit(order, wait=True)
    first.shutdown(0)
    assert (tmp_path / "spool" / f"{order.match_id}.json").exists()
    store.down = False
    second = service_of(Runner(), publisher, store, tmp_path / "spool")
    assert second.start() == 1
    assert json.loads(store.get(result_key(order.match_id)))["status"] == "SUCCESS"  # stored during start
    publisher.down = False
    wait_until(lambda: publisher.of(order.match_id) == [("started", False), ("finished", True)])
    second.shutdown(0)


def test_shutdown_ends_a_match_still_playing_after_the_grace_as_a_stored_error(
    tmp_path: Path, store: FlakyStore, publisher: CheckingPublisher
) -> None:
    runner = Runner(delay=1.0)
    service = service_of(runner, publisher, store, tmp_path / "spool")
    order = an_order(tmp_path)
    service.submit(order, wait=False)
    time.sleep(0.1)
    assert service.shutdown(0.2) is False  # its thread still plays
    stored = json.loads(store.get(result_key(order.match_id)))
    assert stored["status"] == "ERROR" and stored["error_message"] == STOPPED_MID_GAME
    assert publisher.of(order.match_id) == [("started", False), ("failed", True)]
    runner.finished.wait(5)
    time.sleep(0.2)
    # The game's own late end changes nothing.
    assert json.loads(store.get(result_key(order.match_id)))["status"] == "ERROR"
    assert publisher.of(order.match_id) == [("started", False), ("failed", True)]


def test_shutdown_lets_a_match_finish_within_the_grace(
    tmp_path: Path, store: FlakyStore, publisher: CheckingPublisher
) -> None:
    service = service_of(Runner(delay=0.3), publisher, store, tmp_path / "spool")
    order = an_order(tmp_path)
    service.submit(order, wait=False)
    assert service.shutdown(5) is True
    assert publisher.of(order.match_id) == [("started", False), ("finished", True)]
    with pytest.raises(ServiceUnavailable):
        service.submit(an_order(tmp_path), wait=False)


def test_an_unwritable_spool_keeps_the_result_in_memory(
    tmp_path: Path, store: FlakyStore, publisher: CheckingPublisher
) -> None:
    (tmp_path / "a-file").write_text("")
    runner = Runner(then=lambda: setattr(store, "down", True))
    service = service_of(runner, publisher, store, tmp_path / "a-file" / "spool")
    order = an_order(tmp_path)
    service.submit(order, wait=True)
    assert service.pending_results() == 1
    store.down = False
    wait_until(lambda: publisher.of(order.match_id)[-1:] == [("finished", True)])
    service.shutdown(0)


def test_the_spool_reads_back_what_it_wrote_and_skips_junk(tmp_path: Path) -> None:
    spool = ResultSpool(tmp_path / "spool")
    entry = PendingResult(str(uuid.uuid4()), "pong", {"status": "SUCCESS"}, {"frames": []}, stored=False)
    assert spool.keep(entry)
    (tmp_path / "spool" / "junk.json").write_text("{not json")
    again = ResultSpool(tmp_path / "spool")
    assert again.entries() == [entry]
    again.mark_stored(entry.match_id)
    assert ResultSpool(tmp_path / "spool").get(entry.match_id) == PendingResult(
        entry.match_id, "pong", {"status": "SUCCESS"}, None, stored=True
    )
    again.remove(entry.match_id)
    assert ResultSpool(tmp_path / "spool").entries() == []


def test_older_and_newer_result_files_are_read() -> None:
    older = {
        "match_id": "m",
        "status": "SUCCESS",
        "winner_agent_id": "",
        "agent_results": [{"agent_id": "a", "score": 0.5, "status": "OK", "error_message": "", "logs": ""}],
        "total_steps": 9,
        "execution_time_sec": 1.0,
        "replay_url": "",
        "error_message": "",
    }
    report = MatchReport.from_json(dict(older))
    assert report.finished_at == "" and report.agent_results[0].score == 0.5
    newer = {**older, "finished_at": "2026-01-01T00:00:00+00:00", "something_new": 1}
    newer["agent_results"] = [{**older["agent_results"][0], "extra": True}]  # type: ignore[index]
    assert MatchReport.from_json(newer).finished_at == "2026-01-01T00:00:00+00:00"
    payload = finished_payload(uuid.uuid4(), "tic-tac-toe", {**older, "agent_results": []})
    assert payload.finished_at is None and payload.winner_id is None
