"""The executor over real gRPC on a local port, with real sandboxed agents."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest

from rlarena.adapters.storage.local import LocalFolderStore
from rlarena.events.publisher import RecordingPublisher
from rlarena.executor.app import sandboxed_runner
from rlarena.executor.grpc_server import ExecutorServicer, start_server
from rlarena.executor.service import ExecutorService
from rlarena.grpc_gen import executor_pb2, executor_pb2_grpc
from rlarena.sandbox.runtime_install import agent_python, install_runtime

FIRST_LEGAL = "def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"
LAST_LEGAL = (
    "def agent(observation, configuration):\n"
    "    mask = observation['action_mask']\n"
    "    return len(mask) - 1 - mask[::-1].index(1)\n"
)
CRASHES = "def agent(observation, configuration):\n    raise RuntimeError('no idea what to play')\n"


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    # pytest's tmp_path is under a 0700 folder of root's that the sandbox user cannot enter.
    root = Path(tempfile.mkdtemp(prefix="rlarena-executor-test-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def built_agent(folder: Path, code: str) -> executor_pb2.AgentConfig:
    agent_id = str(uuid.uuid4())
    path = folder / agent_id
    path.mkdir()
    path.chmod(0o755)
    (path / "agent.py").write_text(code)
    (path / "agent.py").chmod(0o644)
    return executor_pb2.AgentConfig(agent_id=agent_id, docker_image=f"local://{path}", entry_point="agent.py")


@pytest.fixture(scope="module")
def executor(folder: Path) -> Iterator[tuple[Any, RecordingPublisher, list[str]]]:
    runtime = install_runtime(agent_python(None))
    real_run = sandboxed_runner(runtime)
    runs: list[str] = []

    def counting_run(order: Any) -> Any:
        runs.append(order.match_id)
        return real_run(order)

    published = RecordingPublisher()
    service = ExecutorService(
        counting_run, published, LocalFolderStore(folder / "objects"), max_concurrent=2, version="test"
    )
    server, port = start_server(ExecutorServicer(service, counting_run), "127.0.0.1:0")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield executor_pb2_grpc.ExecutorStub(channel), published, runs  # type: ignore[no-untyped-call]
    channel.close()
    service.shutdown(grace_seconds=10)
    server.stop(grace=1).wait()


def request(a: Any, b: Any, *, wait: bool = True, environment: str = "tic-tac-toe") -> Any:
    return executor_pb2.MatchRequest(
        match_id=str(uuid.uuid4()), environment=environment, agents=[a, b], record_replay=True, wait=wait
    )


def test_a_match_over_grpc_returns_the_result_and_a_replay(executor: Any, folder: Path) -> None:
    stub, published, _ = executor
    first, last = built_agent(folder, FIRST_LEGAL), built_agent(folder, LAST_LEGAL)
    sent = request(first, last)
    response = stub.RunMatch(sent, timeout=60)
    assert response.status == executor_pb2.SUCCESS
    assert response.winner_agent_id in (first.agent_id, last.agent_id, "")
    assert {r.agent_id for r in response.agent_results} == {first.agent_id, last.agent_id}
    assert all(r.status == executor_pb2.AGENT_OK for r in response.agent_results)
    assert response.total_steps >= 5
    assert response.replay_url == f"replays/{sent.match_id}.json"
    replay = (folder / "objects" / "rlarena" / "replays" / f"{sent.match_id}.json").read_text()
    assert '"frames"' in replay
    types = [e["type"] for e in published.events if (e.get_data() or {}).get("matchId") == sent.match_id]
    assert types == ["dev.rlarena.match.started", "dev.rlarena.match.finished"]


def test_a_repeated_run_match_returns_the_stored_result_without_playing_again(executor: Any, folder: Path) -> None:
    stub, _, runs = executor
    sent = request(built_agent(folder, FIRST_LEGAL), built_agent(folder, LAST_LEGAL))
    first = stub.RunMatch(sent, timeout=60)
    again = stub.RunMatch(sent, timeout=60)
    assert runs.count(sent.match_id) == 1
    assert again == first


def test_concurrent_matches_all_finish(executor: Any, folder: Path) -> None:
    stub, _, _ = executor
    requests = [request(built_agent(folder, FIRST_LEGAL), built_agent(folder, LAST_LEGAL)) for _ in range(4)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda r: stub.RunMatch(r, timeout=120), requests))
    assert [r.status for r in responses] == [executor_pb2.SUCCESS] * 4
    assert [r.match_id for r in responses] == [r.match_id for r in requests]


def test_dispatch_without_waiting_answers_at_once_and_publishes_later(executor: Any, folder: Path) -> None:
    stub, published, _ = executor
    sent = request(built_agent(folder, FIRST_LEGAL), built_agent(folder, CRASHES), wait=False)
    response = stub.RunMatch(sent, timeout=10)
    assert response.status == executor_pb2.UNKNOWN
    final = stub.RunMatch(executor_pb2.MatchRequest(**{**_fields(sent), "wait": True}), timeout=60)
    crashed = next(r for r in final.agent_results if r.status != executor_pb2.AGENT_OK)
    assert crashed.status == executor_pb2.AGENT_ERROR
    assert "no idea what to play" in crashed.error_message
    assert final.winner_agent_id == sent.agents[0].agent_id
    finished = [e for e in published.events if (e.get_data() or {}).get("matchId") == sent.match_id]
    assert [e["type"] for e in finished] == ["dev.rlarena.match.started", "dev.rlarena.match.finished"]


def _fields(message: Any) -> dict[str, Any]:
    return {f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields}


def test_validate_agent_plays_the_agent_against_itself(executor: Any, folder: Path) -> None:
    stub, _, _ = executor
    good = stub.ValidateAgent(
        executor_pb2.ValidateRequest(agent=built_agent(folder, FIRST_LEGAL), environment="connect-four"), timeout=60
    )
    assert good.valid, good.error_message
    bad = stub.ValidateAgent(
        executor_pb2.ValidateRequest(agent=built_agent(folder, CRASHES), environment="connect-four"), timeout=60
    )
    assert not bad.valid
    assert "no idea what to play" in bad.error_message


def test_bad_requests_are_grpc_errors_not_crashes(executor: Any, folder: Path) -> None:
    stub, _, _ = executor
    agent = built_agent(folder, FIRST_LEGAL)
    with pytest.raises(grpc.RpcError) as caught:
        stub.RunMatch(executor_pb2.MatchRequest(match_id="x", environment="pong", agents=[agent]), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    missing = executor_pb2.AgentConfig(agent_id=str(uuid.uuid4()), docker_image="local:///nowhere")
    with pytest.raises(grpc.RpcError) as caught:
        stub.RunMatch(request(agent, missing), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    health = stub.HealthCheck(executor_pb2.HealthCheckRequest(), timeout=5)
    assert health.healthy and health.version == "test" and health.max_concurrent_matches == 2
