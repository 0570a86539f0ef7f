"""Results are durable before they are announced: the executor with S3 (SeaweedFS) stopped at the
end of a real sandboxed match, and a broker (a real HTTP ingress) that refuses events.

The result waits in the executor's spool (private files) while storage is down, is stored once S3
is back, and only then announced; a restarted executor carries on with the spool of the one
before. Every announcement is checked on arrival: the result it announces is already in S3.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cloudevents.http import CloudEvent

from rlarena.adapters.storage.s3 import S3Store
from rlarena.domain.match_keys import replay_key, result_key
from rlarena.errors import ServiceUnavailable
from rlarena.events.publisher import HttpPublisher
from rlarena.executor.app import sandboxed_runner
from rlarena.executor.grpc_server import ExecutorServicer, start_server
from rlarena.executor.service import ExecutorService, MatchOrder, Played, Runner
from rlarena.executor.spool import ResultSpool
from rlarena.grpc_gen import executor_pb2, executor_pb2_grpc
from rlarena.sandbox.runtime_install import agent_python, install_runtime
from tests.support.event_sink import EventSink, event_sink
from tests.support.seaweedfs import StoppableS3, stoppable_s3

FIRST_LEGAL = "def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"
LAST_LEGAL = (
    "def agent(observation, configuration):\n"
    "    mask = observation['action_mask']\n"
    "    return len(mask) - 1 - mask[::-1].index(1)\n"
)
FINISHED, FAILED, STARTED = "dev.rlarena.match.finished", "dev.rlarena.match.failed", "dev.rlarena.match.started"


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    # pytest's tmp_path is under a 0700 folder of root's that the sandbox user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="rlarena-durable-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def real_run() -> Runner:
    return sandboxed_runner(install_runtime(agent_python(None)))


@pytest.fixture
def weed() -> Iterator[StoppableS3]:
    with stoppable_s3() as server:
        yield server


@pytest.fixture
def store(weed: StoppableS3) -> S3Store:
    made = S3Store(weed.server.endpoint, weed.server.access_key, weed.server.secret_key, "results")
    made.ensure_bucket()
    return made


@pytest.fixture
def sink(store: S3Store) -> Iterator[EventSink]:
    def stored_on_arrival(event: CloudEvent) -> Any:
        """Was the announced result already in S3 when its announcement arrived?"""
        if event["type"] not in (FINISHED, FAILED):
            return None
        match_id = (event.get_data() or {})["matchId"]
        try:
            return json.loads(store.get(result_key(match_id)))
        except Exception as error:
            return f"not stored: {error!r}"

    with event_sink(stored_on_arrival) as running:
        yield running


def built_agent(folder: Path, code: str) -> executor_pb2.AgentConfig:
    agent_id = str(uuid.uuid4())
    path = folder / agent_id
    path.mkdir()
    path.chmod(0o755)
    (path / "agent.py").write_text(code)
    (path / "agent.py").chmod(0o644)
    return executor_pb2.AgentConfig(agent_id=agent_id, docker_image=f"local://{path}", entry_point="agent.py")


def storage_fails_at_the_end(run: Runner, weed: StoppableS3, runs: list[str]) -> Runner:
    """The real match, then S3 goes down before the executor stores anything."""

    def play(order: MatchOrder) -> Played:
        runs.append(order.match_id)
        played = run(order)
        weed.stop()
        return played

    return play


def executor(
    run: Runner, sink: EventSink, store: S3Store, spool: Path, **options: Any
) -> tuple[ExecutorService, Callable[[], None], Any]:
    service = ExecutorService(
        run,
        HttpPublisher(sink.url, attempts=2, first_delay=0.05),
        store,
        max_concurrent=2,
        version="test",
        spool=ResultSpool(spool),
        flush_delays=(0.5, 2.0),
        **options,
    )
    service.start()
    server, port = start_server(ExecutorServicer(service, run), "127.0.0.1:0")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")

    def close() -> None:
        channel.close()
        service.shutdown(grace_seconds=5)
        server.stop(grace=1).wait()

    return service, close, executor_pb2_grpc.ExecutorStub(channel)  # type: ignore[no-untyped-call]


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


def spooled(spool: Path, match_id: str) -> dict[str, Any] | None:
    try:
        return dict(json.loads((spool / f"{match_id}.json").read_text()))
    except FileNotFoundError:
        return None


def test_a_result_is_spooled_while_s3_is_down_then_stored_then_announced(
    folder: Path, real_run: Runner, weed: StoppableS3, store: S3Store, sink: EventSink, tmp_path: Path
) -> None:
    runs: list[str] = []
    spool = tmp_path / "data" / "executor-spool"
    service, close, stub = executor(storage_fails_at_the_end(real_run, weed, runs), sink, store, spool)
    try:
        first, last = built_agent(folder, FIRST_LEGAL), built_agent(folder, LAST_LEGAL)
        sent = executor_pb2.MatchRequest(
            match_id=str(uuid.uuid4()), environment="tic-tac-toe", agents=[first, last], record_replay=True, wait=False
        )
        assert stub.RunMatch(sent, timeout=10).status == executor_pb2.UNKNOWN
        match_id = sent.match_id
        waited = wait_until(lambda: spooled(spool, match_id) is not None, 60, "the result in the spool")

        # Storage is down: the result (and its replay) wait in a private file, nothing is announced.
        held = spooled(spool, match_id)
        assert held is not None and held["stored"] is False
        assert held["result"]["status"] == "SUCCESS" and held["result"]["finished_at"]
        assert held["replay"] is not None and held["replay"]["frames"]
        assert stat.S_IMODE(os.stat(spool).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(spool / f"{match_id}.json").st_mode) == 0o600
        assert sink.types_of(match_id) == [STARTED]
        with pytest.raises(ServiceUnavailable):
            store.get(result_key(match_id))
        # The executor knows the result meanwhile: asked again, it answers without playing again.
        again = stub.RunMatch(executor_pb2.MatchRequest(**{**_fields(sent), "wait": True}), timeout=10)
        assert again.status == executor_pb2.SUCCESS and runs == [match_id]
        time.sleep(1.0)
        assert sink.types_of(match_id) == [STARTED], "announced before it was stored"

        back = time.monotonic()
        weed.start()
        finished = sink.wait_for(match_id, FINISHED, timeout=30)
        landed = finished.at - back
        print(f"\nspooled {waited:.1f} s after dispatch; announced {landed:.1f} s after S3 was back")

        # Stored before announced: the announcement found the result in S3 on arrival.
        stored = json.loads(store.get(result_key(match_id)))
        assert finished.note == stored
        assert stored["status"] == "SUCCESS" and stored["replay_url"] == replay_key(match_id)
        assert json.loads(store.get(replay_key(match_id)))["frames"]
        payload = finished.event.get_data() or {}
        assert payload["finishedAt"] is not None and stored["finished_at"]
        assert _instant(payload["finishedAt"]) == _instant(stored["finished_at"])
        assert payload["winnerId"] == (stored["winner_agent_id"] or None)
        assert payload["totalSteps"] == stored["total_steps"]
        wait_until(lambda: spooled(spool, match_id) is None, 10, "the spool emptied")
        assert service.pending_results() == 0
        assert sink.types_of(match_id) == [STARTED, FINISHED]
        assert landed < 10
    finally:
        close()


def test_a_restarted_executor_stores_and_announces_what_its_spool_holds(
    folder: Path, real_run: Runner, weed: StoppableS3, store: S3Store, sink: EventSink, tmp_path: Path
) -> None:
    spool = tmp_path / "data" / "executor-spool"
    runs: list[str] = []
    sink.down = True  # the broker is down too
    _, close, stub = executor(storage_fails_at_the_end(real_run, weed, runs), sink, store, spool)
    first, last = built_agent(folder, FIRST_LEGAL), built_agent(folder, LAST_LEGAL)
    match_id = str(uuid.uuid4())
    request = executor_pb2.MatchRequest(
        match_id=match_id, environment="tic-tac-toe", agents=[first, last], record_replay=True, wait=True
    )
    assert stub.RunMatch(request, timeout=60).status == executor_pb2.SUCCESS
    close()  # the executor stops with S3 still down: the result stays in the spool
    held = spooled(spool, match_id)
    assert held is not None and held["stored"] is False

    weed.start()
    restarted = ExecutorService(
        real_run,
        HttpPublisher(sink.url, attempts=2, first_delay=0.05),
        store,
        max_concurrent=2,
        version="test",
        spool=ResultSpool(spool),
        flush_delays=(0.5, 2.0),
    )
    try:
        assert restarted.start() == 1
        # Stored during start, before the executor would serve; the announcement still waits.
        stored = json.loads(store.get(result_key(match_id)))
        assert stored["status"] == "SUCCESS" and stored["match_id"] == match_id
        assert json.loads(store.get(replay_key(match_id)))["frames"]
        held = spooled(spool, match_id)
        assert held is not None and held["stored"] is True and held["replay"] is None
        time.sleep(1.0)
        assert FINISHED not in sink.types_of(match_id) and sink.refused > 0

        sink.down = False
        finished = sink.wait_for(match_id, FINISHED, timeout=30)
        assert finished.note == stored
        wait_until(lambda: spooled(spool, match_id) is None, 10, "the spool emptied")
        assert runs == [match_id]  # never played again
        assert sink.types_of(match_id) == [FINISHED]  # match.started was refused by the broker, then
    finally:
        restarted.shutdown(grace_seconds=1)


def test_a_failed_match_is_stored_as_an_error_before_it_is_announced(
    weed: StoppableS3, store: S3Store, sink: EventSink, tmp_path: Path
) -> None:
    """The runner itself fails: the ERROR result is stored (so a reconciler can fail the match with
    its reason), and match.failed is announced after it."""

    def explode(order: MatchOrder) -> Played:
        raise RuntimeError("the runner broke")

    service, close, _ = executor(explode, sink, store, tmp_path / "spool")
    try:
        order = MatchOrder(str(uuid.uuid4()), "tic-tac-toe", _agents(tmp_path), seed=1)
        report = service.submit(order, wait=True)
        assert report is not None and report.status == "ERROR"
        failed = sink.wait_for(order.match_id, FAILED, timeout=10)
        stored = json.loads(store.get(result_key(order.match_id)))
        assert failed.note == stored
        assert stored["status"] == "ERROR" and "RuntimeError" in stored["error_message"]
        assert (failed.event.get_data() or {})["errorMessage"] == stored["error_message"]
    finally:
        close()


def _agents(folder: Path) -> Any:
    from rlarena.executor.service import AgentEntry

    return tuple(AgentEntry(str(uuid.uuid4()), folder, "agent.py") for _ in range(2))


def _fields(message: Any) -> dict[str, Any]:
    return {f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields}


def _instant(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
