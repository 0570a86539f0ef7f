"""Matches on Kubernetes, the pure parts: the match Job, how its result travels in a log, which images run."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, cast

import kubernetes_validate
import pytest
from kubernetes.client import ApiClient

from rlarena.adapters.kubernetes_pods import AGENT_UID, RUNTIME_ROOT, agent_command
from rlarena.config import Settings
from rlarena.environments import registry
from rlarena.errors import InvalidInput
from rlarena.executor.grpc_server import ExecutorServicer, agent_entry, agent_resolver, image_agent_entry
from rlarena.executor.kubernetes.images import ImageEntry, image_entry
from rlarena.executor.kubernetes.jobs import match_job, match_job_name
from rlarena.executor.pod_runner import MatchPodSpec
from rlarena.executor.result_log import ResultUnreadable, read_result, result_lines
from rlarena.executor.runner import SERVE_MODULE, AgentResult, MatchResult
from rlarena.executor.service import AgentOutcome, MatchOrder, MatchReport, Played
from rlarena.grpc_gen import executor_pb2
from tests.conftest import make_settings
from tests.support.pod_security import assert_untrusted_pod, writable_volumes

REGISTRY = "registry.example.com/rlarena"
MATCH_ID = "6f1c2d3e-4a5b-4c6d-8e7f-a1b2c3d4e5f6"
FIRST, SECOND = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
PLAYERS = ["player-0", "player-1"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(
        tmp_path,
        USE_K8S=True,
        K8S_NAMESPACE="matches",
        CONTAINER_REGISTRY_URL=REGISTRY,
        CONTAINER_REGISTRY_SECRET="pull-credentials",
        MATCH_RUNNER_IMAGE="registry.example.com/rlarena-executor:1.2",
        MATCH_AGENT_CPU="750m",
        MATCH_AGENT_MEMORY="768Mi",
        MATCH_RUNNER_CPU="250m",
        MATCH_RUNNER_MEMORY="384Mi",
        MATCH_POD_START_TIMEOUT="90s",
    )


def order(environment: str = "connect-four") -> MatchOrder:
    agents = (
        image_entry(FIRST, f"{REGISTRY}/{FIRST}:s1-v1", "agent.py", REGISTRY),
        image_entry(SECOND, f"{REGISTRY}/{SECOND}:s2-v4", "bots/main.py", REGISTRY),
    )
    return MatchOrder(match_id=MATCH_ID, environment=environment, agents=agents, seed=42)


def job_document(settings: Settings, environment: str = "connect-four") -> dict[str, Any]:
    ordered = order(environment)
    images = [agent for agent in ordered.agents if isinstance(agent, ImageEntry)]
    job = match_job(settings, ordered, images, registry.spec_of(environment))
    document: dict[str, Any] = ApiClient().sanitize_for_serialization(job)  # type: ignore[no-untyped-call]
    return document


def a_result(**overrides: Any) -> MatchResult:
    values: dict[str, Any] = {
        "status": "SUCCESS",
        "winner_agent_id": FIRST,
        "agent_results": [AgentResult(FIRST, 1.0, move_times=[0.01]), AgentResult(SECOND, 0.0, "INVALID", "no")],
        "total_steps": 2,
        "execution_time_sec": 0.5,
        "seed": 42,
        "replay": {"frames": [{"frame_number": n, "info": {"board": "x" * 300}} for n in range(3)], "version": 1},
        "outcome_reason": "INVALID by b",
    }
    values.update(overrides)
    return MatchResult(**values)


def incompressible_replay() -> dict[str, Any]:
    """Frames of random text, so the compressed result still needs several lines."""
    return {"frames": [{"info": "".join(uuid.uuid4().hex for _ in range(50))} for _ in range(20)]}


# --- the Job -------------------------------------------------------------------------------------


def test_the_match_job_validates_strictly_against_the_kubernetes_schema(settings: Settings) -> None:
    kubernetes_validate.validate(job_document(settings), "1.33.0", strict=True)


def test_one_job_name_per_match_so_a_second_start_collides(settings: Settings) -> None:
    document = job_document(settings)
    assert document["metadata"]["name"] == match_job_name(MATCH_ID) == f"match-{uuid.UUID(MATCH_ID).hex}"
    assert document["metadata"]["namespace"] == "matches"
    labels = {"rlarena.dev/role": "match", "rlarena.dev/match-id": MATCH_ID}
    assert document["metadata"]["labels"] == labels
    assert document["spec"]["template"]["metadata"]["labels"] == {**labels, "app.kubernetes.io/part-of": "rlarena"}


def test_the_agents_run_their_images_as_sidecars_serving_a_socket_each(settings: Settings) -> None:
    pod = job_document(settings)["spec"]["template"]["spec"]
    first, second = pod["initContainers"]
    assert (first["name"], first["image"]) == ("player-0", f"{REGISTRY}/{FIRST}:s1-v1")
    assert second["image"] == f"{REGISTRY}/{SECOND}:s2-v4"
    assert first["restartPolicy"] == second["restartPolicy"] == "Always"  # native sidecars
    assert first["imagePullPolicy"] == "Always"
    assert first["args"] == [SERVE_MODULE, "--listen", "/run/rlarena/agent.sock", "/agent", "agent.py", "0"]
    assert second["args"][-2:] == ["bots/main.py", "1"]
    # Each agent mounts its own socket folder, /tmp and /dev/shm only; the runner mounts both sockets.
    assert {m["name"] for m in first["volumeMounts"]} == {"socket-0", "tmp-0", "shm-0"}
    assert {m["name"] for m in second["volumeMounts"]} == {"socket-1", "tmp-1", "shm-1"}
    (runner,) = pod["containers"]
    assert {m["name"]: m["mountPath"] for m in runner["volumeMounts"]} == {
        "socket-0": "/run/rlarena/player-0",
        "socket-1": "/run/rlarena/player-1",
        "tmp-runner": "/tmp",  # noqa: S108 - the container's own /tmp
    }


def test_the_runner_is_told_the_match_and_where_each_agent_listens(settings: Settings) -> None:
    (runner,) = job_document(settings)["spec"]["template"]["spec"]["containers"]
    assert runner["image"] == "registry.example.com/rlarena-executor:1.2"
    assert runner["command"] == ["rlarena", "match-pod"]
    assert runner["args"][0] == "--spec"
    spec = MatchPodSpec.model_validate_json(runner["args"][1])
    assert (spec.match_id, spec.environment, spec.seed, spec.record_replay) == (MATCH_ID, "connect-four", 42, True)
    assert [(a.agent_id, a.socket) for a in spec.agents] == [
        (FIRST, "/run/rlarena/player-0/agent.sock"),
        (SECOND, "/run/rlarena/player-1/agent.sock"),
    ]
    assert spec.limits == {}  # the environment's own limits, as locally


def test_nothing_in_the_pod_has_a_token_root_capabilities_or_a_writable_root(settings: Settings) -> None:
    pod = job_document(settings)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    assert pod["shareProcessNamespace"] is False
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"] == {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["imagePullSecrets"] == [{"name": "pull-credentials"}]
    containers = [*pod["initContainers"], *pod["containers"]]
    for container in containers:
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True and security["runAsUser"] > 0, container["name"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False and security["privileged"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert "envFrom" not in container
    uids = [c["securityContext"]["runAsUser"] for c in containers]
    assert uids[:2] == [AGENT_UID, AGENT_UID + 1] and len(set(uids)) == 3


def test_the_match_pod_keeps_every_promise_of_a_pod_that_runs_agent_code(settings: Settings) -> None:
    pod = job_document(settings)["spec"]["template"]["spec"]
    assert_untrusted_pod(pod, PLAYERS, max_processes=256)


@pytest.mark.parametrize(
    ("overrides", "runtime_class", "user_namespaces"),
    [
        ({}, None, False),
        ({"MATCH_RUNTIME_CLASS": "gvisor"}, "gvisor", False),
        ({"MATCH_USER_NAMESPACES": True}, None, True),
        (
            {"MATCH_RUNTIME_CLASS": "kata.qemu", "MATCH_USER_NAMESPACES": True, "MATCH_AGENT_MAX_PROCESSES": 64},
            "kata.qemu",
            True,
        ),
    ],
)
def test_a_runtime_class_and_user_namespaces_appear_only_when_set(
    tmp_path: Path, overrides: dict[str, Any], runtime_class: str | None, user_namespaces: bool
) -> None:
    settings = make_settings(tmp_path, USE_K8S=True, CONTAINER_REGISTRY_URL=REGISTRY, **overrides)
    document = job_document(settings)
    kubernetes_validate.validate(document, "1.33.0", strict=True)
    pod = document["spec"]["template"]["spec"]
    assert_untrusted_pod(
        pod,
        PLAYERS,
        max_processes=overrides.get("MATCH_AGENT_MAX_PROCESSES", 256),
        runtime_class=runtime_class,
        user_namespaces=user_namespaces,
    )


def test_the_two_agents_never_share_a_uid_a_gid_or_a_volume(settings: Settings) -> None:
    pod = job_document(settings)["spec"]["template"]["spec"]
    first, second = pod["initContainers"]
    (runner,) = pod["containers"]
    ids = [(c["securityContext"]["runAsUser"], c["securityContext"]["runAsGroup"]) for c in (first, second, runner)]
    assert ids == [(AGENT_UID, AGENT_UID), (AGENT_UID + 1, AGENT_UID + 1), (10000, 10000)]
    assert not writable_volumes(first) & writable_volumes(second)
    mounted_by: dict[str, set[str]] = {}
    for container in (first, second, runner):
        for mount in container["volumeMounts"]:
            mounted_by.setdefault(mount["name"], set()).add(container["name"])
    # A socket folder is the agent's and the runner's; everything else belongs to one container.
    assert mounted_by == {
        "socket-0": {"player-0", "runner"},
        "socket-1": {"player-1", "runner"},
        "tmp-0": {"player-0"},
        "tmp-1": {"player-1"},
        "shm-0": {"player-0"},
        "shm-1": {"player-1"},
        "tmp-runner": {"runner"},
    }
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert set(volumes) == set(mounted_by)
    for name in ("socket-0", "shm-0"):  # in memory, counted in the agent's memory limit
        assert volumes[name]["emptyDir"]["medium"] == "Memory" and volumes[name]["emptyDir"]["sizeLimit"]
    # Each agent is told its own socket, in its own folder, and the runner connects to each there.
    sockets = [a.socket for a in MatchPodSpec.model_validate_json(runner["args"][1]).agents]
    assert sockets == ["/run/rlarena/player-0/agent.sock", "/run/rlarena/player-1/agent.sock"]


def test_the_agent_command_caps_processes_before_the_image_runtime_starts(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "limits_probe.py").write_text(
        "import resource, sys\n"
        "print(resource.getrlimit(resource.RLIMIT_NPROC), resource.getrlimit(resource.RLIMIT_CORE), sys.argv[1:])\n"
    )
    first = job_document(settings)["spec"]["template"]["spec"]["initContainers"][0]
    assert first["command"] == agent_command(256)
    python, isolated, flag, code = agent_command(40)
    assert (python, isolated, flag) == ("python", "-I", "-c") and RUNTIME_ROOT in code
    argv = [sys.executable, isolated, flag, code.replace(RUNTIME_ROOT, str(tmp_path)), "limits_probe", "a", "b"]

    def run(preset: int | None = None) -> str:
        def lower() -> None:
            if preset is not None:
                resource.setrlimit(resource.RLIMIT_NPROC, (preset, preset))

        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True, preexec_fn=lower)
        return done.stdout.strip()

    assert run() == "(40, 40) (0, 0) ['a', 'b']"
    # A lower limit from the container runtime is kept: never raised, so setting it cannot fail.
    assert run(preset=20) == "(20, 20) (0, 0) ['a', 'b']"


def test_every_container_has_its_resources_from_settings_with_requests_equal_to_limits(settings: Settings) -> None:
    pod = job_document(settings)["spec"]["template"]["spec"]
    for agent in pod["initContainers"]:
        resources = agent["resources"]
        assert {k: resources["limits"][k] for k in ("cpu", "memory")} == {"cpu": "750m", "memory": "768Mi"}
        assert {k: resources["requests"][k] for k in ("cpu", "memory")} == {"cpu": "750m", "memory": "768Mi"}
        assert "ephemeral-storage" in resources["limits"]
    (runner,) = pod["containers"]
    assert runner["resources"]["limits"]["cpu"] == runner["resources"]["requests"]["cpu"] == "250m"
    assert runner["resources"]["limits"]["memory"] == "384Mi"


def test_the_job_runs_once_within_the_game_clock_plus_the_start_allowance(settings: Settings) -> None:
    spec = job_document(settings, "chess")["spec"]
    assert spec["backoffLimit"] == 0
    # The game's safety wall clock (derived from the players' limits: 5260 s for chess), then MATCH_POD_START_TIMEOUT.
    assert spec["activeDeadlineSeconds"] == 5260 + 90
    assert spec["ttlSecondsAfterFinished"] == 3600
    assert job_document(settings, "tic-tac-toe")["spec"]["activeDeadlineSeconds"] == 229 + 90


def test_resource_settings_must_be_kubernetes_quantities(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MATCH_AGENT_MEMORY"):
        make_settings(tmp_path, MATCH_AGENT_MEMORY="1 GB")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MATCH_RUNTIME_CLASS", "gVisor"),
        ("MATCH_RUNTIME_CLASS", "runsc --debug"),
        ("MATCH_RUNTIME_CLASS", "-gvisor"),
        ("MATCH_AGENT_MAX_PROCESSES", 0),
        ("MATCH_AGENT_MAX_PROCESSES", 8),
    ],
)
def test_isolation_settings_refuse_what_kubernetes_or_an_agent_could_not_live_with(
    tmp_path: Path, name: str, value: object
) -> None:
    with pytest.raises(ValueError, match=name):
        overrides: dict[str, Any] = {name: value}
        make_settings(tmp_path, **overrides)


def test_isolation_settings_default_to_the_clusters_runtime_and_users(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert (settings.match_runtime_class, settings.match_user_namespaces) == ("", False)
    assert settings.match_agent_max_processes == 256


# --- the result in the runner's log --------------------------------------------------------------


def test_a_result_survives_the_log_among_other_output() -> None:
    result = a_result()
    log = "pygame-ce 2.5 (SDL 2.30)\n" + "\n".join(result_lines(result)) + "\nbye\n"
    assert read_result(log) == result


def test_the_result_is_cut_into_short_lines() -> None:
    lines = list(result_lines(a_result(replay=incompressible_replay())))
    assert len(lines) > 3
    assert all(len(line) <= 4100 for line in lines)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda lines: lines[:-1], "ends before"),  # the end line lost: a log cut short
        (lambda lines: lines[:1] + lines[2:], "parts"),  # a middle line lost (rotation)
        (lambda lines: [lines[0][:-8] + "AAAAAAAA", *lines[1:]], "digest"),
        (lambda lines: [], "no result"),
    ],
)
def test_a_damaged_or_missing_result_is_refused(damage: Any, reason: str) -> None:
    lines = list(result_lines(a_result(replay=incompressible_replay())))
    assert len(lines) > 2
    with pytest.raises(ResultUnreadable, match=reason):
        read_result("\n".join(damage(lines)))


# --- which images may run ------------------------------------------------------------------------


def config(image: str, agent_id: str = FIRST) -> Any:
    return executor_pb2.AgentConfig(agent_id=agent_id, docker_image=image, entry_point="main.py")


def test_on_kubernetes_agents_resolve_to_images_from_the_platforms_registry(settings: Settings) -> None:
    resolve = agent_resolver(settings)
    entry = resolve(config(f"{REGISTRY}/{FIRST}:sub-v2"))
    assert isinstance(entry, ImageEntry)
    assert (entry.agent_id, entry.image, entry.entry_point) == (FIRST, f"{REGISTRY}/{FIRST}:sub-v2", "main.py")


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/library/python:3.11",  # not the platform's registry
        "registry.example.com/rlarena-evil/x:1",  # a prefix of the registry is not the registry
        f"{REGISTRY}/",
        f"{REGISTRY}/../other/x:1",
        f"{REGISTRY}/x:1 --privileged",
        "local:///srv/builds/agent",
    ],
)
def test_on_kubernetes_other_images_and_local_builds_are_refused(settings: Settings, image: str) -> None:
    with pytest.raises(InvalidInput):
        image_agent_entry(config(image), REGISTRY)


def test_locally_agents_still_resolve_to_build_folders(tmp_path: Path) -> None:
    assert agent_resolver(make_settings(tmp_path)) is agent_entry


def test_validating_an_agent_on_kubernetes_plays_its_image_against_itself(settings: Settings) -> None:
    orders: list[MatchOrder] = []

    def run(order: MatchOrder) -> Played:
        orders.append(order)
        outcomes = [AgentOutcome(agent.agent_id, 0.5, "OK") for agent in order.agents]
        return Played(MatchReport(order.match_id, "SUCCESS", "", outcomes), None)

    servicer = ExecutorServicer(cast(Any, None), run, agent_resolver(settings))
    request = executor_pb2.ValidateRequest(agent=config(f"{REGISTRY}/{FIRST}:s-v1"), environment="pong")
    response = servicer.ValidateAgent(request, context=None)

    assert response.valid
    (played,) = orders
    assert [a.image for a in played.agents if isinstance(a, ImageEntry)] == [f"{REGISTRY}/{FIRST}:s-v1"] * 2
    assert played.agents[0].agent_id == FIRST != played.agents[1].agent_id


def test_the_runner_spec_refuses_what_it_does_not_know() -> None:
    agents = [{"agent_id": FIRST, "socket": "/a"}, {"agent_id": SECOND, "socket": "/b"}]
    good = {"match_id": MATCH_ID, "environment": "pong", "seed": 1, "agents": agents}
    MatchPodSpec.model_validate_json(json.dumps(good))
    for bad in (
        {**good, "agents": agents[:1]},
        {**good, "limits": {"memory_bytes": 1}},
        {**good, "extra": True},
    ):
        with pytest.raises(ValueError):
            MatchPodSpec.model_validate_json(json.dumps(bad))
