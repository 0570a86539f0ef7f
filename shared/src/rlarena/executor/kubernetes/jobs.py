"""A match as a Kubernetes Job, built with the client's models. Pure: no API calls.

One Pod per match:

- `player-0` and `player-1`: each agent's built image running the agent runtime in socket mode
  (`rlarena.agent_runtime.serve --listen`), as native sidecars (init containers with
  `restartPolicy: Always`, Kubernetes 1.29+). They start before the runner, and when the runner
  ends the kubelet stops them, so an agent that never returns from a move cannot keep the Job
  running; the Job's outcome is the runner's. A sidecar that dies is restarted, but the runner
  never reconnects: the match already counted the crash.
- `runner`: the executor's image running `rlarena match-pod` (`rlarena.executor.pod_runner`),
  which plays the game and prints the result to its log.

Each agent's socket lives in its own emptyDir, mounted by that agent and the runner only, so an
agent can neither reach nor impersonate the other; so do its /tmp and its /dev/shm (which would
otherwise be the Pod's, shared by every container). No volume is writable by both agents. Nothing
in the Pod has a service-account token, a capability, root, a writable root filesystem, a host
namespace or (NetworkPolicy `match-pods`) a network connection. Agents run under different uids
and gids, share no process namespace, get requests equal to limits (so one agent's load does not
eat the other's move time) and a process cap set by their command (RLIMIT_NPROC: Kubernetes has
no per-container pids limit; the kubelet's podPidsLimit bounds the whole Pod). The Pod spec's
promises shared with validation Pods, and the optional RuntimeClass and user namespace, come from
`kubernetes_pods.untrusted_pod_spec`. Containers of one Pod do share the loopback interface, System V
IPC and POSIX message queues: two agents could talk to each other if both tried, but neither can
reach anything else.
"""

from __future__ import annotations

import math
import uuid

from kubernetes import client as k8s

from rlarena.adapters.kubernetes_pods import (
    AGENT_DIR,
    AGENT_UID,
    PART_OF,
    PART_OF_LABEL,
    ROLE_LABEL,
    UNTRUSTED_TMP_SIZE,
    agent_command,
    locked_down,
    untrusted_pod_spec,
)
from rlarena.config import Settings
from rlarena.environments.base import EnvironmentSpec
from rlarena.executor.kubernetes.images import ImageEntry
from rlarena.executor.pod_runner import MatchPodSpec, PodAgent
from rlarena.executor.runner import SERVE_MODULE
from rlarena.executor.service import MatchOrder

ROLE_MATCH = "match"
MATCH_ID_LABEL = "rlarena.dev/match-id"
RUNNER = "runner"
SOCKET_DIR = "/run/rlarena"
SOCKET_NAME = "agent.sock"
RUNNER_UID = 10000  # apart from the agents' uids (AGENT_UID + player)
# Finished Jobs stay an hour: a redelivered RunMatch finds the Job (409) and reads its result again.
JOB_TTL_SECONDS = 3600
TERMINATION_GRACE_SECONDS = 5
SCRATCH_SIZE = UNTRUSTED_TMP_SIZE
SHM_SIZE = "64Mi"  # in memory: counted in the agent's own memory limit
SOCKET_VOLUME_SIZE = "1Mi"
EPHEMERAL_REQUEST = "64Mi"
EPHEMERAL_LIMIT = "256Mi"


def match_job_name(match_id: str) -> str:
    """`match-<match id hex>`: one name per match, so a second start of the same match is a 409."""
    return f"match-{uuid.UUID(match_id).hex}"


def player_container(player: int) -> str:
    return f"player-{player}"


def match_labels(match_id: str) -> dict[str, str]:
    """On the Job and its Pod. The NetworkPolicy selects the Pod by role."""
    return {ROLE_LABEL: ROLE_MATCH, MATCH_ID_LABEL: str(uuid.UUID(match_id))}


def active_deadline_seconds(settings: Settings, spec: EnvironmentSpec) -> int:
    """The game's wall clock plus the time scheduling, image pulls and start-up may take."""
    return math.ceil(spec.match_timeout_s) + math.ceil(settings.match_pod_start_timeout.total_seconds())


def runner_spec(order: MatchOrder) -> MatchPodSpec:
    return MatchPodSpec(
        match_id=order.match_id,
        environment=order.environment,
        seed=order.seed,
        record_replay=order.record_replay,
        agents=tuple(
            PodAgent(
                agent_id=agent.agent_id,
                socket=f"{SOCKET_DIR}/{player_container(player)}/{SOCKET_NAME}",
                entry_point=agent.entry_point,
            )
            for player, agent in enumerate(order.agents)
        ),
    )


