"""Stopping a real executor process (`rlarena executor`, as the local platform's ExecutorChild runs
it) while a slow match plays: SIGTERM lets the match finish within the grace period and its result
is stored, then announced; with a tiny grace the match ends as a stored ERROR, announced failed.
Ctrl-C in the platform's terminal does not reach the executor: only the platform stops it.

Real processes, real gRPC on a local port, real sandboxed agents, and a real HTTP ingress that
checks, as each announcement arrives, that the announced result is already stored.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cloudevents.http import CloudEvent

from rlarena.adapters.storage.local import LocalFolderStore
from rlarena.domain.match_keys import result_key
from rlarena.errors import NotFound
from rlarena.executor.service import STOPPED_MID_GAME
from rlarena.grpc_gen import executor_pb2, executor_pb2_grpc
from rlarena.platform.executor_child import STOP_MARGIN_S, ExecutorChild
from tests.support.event_sink import EventSink, event_sink
from tests.support.postgres import free_port

# About half a second a move: a tic-tac-toe game of two first-legal players (7 moves) takes ~4 s.
SLOW_FIRST_LEGAL = (
    "import time\n"
    "def agent(observation, configuration):\n"
    "    time.sleep(0.5)\n"
    "    return observation['action_mask'].index(1)\n"
)
FINISHED, FAILED, STARTED = "dev.rlarena.match.finished", "dev.rlarena.match.failed", "dev.rlarena.match.started"

# Ctrl-C in a terminal: the platform (here a stand-in that runs an ExecutorChild) gets SIGINT with
# its whole process group, does its own shutdown work for a while, then stops the executor.
PLATFORM = """
import signal, sys, time
from rlarena.platform.executor_child import ExecutorChild

# A terminal's foreground process turns Ctrl-C into KeyboardInterrupt, even when this test runs
# where SIGINT is ignored and so inherited ignored (a CI job started in the background).
signal.signal(signal.SIGINT, signal.default_int_handler)

child = ExecutorChild(sys.argv[1], sys.argv[2], shutdown_grace_s=float(sys.argv[3]))
child.start()
print("executor", child.pid, flush=True)
try:
    while True:
        time.sleep(0.1)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    time.sleep(float(sys.argv[4]))
    started = time.monotonic()
    child.stop()
    print(f"stopped {time.monotonic() - started:.2f}", flush=True)
"""


@pytest.fixture(scope="module")
def code() -> Iterator[Path]:
    # pytest's tmp_path is under a 0700 folder of root's that the sandbox user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="rlarena-shutdown-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The executor's environment: its own DATA_DIR, the local folder store."""
    data = tmp_path / "data"
    for name in ("S3_ENDPOINT", "STORAGE_PATH", "EXECUTOR_SPOOL_DIR", "BROKER_TOKEN", "USE_K8S", "ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(data))
    monkeypatch.setenv("EXECUTOR_MAX_MATCHES", "2")
    return data


@pytest.fixture
def store(data_dir: Path) -> LocalFolderStore:
    return LocalFolderStore(data_dir / "objects")


@pytest.fixture
def sink(store: LocalFolderStore) -> Iterator[EventSink]:
    def stored_on_arrival(event: CloudEvent) -> Any:
        if event["type"] not in (FINISHED, FAILED):
            return None
        try:
            return json.loads(store.get(result_key((event.get_data() or {})["matchId"])))
        except NotFound:
            return "not stored"

    with event_sink(stored_on_arrival) as running:
        yield running


def built_agent(folder: Path) -> executor_pb2.AgentConfig:
    agent_id = str(uuid.uuid4())
    path = folder / agent_id
    path.mkdir()
    path.chmod(0o755)
    (path / "agent.py").write_text(SLOW_FIRST_LEGAL)
    (path / "agent.py").chmod(0o644)
    return executor_pb2.AgentConfig(agent_id=agent_id, docker_image=f"local://{path}", entry_point="agent.py")


def dispatch(url: str, code: Path) -> str:
    """Start a slow match (wait=false, as the matchmaker dispatches); returns its id."""
    match_id = str(uuid.uuid4())
    request = executor_pb2.MatchRequest(
        match_id=match_id,
        environment="tic-tac-toe",
        agents=[built_agent(code), built_agent(code)],
        record_replay=True,
        wait=False,
    )
    with grpc.insecure_channel(url) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)  # type: ignore[no-untyped-call]
        assert stub.RunMatch(request, timeout=10).status == executor_pb2.UNKNOWN
    return match_id


def line_of(process: subprocess.Popen[str], prefix: str, timeout: float = 90) -> str:
    """The next line of the process's output that starts with `prefix` (the executor shares it).

    A process that prints nothing for `timeout` seconds is killed (its executor follows its parent),
    so the test fails instead of waiting forever."""
    assert process.stdout is not None
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    try:
        for line in process.stdout:
            if line.startswith(prefix):
                return line.strip()
    finally:
        watchdog.cancel()
    raise AssertionError(f"the process ended without printing {prefix!r} (or was killed after {timeout} s)")


