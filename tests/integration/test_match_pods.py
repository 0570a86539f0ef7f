"""Matches as Kubernetes Jobs, against an in-memory API server (kmock).

The test plays the Job controller and the kubelet: once the executor has created a match's Job,
it writes the Job's Pod (its containers' ends), the containers' logs (the runner's carries the
result, as `rlarena match-pod` prints it) and the Job's final condition.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import kubernetes_validate
import pytest

from rlarena.adapters.storage.factory import object_store_for
from rlarena.config import Settings
from rlarena.errors import InvalidInput
from rlarena.events.publisher import RecordingPublisher
from rlarena.executor import app
from rlarena.executor.grpc_server import start_server
from rlarena.executor.kubernetes import backend as backend_module
from rlarena.executor.kubernetes.backend import KubernetesMatchRunner
from rlarena.executor.kubernetes.images import ImageEntry, image_entry
from rlarena.executor.kubernetes.jobs import match_job_name
from rlarena.executor.pod_runner import MatchPodSpec
from rlarena.executor.result_log import result_lines
from rlarena.executor.runner import AgentResult, MatchResult
from rlarena.executor.service import AgentEntry, MatchOrder, MatchReport
from rlarena.grpc_gen import executor_pb2, executor_pb2_grpc
from tests.conftest import make_settings
from tests.support.cluster import JOBS, PODS, REGISTRY, Cluster
from tests.support.pod_security import assert_untrusted_pod

NAMESPACE = "rlarena-matches"
TERMINATED_BY_KUBELET = {"terminated": {"exitCode": 137, "reason": "Error"}}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, USE_K8S=True, K8S_NAMESPACE=NAMESPACE, CONTAINER_REGISTRY_URL=REGISTRY)


@pytest.fixture
def backend(settings: Settings, cluster: Cluster) -> KubernetesMatchRunner:
    return KubernetesMatchRunner(settings, cluster.api_client, poll_seconds=0.02)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def new_order(environment: str = "tic-tac-toe") -> MatchOrder:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    agents = (
        image_entry(first, f"{REGISTRY}/{first}:s-v1", "agent.py", REGISTRY),
        image_entry(second, f"{REGISTRY}/{second}:s-v3", "main.py", REGISTRY),
    )
    return MatchOrder(match_id=str(uuid.uuid4()), environment=environment, agents=agents, seed=11)


def won_by_first(order: MatchOrder) -> MatchResult:
    """What the runner container would print for a game player 0 won."""
    first, second = (agent.agent_id for agent in order.agents)
    frames = [{"frame_number": n, "actions": [n, None], "info": {"board": [0] * 9}} for n in range(6)]
    return MatchResult(
        status="SUCCESS",
        winner_agent_id=first,
        agent_results=[AgentResult(first, 1.0), AgentResult(second, 0.0)],
        total_steps=5,
        execution_time_sec=0.25,
        seed=order.seed,
        replay={"metadata": {"match_id": order.match_id, "winner": first}, "frames": frames, "version": 1},
        outcome_reason="three in a row",
    )


def runner_log(result: MatchResult) -> str:
    return "pygame-ce 2.5.2 (SDL 2.30.8, Python 3.11)\n" + "\n".join(result_lines(result)) + "\n"


def wait_for_job(cluster: Cluster, name: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        jobs = cluster.jobs()
        if name in jobs:
            return jobs[name]
        time.sleep(0.02)
    raise AssertionError(f"Job {name} was never created")


def end_match(
    cluster: Cluster,
    job_name: str,
    *,
    runner: dict[str, Any],
    log: str | None,
    agents: tuple[dict[str, Any], dict[str, Any]] = (TERMINATED_BY_KUBELET, TERMINATED_BY_KUBELET),
    agent_logs: tuple[str, str] = ("", ""),
    restarts: tuple[int, int] = (0, 0),
    failed: tuple[str, str] | None = None,
) -> None:
    """The Pod as the kubelet leaves it, its logs, then the Job's Complete (or Failed) condition."""
    pod_name = f"{job_name}-x7k2p"
    cluster.emulator.objects[PODS, NAMESPACE, pod_name] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name,
            "namespace": NAMESPACE,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"job-name": job_name, "batch.kubernetes.io/job-name": job_name},
        },
        "status": {
            "initContainerStatuses": [
                {"name": f"player-{p}", "state": agents[p], "restartCount": restarts[p]} for p in (0, 1)
            ],
            "containerStatuses": [{"name": "runner", "state": runner, "restartCount": 0}],
        },
    }
    logs = {("runner", False): log, ("player-0", False): agent_logs[0], ("player-1", False): agent_logs[1]}
    logs.update(
        {("player-0", True): "earlier run: " + agent_logs[0], ("player-1", True): "earlier run: " + agent_logs[1]}
    )

    def serve_log(request: Any) -> Any:
        text = logs.get((request.params.get("container"), request.params.get("previous") == "true"))
        if text is None:
            return kmock_error(500)
        limit = int(request.params.get("limitBytes") or 0)
        data = text.encode()
        return data[:limit] if limit else data

    cluster.emulator["get", f"/api/v1/namespaces/{NAMESPACE}/pods/{pod_name}/log"] << serve_log
    if failed is None:
        cluster.set_job_state(job_name, "Complete")
    else:
        cluster.set_job_state(job_name, "Failed", reason=failed[0], message=failed[1])