def match_job(settings: Settings, order: MatchOrder, agents: list[ImageEntry], spec: EnvironmentSpec) -> k8s.V1Job:
    """The Job that plays `order`; `agents` are its agents as images, in player order."""
    labels = match_labels(order.match_id)
    pod = untrusted_pod_spec(
        settings,
        init_containers=[_agent_container(settings, player, agent) for player, agent in enumerate(agents)],
        containers=[_runner_container(settings, order)],
        volumes=[
            *(_scratch(f"socket-{player}", SOCKET_VOLUME_SIZE, memory=True) for player in range(len(agents))),
            *(_scratch(f"tmp-{player}", SCRATCH_SIZE) for player in range(len(agents))),
            *(_scratch(f"shm-{player}", SHM_SIZE, memory=True) for player in range(len(agents))),
            _scratch("tmp-runner", SCRATCH_SIZE),
        ],
        termination_grace_period_seconds=TERMINATION_GRACE_SECONDS,
    )
    return k8s.V1Job(
        api_version="batch/v1",
        kind="Job",
        # No part-of label on the Job: the build-jobs ApiServerSource selects Jobs by it, and the
        # executor follows its own Jobs. The Pod carries it.
        metadata=k8s.V1ObjectMeta(name=match_job_name(order.match_id), namespace=settings.k8s_namespace, labels=labels),
        spec=k8s.V1JobSpec(
            backoff_limit=0,  # a match is played once; a platform failure is reported, not retried here
            active_deadline_seconds=active_deadline_seconds(settings, spec),
            ttl_seconds_after_finished=JOB_TTL_SECONDS,
            template=k8s.V1PodTemplateSpec(
                metadata=k8s.V1ObjectMeta(labels={**labels, PART_OF_LABEL: PART_OF}), spec=pod
            ),
        ),
    )


def _agent_container(settings: Settings, player: int, agent: ImageEntry) -> k8s.V1Container:
    name = player_container(player)
    return k8s.V1Container(
        name=name,
        image=agent.image,
        # A rebuild of the same version pushes the same tag again: never play a node's stale copy.
        image_pull_policy="Always",
        restart_policy="Always",  # a native sidecar: stopped by the kubelet once the runner ends
        # The image's entry point with RLIMIT_NPROC set first (`agent_command`).
        command=agent_command(settings.match_agent_max_processes),
        args=[SERVE_MODULE, "--listen", f"{SOCKET_DIR}/{SOCKET_NAME}", AGENT_DIR, agent.entry_point, str(player)],
        volume_mounts=[
            k8s.V1VolumeMount(name=f"socket-{player}", mount_path=SOCKET_DIR),
            k8s.V1VolumeMount(name=f"tmp-{player}", mount_path="/tmp"),  # noqa: S108 - the container's own /tmp
            k8s.V1VolumeMount(name=f"shm-{player}", mount_path="/dev/shm"),  # noqa: S108 - its own, not the Pod's
        ],
        resources=_resources(settings.match_agent_cpu, settings.match_agent_memory),
        security_context=locked_down(AGENT_UID + player),
    )


def _runner_container(settings: Settings, order: MatchOrder) -> k8s.V1Container:
    return k8s.V1Container(
        name=RUNNER,
        image=settings.match_runner_image,
        image_pull_policy="IfNotPresent",
        command=["rlarena", "match-pod"],
        args=["--spec", runner_spec(order).model_dump_json()],
        env=[
            k8s.V1EnvVar(name="HOME", value="/tmp"),  # noqa: S108 - the container's own /tmp
            k8s.V1EnvVar(name="PYTHONDONTWRITEBYTECODE", value="1"),
        ],
        volume_mounts=[
            *(
                k8s.V1VolumeMount(name=f"socket-{player}", mount_path=f"{SOCKET_DIR}/{player_container(player)}")
                for player in range(len(order.agents))
            ),
            k8s.V1VolumeMount(name="tmp-runner", mount_path="/tmp"),  # noqa: S108 - the container's own /tmp
        ],
        resources=_resources(settings.match_runner_cpu, settings.match_runner_memory),
        security_context=locked_down(RUNNER_UID),
    )


def _resources(cpu: str, memory: str) -> k8s.V1ResourceRequirements:
    """Requests equal to limits: the time an agent gets per move must not depend on its neighbours."""
    amounts = {"cpu": cpu, "memory": memory}
    return k8s.V1ResourceRequirements(
        requests={**amounts, "ephemeral-storage": EPHEMERAL_REQUEST},
        limits={**amounts, "ephemeral-storage": EPHEMERAL_LIMIT},
    )


def _scratch(name: str, size: str, *, memory: bool = False) -> k8s.V1Volume:
    return k8s.V1Volume(
        name=name, empty_dir=k8s.V1EmptyDirVolumeSource(medium="Memory" if memory else None, size_limit=size)
    )
