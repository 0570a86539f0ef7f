"""The executor's use cases on a fake runner: once per match id, bounded concurrency, events."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest

from rlarena.adapters.storage.local import LocalFolderStore
from rlarena.errors import InvalidInput
from rlarena.events.publisher import RecordingPublisher
from rlarena.executor.service import AgentEntry, AgentOutcome, ExecutorService, MatchOrder, MatchReport, Played


class FakeRunner:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.delay = delay
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, order: MatchOrder) -> Played:
        with self.lock:
            self.calls.append(order.match_id)
        time.sleep(self.delay)
        if self.fail:
            raise RuntimeError("runner exploded")
        a, b = order.agents
        report = MatchReport(
            match_id=order.match_id,
            status="SUCCESS",
            winner_agent_id=a.agent_id,
            agent_results=[
                AgentOutcome(a.agent_id, 1.0, "OK"),
                AgentOutcome(b.agent_id, 0.0, "INVALID", "illegal move"),
            ],
            total_steps=5,
        )
        return Played(report, {"metadata": {"match_id": order.match_id}, "frames": [], "version": 1})


def order(tmp_path: Path) -> MatchOrder:
    agents = tuple(AgentEntry(str(uuid.uuid4()), tmp_path, "agent.py") for _ in range(2))
    return MatchOrder(str(uuid.uuid4()), "tic-tac-toe", agents, seed=7)  # type: ignore[arg-type]


@pytest.fixture
def published() -> RecordingPublisher:
    return RecordingPublisher()


def make(tmp_path: Path, runner: FakeRunner, published: RecordingPublisher, max_concurrent: int = 2) -> ExecutorService:
    store = LocalFolderStore(tmp_path / "objects")
    return ExecutorService(runner, published, store, max_concurrent=max_concurrent, version="test")


def test_a_match_runs_once_and_a_repeat_returns_the_stored_result(
    tmp_path: Path, published: RecordingPublisher
) -> None:
    runner = FakeRunner()
    service = make(tmp_path, runner, published)
    wanted = order(tmp_path)
    first = service.submit(wanted, wait=True)
    again = service.submit(wanted, wait=True)
    assert runner.calls == [wanted.match_id]
    assert first == again
    assert first is not None and first.replay_url == f"replays/{wanted.match_id}.json"
    # A new executor process (same store) still knows the result.
    assert make(tmp_path, FakeRunner(), published).submit(wanted, wait=True) == first
    assert [e["type"] for e in published.events] == ["dev.rlarena.match.started", "dev.rlarena.match.finished"]
    finished = published.events[1].get_data() or {}
    assert finished["winnerId"] == wanted.agents[0].agent_id
    assert [r["status"] for r in finished["agentResults"]] == ["OK", "INVALID"]


def test_concurrent_requests_for_one_match_share_one_run(tmp_path: Path, published: RecordingPublisher) -> None:
    runner = FakeRunner(delay=0.2)
    service = make(tmp_path, runner, published)
    wanted = order(tmp_path)
    results: list[MatchReport | None] = []
    threads = [threading.Thread(target=lambda: results.append(service.submit(wanted, wait=True))) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runner.calls == [wanted.match_id]
    assert len({r.match_id for r in results if r}) == 1


def test_dispatch_does_not_wait_and_the_health_counts_running_matches(
    tmp_path: Path, published: RecordingPublisher
) -> None:
    service = make(tmp_path, FakeRunner(delay=0.3), published, max_concurrent=2)
    started = time.perf_counter()
    assert service.submit(order(tmp_path), wait=False) is None
    assert time.perf_counter() - started < 0.1
    assert service.health()[:2] == (1, 2)
    service.shutdown(grace_seconds=5)
    assert service.health()[0] == 0


def test_a_runner_failure_is_a_failed_match_not_a_crash(tmp_path: Path, published: RecordingPublisher) -> None:
    service = make(tmp_path, FakeRunner(fail=True), published)
    report = service.submit(order(tmp_path), wait=True)
    assert report is not None and report.status == "ERROR"
    assert "RuntimeError" in report.error_message
    assert published.events[-1]["type"] == "dev.rlarena.match.failed"


def test_ids_must_be_uuids(tmp_path: Path, published: RecordingPublisher) -> None:
    bad = MatchOrder("not-a-uuid", "pong", order(tmp_path).agents, seed=1)
    with pytest.raises(InvalidInput):
        make(tmp_path, FakeRunner(), published).submit(bad, wait=True)


def test_a_match_that_ends_before_its_bookkeeping_does_not_deadlock(
    tmp_path: Path, published: RecordingPublisher
) -> None:
    """A future already done when its callback is added runs the callback at once, in the caller."""
    from concurrent.futures import Future

    class InlinePool:
        def submit(self, fn: object, *args: object) -> Future[object]:
            done: Future[object] = Future()
            done.set_result(fn(*args))  # type: ignore[operator]
            return done

    service = make(tmp_path, FakeRunner(), published)
    service._pool = InlinePool()  # type: ignore[assignment]
    outcome: list[MatchReport | None] = []
    caller = threading.Thread(target=lambda: outcome.append(service.submit(order(tmp_path), wait=True)), daemon=True)
    caller.start()
    caller.join(timeout=10)
    assert not caller.is_alive(), "submit() deadlocked on a match that was over at once"
    assert outcome and outcome[0] is not None and outcome[0].status == "SUCCESS"
    assert service.health()[0] == 0