def kmock_error(status: int) -> Any:
    import kmock

    return kmock.KubernetesError(status=status, reason="InternalError", message="injected by the test")


def play_and_end(
    pool: ThreadPoolExecutor, backend: KubernetesMatchRunner, cluster: Cluster, order: MatchOrder, **ending: Any
) -> MatchReport:
    future = pool.submit(backend.play, order)
    wait_for_job(cluster, match_job_name(order.match_id))
    end_match(cluster, match_job_name(order.match_id), **ending)
    return app.played(order.match_id, future.result(timeout=20)).report


# --- the Job ---------------------------------------------------------------------------------------


def test_a_match_starts_one_job_that_validates_against_the_kubernetes_schema(
    backend: KubernetesMatchRunner, cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    order = new_order()
    future: Future[MatchResult] = pool.submit(backend.play, order)

    job = wait_for_job(cluster, match_job_name(order.match_id))

    assert list(cluster.jobs()) == [match_job_name(order.match_id)]
    assert job["metadata"]["labels"] == {"rlarena.dev/role": "match", "rlarena.dev/match-id": order.match_id}
    pod = job["spec"]["template"]["spec"]
    images = [agent.image for agent in order.agents if isinstance(agent, ImageEntry)]
    assert [c["image"] for c in pod["initContainers"]] == images
    (runner,) = pod["containers"]
    spec = MatchPodSpec.model_validate_json(runner["args"][1])
    assert [a.agent_id for a in spec.agents] == [a.agent_id for a in order.agents]
    assert pod["automountServiceAccountToken"] is False
    assert_untrusted_pod(pod, ["player-0", "player-1"], max_processes=256)
    # The game's safety wall clock (229 s for tic-tac-toe) plus the start allowance.
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 229 + 120
    document = {key: value for key, value in job.items() if key != "status"}
    kubernetes_validate.validate(document, "1.33.0", strict=True)

    end_match(
        cluster,
        match_job_name(order.match_id),
        runner={"terminated": {"exitCode": 0}},
        log=runner_log(won_by_first(order)),
    )
    assert future.result(timeout=20).status == "SUCCESS"


def test_a_match_pod_runs_under_the_runtime_class_and_in_user_namespaces_when_set(
    tmp_path: Path, cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    settings = make_settings(
        tmp_path,
        USE_K8S=True,
        K8S_NAMESPACE=NAMESPACE,
        CONTAINER_REGISTRY_URL=REGISTRY,
        MATCH_RUNTIME_CLASS="gvisor",
        MATCH_USER_NAMESPACES=True,
        MATCH_AGENT_MAX_PROCESSES=128,
    )
    backend = KubernetesMatchRunner(settings, cluster.api_client, poll_seconds=0.02)
    order = new_order()
    future: Future[MatchResult] = pool.submit(backend.play, order)

    job = wait_for_job(cluster, match_job_name(order.match_id))

    document = {key: value for key, value in job.items() if key != "status"}
    kubernetes_validate.validate(document, "1.33.0", strict=True)
    pod = job["spec"]["template"]["spec"]
    assert (pod["runtimeClassName"], pod["hostUsers"]) == ("gvisor", False)
    assert_untrusted_pod(pod, ["player-0", "player-1"], max_processes=128, runtime_class="gvisor", user_namespaces=True)
    end_match(
        cluster,
        match_job_name(order.match_id),
        runner={"terminated": {"exitCode": 0}},
        log=runner_log(won_by_first(order)),
    )
    assert future.result(timeout=20).status == "SUCCESS"


def test_the_result_and_replay_come_back_from_the_runner_log_with_each_agents_output(
    backend: KubernetesMatchRunner, cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    order = new_order()
    first, second = (agent.agent_id for agent in order.agents)
    chatty = "thinking...\n" * 2000

    future = pool.submit(backend.play, order)
    wait_for_job(cluster, match_job_name(order.match_id))
    end_match(
        cluster,
        match_job_name(order.match_id),
        runner={"terminated": {"exitCode": 0, "reason": "Completed"}},
        log=runner_log(won_by_first(order)),
        agent_logs=("loaded my weights\n", chatty),
    )
    played = app.played(order.match_id, future.result(timeout=20))

    report = played.report
    assert (report.status, report.winner_agent_id, report.total_steps) == ("SUCCESS", first, 5)
    assert [(r.agent_id, r.status, r.score) for r in report.agent_results] == [(first, "OK", 1.0), (second, "OK", 0.0)]
    assert report.agent_results[0].logs == "loaded my weights\n"
    assert report.agent_results[1].logs.endswith("[stderr truncated]")  # capped as locally
    assert len(report.agent_results[1].logs) < 10_100
    assert played.replay is not None and len(played.replay["frames"]) == 6
    assert played.replay["metadata"]["match_id"] == order.match_id


def test_a_crashed_agent_shows_the_output_of_the_run_that_played(
    backend: KubernetesMatchRunner, cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    order = new_order()
    report = play_and_end(
        pool,
        backend,
        cluster,
        order,
        runner={"terminated": {"exitCode": 0}},
        log=runner_log(won_by_first(order)),
        agent_logs=("", "Traceback: boom\n"),
        restarts=(0, 1),  # the sidecar was restarted after its crash; its first run played
    )
    assert report.agent_results[1].logs == "earlier run: Traceback: boom\n"


# --- once only -------------------------------------------------------------------------------------


def test_a_redelivered_match_follows_the_existing_job_and_never_starts_another(
    settings: Settings, cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    order = new_order()
    replica_a = KubernetesMatchRunner(settings, cluster.api_client, poll_seconds=0.02)
    replica_b = KubernetesMatchRunner(settings, cluster.api_client, poll_seconds=0.02)
    name = match_job_name(order.match_id)

    first = pool.submit(replica_a.play, order)
    created = wait_for_job(cluster, name)
    second = pool.submit(replica_b.play, order)  # its create is a 409: it follows the same Job
    time.sleep(0.2)
    assert not second.done()
    end_match(cluster, name, runner={"terminated": {"exitCode": 0}}, log=runner_log(won_by_first(order)))
    late = replica_b.play(order)  # after the end: the Job is kept, so still no second start

    results = [first.result(timeout=20), second.result(timeout=20), late]
    assert [r.winner_agent_id for r in results] == [order.agents[0].agent_id] * 3
    assert all(r.replay == results[0].replay for r in results)
    assert list(cluster.jobs()) == [name]
    assert cluster.jobs()[name]["metadata"].get("uid") == created["metadata"].get("uid")


# --- failures are the platform's, with the reason ---------------------------------------------------


def test_a_runner_out_of_memory_is_a_platform_error_that_blames_no_agent(
    backend: KubernetesMatchRunner, cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    order = new_order()
    report = play_and_end(
        pool,
        backend,
        cluster,
        order,
        runner={"terminated": {"exitCode": 137, "reason": "OOMKilled"}},
        log="",
        agent_logs=("ready\n", "ready\n"),
        failed=("BackoffLimitExceeded", "Job has reached the specified backoff limit"),
    )
    assert (report.status, report.winner_agent_id) == ("ERROR", "")
    assert "ran out of memory" in report.error_message
    assert [(r.status, r.score) for r in report.agent_results] == [("OK", 0.0), ("OK", 0.0)]
    assert [r.logs for r in report.agent_results] == ["ready\n", "ready\n"]


FAILURES = {
    "an agent image that cannot be pulled is named by player": (
        {
            "runner": {"waiting": {"reason": "PodInitializing"}},
            "log": None,
            "agents": (
                {"running": {"startedAt": "2026-01-01T00:00:01Z"}},
                {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}},
            ),
            "failed": ("DeadlineExceeded", "Job was active longer than specified deadline"),
        },
        ["player 1", "ImagePullBackOff"],
    ),
    "a pod past its deadline says so": (
        {
            "runner": {"terminated": {"exitCode": 137, "reason": "Error"}},
            "log": "",
            "failed": ("DeadlineExceeded", "Job was active longer than specified deadline"),
        },
        ["deadline"],
    ),
    "a failed runner gives its exit code and last words": (
        {
            "runner": {"terminated": {"exitCode": 2, "reason": "Error"}},
            "log": "starting\nrlarena match-pod: unknown environment 'go'\n",
            "failed": ("BackoffLimitExceeded", "Job has reached the specified backoff limit"),
        },
        ["exit code 2", "unknown environment 'go'"],
    ),
    "a log without a complete result is not read as one": (
        {"runner": {"terminated": {"exitCode": 0}}, "log": "rlarena-result H4sI\n"},
        ["could not be read", "ends before"],
    ),
}


@pytest.mark.parametrize(("ending", "reasons"), FAILURES.values(), ids=FAILURES.keys())
def test_a_failed_match_pod_is_a_platform_error_with_the_reason(
    backend: KubernetesMatchRunner,
    cluster: Cluster,
    pool: ThreadPoolExecutor,
    ending: dict[str, Any],
    reasons: list[str],
) -> None:
    report = play_and_end(pool, backend, cluster, new_order(), **ending)
    assert (report.status, report.winner_agent_id) == ("ERROR", "")
    for reason in reasons:
        assert reason in report.error_message
    assert all(r.status == "OK" for r in report.agent_results)  # no agent is blamed for the cluster


def test_a_job_deleted_before_it_ended_is_an_error_saying_so(
    backend: KubernetesMatchRunner, cluster: Cluster, pool: ThreadPoolExecutor
) -> None:
    order = new_order()
    future = pool.submit(backend.play, order)
    name = match_job_name(order.match_id)
    wait_for_job(cluster, name)
    cluster.batch.delete_namespaced_job(name, NAMESPACE)
    result = future.result(timeout=20)
    assert result.status == "ERROR" and "deleted" in result.error_message


def test_api_failures_while_waiting_are_retried(
    backend: KubernetesMatchRunner, cluster: Cluster, pool: ThreadPoolExecutor, caplog: pytest.LogCaptureFixture
) -> None:
    order = new_order()
    future = pool.submit(backend.play, order)
    name = match_job_name(order.match_id)
    wait_for_job(cluster, name)
    cluster.fail_requests("get", JOBS, count=5)
    deadline = time.monotonic() + 10
    while caplog.text.count("polling again") < 5 and time.monotonic() < deadline:
        time.sleep(0.02)  # the executor's polls meet the failures
    end_match(cluster, name, runner={"terminated": {"exitCode": 0}}, log=runner_log(won_by_first(order)))
    assert future.result(timeout=20).status == "SUCCESS"
    assert caplog.text.count("500 Internal Server Error; polling again") == 5


def test_local_builds_cannot_run_as_match_pods(backend: KubernetesMatchRunner, cluster: Cluster) -> None:
    order = new_order()
    local = AgentEntry(agent_id=order.agents[1].agent_id, folder=Path("/srv/builds/x"), entry_point="agent.py")
    with pytest.raises(InvalidInput, match="built images"):
        backend.play(MatchOrder(order.match_id, order.environment, (order.agents[0], local), seed=1))
    assert cluster.jobs() == {}


# --- the executor wired for Kubernetes, over gRPC ---------------------------------------------------


def test_the_executor_with_use_k8s_runs_a_grpc_match_as_a_job_and_stores_its_result(
    tmp_path: Path, cluster: Cluster, pool: ThreadPoolExecutor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backend_module, "cluster_api_client", cluster.api_client)  # instead of the Pod's account
    settings = make_settings(tmp_path / "data", USE_K8S=True, K8S_NAMESPACE=NAMESPACE, CONTAINER_REGISTRY_URL=REGISTRY)
    published = RecordingPublisher()
    service, servicer = app.build_servicer(settings, published)
    server, port = start_server(servicer, "127.0.0.1:0")
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        stub = executor_pb2_grpc.ExecutorStub(channel)  # type: ignore[no-untyped-call]
        order = new_order()
        configs = [
            executor_pb2.AgentConfig(agent_id=a.agent_id, docker_image=a.image, entry_point=a.entry_point)
            for a in order.agents
            if isinstance(a, ImageEntry)
        ]
        request = executor_pb2.MatchRequest(
            match_id=order.match_id, environment="tic-tac-toe", agents=configs, record_replay=True, wait=True, seed=11
        )
        answer = pool.submit(stub.RunMatch, request, timeout=60)
        name = match_job_name(order.match_id)
        wait_for_job(cluster, name)
        end_match(cluster, name, runner={"terminated": {"exitCode": 0}}, log=runner_log(won_by_first(order)))
        response = answer.result(timeout=60)
    finally:
        channel.close()
        service.shutdown(grace_seconds=5)
        server.stop(grace=1).wait()

    assert response.status == executor_pb2.SUCCESS
    assert response.winner_agent_id == order.agents[0].agent_id
    assert response.replay_url == f"replays/{order.match_id}.json"
    assert b'"frames"' in object_store_for(settings).get(f"replays/{order.match_id}.json")
    types = [e["type"] for e in published.events]
    assert types == ["dev.rlarena.match.started", "dev.rlarena.match.finished"]