def healthy(url: str) -> bool:
    with grpc.insecure_channel(url) as channel:
        stub = executor_pb2_grpc.ExecutorStub(channel)  # type: ignore[no-untyped-call]
        try:
            return bool(stub.HealthCheck(executor_pb2.HealthCheckRequest(), timeout=2).healthy)
        except grpc.RpcError:
            return False


def exited(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (reaped later by its parent) has exited too.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_sigterm_lets_a_running_match_finish_store_and_announce_within_the_grace(
    data_dir: Path, store: LocalFolderStore, sink: EventSink, code: Path
) -> None:
    url = f"127.0.0.1:{free_port()}"
    child = ExecutorChild(url, sink.url, shutdown_grace_s=30)
    child.start()
    assert child.pid is not None and os.getpgid(child.pid) == child.pid  # a process group of its own
    assert os.getsid(child.pid) != os.getsid(0)
    match_id = dispatch(url, code)
    sink.wait_for(match_id, STARTED, timeout=30)

    stopping = threading.Thread(target=child.stop)
    started = time.monotonic()
    stopping.start()  # SIGTERM, then wait for the executor
    time.sleep(0.5)
    # Stopping: it takes no new match...
    with grpc.insecure_channel(url) as channel, pytest.raises(grpc.RpcError) as refused:
        stub = executor_pb2_grpc.ExecutorStub(channel)  # type: ignore[no-untyped-call]
        stub.RunMatch(
            executor_pb2.MatchRequest(
                match_id=str(uuid.uuid4()), environment="tic-tac-toe", agents=[built_agent(code), built_agent(code)]
            ),
            timeout=5,
        )
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    # ...but the running one plays to its end.
    stopping.join(timeout=60)
    took = time.monotonic() - started
    assert not stopping.is_alive()
    assert took < 30, f"the executor took {took:.1f} s: it waited out the grace instead of the game"
    stored = json.loads(store.get(result_key(match_id)))
    assert stored["status"] == "SUCCESS" and stored["total_steps"] >= 5 and stored["finished_at"]
    finished = sink.wait_for(match_id, FINISHED, timeout=5)
    assert finished.note == stored  # stored before it was announced
    assert sink.types_of(match_id) == [STARTED, FINISHED]
    assert not list((data_dir / "executor-spool").glob("*.json"))
    print(f"\nSIGTERM to exit with the match finished: {took:.1f} s")


def test_with_a_tiny_grace_a_running_match_ends_as_a_stored_error_announced_failed(
    data_dir: Path, store: LocalFolderStore, sink: EventSink, code: Path
) -> None:
    url = f"127.0.0.1:{free_port()}"
    child = ExecutorChild(url, sink.url, shutdown_grace_s=0.5)
    assert child.stop_timeout == 0.5 + STOP_MARGIN_S
    child.start()
    pid = child.pid
    assert pid is not None
    match_id = dispatch(url, code)
    sink.wait_for(match_id, STARTED, timeout=30)
    time.sleep(0.5)  # mid-game
    started = time.monotonic()
    child.stop()
    took = time.monotonic() - started
    assert exited(pid)
    assert took < 10, f"the executor took {took:.1f} s to stop with a 0.5 s grace"
    stored = json.loads(store.get(result_key(match_id)))
    assert stored["status"] == "ERROR" and stored["error_message"] == STOPPED_MID_GAME
    failed = sink.wait_for(match_id, FAILED, timeout=5)
    assert failed.note == stored  # stored before it was announced
    assert (failed.event.get_data() or {})["errorMessage"] == STOPPED_MID_GAME
    time.sleep(1.0)
    assert sink.types_of(match_id) == [STARTED, FAILED]  # the game's own end never came out
    assert json.loads(store.get(result_key(match_id)))["status"] == "ERROR"
    print(f"\nSIGTERM to exit with the match cut short: {took:.1f} s")


def test_ctrl_c_in_the_terminal_reaches_the_platform_which_stops_the_executor_gracefully(
    data_dir: Path, store: LocalFolderStore, sink: EventSink, code: Path
) -> None:
    url = f"127.0.0.1:{free_port()}"
    platform = subprocess.Popen(
        [sys.executable, "-c", PLATFORM, url, sink.url, "30", "2"],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a terminal's foreground process group, of which it is the leader
    )
    try:
        executor_pid = int(line_of(platform, "executor ").split()[1])
        match_id = dispatch(url, code)
        sink.wait_for(match_id, STARTED, timeout=30)

        os.killpg(platform.pid, signal.SIGINT)  # Ctrl-C: SIGINT to the whole foreground group
        line_of(platform, "interrupted")
        # The platform is busy with its own shutdown: the executor, untouched by the Ctrl-C, serves.
        assert healthy(url)
        assert not exited(executor_pid)
        line_of(platform, "stopped ")
        assert platform.wait(timeout=30) == 0
    finally:
        if platform.poll() is None:
            os.killpg(platform.pid, signal.SIGKILL)
            platform.wait()
    assert exited(executor_pid)
    stored = json.loads(store.get(result_key(match_id)))
    assert stored["status"] == "SUCCESS"
    assert sink.wait_for(match_id, FINISHED, timeout=5).note == stored
