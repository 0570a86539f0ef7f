"""A match Pod's containers as local processes: the Job's own commands play a real game.

The Job is built as the executor builds it; each agent container's arguments run the agent
runtime in socket mode in a sandboxed process (the image's entry point is the runtime's
bootstrap, as `AgentRuntime.module_argv` is locally), the runner container's command runs
`rlarena match-pod` with its spec, and the Pod's mount paths are mapped onto temporary folders
the sandbox user can reach. What the runner prints is what the executor reads from its log.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient

from rlarena.adapters.kubernetes_pods import AGENT_DIR
from rlarena.environments import registry
from rlarena.executor.kubernetes.images import ImageEntry, image_entry
from rlarena.executor.kubernetes.jobs import SOCKET_DIR, match_job
from rlarena.executor.pod_runner import MatchPodSpec, PodAgent
from rlarena.executor.result_log import read_result
from rlarena.executor.runner import ERROR, OK, TIMEOUT, MatchResult
from rlarena.executor.service import MatchOrder
from rlarena.sandbox.process import Mount, SandboxLimits
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime
from rlarena.sandbox.session import SandboxSession
from tests.conftest import make_settings
from tests.support.cluster import REGISTRY
from tests.support.hostile import live_processes_of

RLARENA = Path(sys.executable).parent / "rlarena"
FIRST_LEGAL = "def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"
LAST_LEGAL = (
    "def agent(observation, configuration):\n"
    "    mask = observation['action_mask']\n"
    "    return len(mask) - 1 - mask[::-1].index(1)\n"
)
FAST = {"move_timeout_s": 0.5, "overage_s": 0.5, "startup_timeout_s": 5.0, "match_timeout_s": 20.0}


@pytest.fixture(scope="module")
def runtime() -> Iterator[AgentRuntime]:
    # pytest's tmp_path sits under a 0700 folder of root's, closed to the sandbox user.
    folder = Path(tempfile.mkdtemp(prefix="rlarena-pod-runtime-"))
    try:
        yield install_runtime(agent_python(None))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def pod_root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-pod-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def sessions() -> Iterator[list[SandboxSession]]:
    """The agent processes; killed at the end as the kubelet stops a Pod's sidecars."""
    before = _sandbox_pids()
    started: list[SandboxSession] = []
    yield started
    for session in started:
        session.kill()
    deadline = time.monotonic() + 3
    while (left := _sandbox_pids() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"agent processes left running: {sorted(left)}"


def _sandbox_pids() -> set[int]:
    return set(live_processes_of())


class LocalPod:
    """The match Job's containers, started as local processes in `root`."""

    def __init__(self, root: Path, runtime: AgentRuntime, sessions: list[SandboxSession], codes: list[str]) -> None:
        self.root = root
        self.runtime = runtime
        self.sessions = sessions
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        agents = (
            image_entry(first, f"{REGISTRY}/{first}:s-v1", "agent.py", REGISTRY),
            image_entry(second, f"{REGISTRY}/{second}:s-v1", "agent.py", REGISTRY),
        )
        self.order = MatchOrder(match_id=str(uuid.uuid4()), environment="tic-tac-toe", agents=agents, seed=5)
        images = [agent for agent in agents if isinstance(agent, ImageEntry)]
        settings = make_settings(root / "data", USE_K8S=True, CONTAINER_REGISTRY_URL=REGISTRY)
        job = match_job(settings, self.order, images, registry.spec_of("tic-tac-toe"))
        self.pod: dict[str, Any] = ApiClient().sanitize_for_serialization(job)["spec"]["template"]["spec"]  # type: ignore[no-untyped-call]
        for player, code in enumerate(codes):
            folder = root / f"agent-{player}"
            folder.mkdir(mode=0o755)
            (folder / "agent.py").write_text(code)
            (folder / "agent.py").chmod(0o644)
            sockets = root / f"socket-{player}"
            sockets.mkdir()
            sockets.chmod(0o777)  # as an emptyDir is: the agent's uid creates its socket there

    def socket(self, player: int) -> Path:
        return self.root / f"socket-{player}" / "agent.sock"

    def start_agent(self, player: int) -> SandboxSession:
        """The agent container's own arguments, its mounts mapped onto this folder."""
        container = self.pod["initContainers"][player]
        mapped = {SOCKET_DIR: str(self.root / f"socket-{player}"), AGENT_DIR: str(self.root / f"agent-{player}")}
        module, *args = [
            next((v + a[len(k) :] for k, v in mapped.items() if a.startswith(k)), a) for a in container["args"]
        ]
        argv = self.runtime.module_argv(module, *args)
        code, sockets = self.root / f"agent-{player}", self.root / f"socket-{player}"
        mounts = [Mount(code), Mount(self.runtime.path), Mount(sockets, writable=True)]
        session = SandboxSession(argv, cwd=code, limits=SandboxLimits(wall_seconds=60), mounts=mounts)
        self.sessions.append(session)
        return session

    def run_runner(self, **limits: float) -> subprocess.CompletedProcess[str]:
        """The runner container's own command and spec, its sockets mapped onto this folder."""
        (runner,) = self.pod["containers"]
        assert runner["command"] == ["rlarena", "match-pod"]
        flag, text = runner["args"]
        spec = MatchPodSpec.model_validate_json(text)
        agents = tuple(PodAgent(agent_id=a.agent_id, socket=str(self.socket(p))) for p, a in enumerate(spec.agents))
        local = spec.model_copy(update={"agents": agents, "limits": {**FAST, **limits}})
        command = [str(RLARENA), *runner["command"][1:], flag, local.model_dump_json()]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)

    def ids(self) -> list[str]:
        return [agent.agent_id for agent in self.order.agents]


def played(completed: subprocess.CompletedProcess[str]) -> MatchResult:
    assert completed.returncode == 0, completed.stderr
    return read_result(completed.stdout)


def test_the_pods_own_commands_play_a_whole_game_and_print_the_result_and_replay(
    pod_root: Path, runtime: AgentRuntime, sessions: list[SandboxSession]
) -> None:
    pod = LocalPod(pod_root, runtime, sessions, [FIRST_LEGAL, LAST_LEGAL])
    agents = [pod.start_agent(0), pod.start_agent(1)]

    result = played(pod.run_runner())

    first, second = pod.ids()
    assert result.status == "SUCCESS", result.error_message
    assert [(r.agent_id, r.status) for r in result.agent_results] == [(first, OK), (second, OK)]
    assert result.total_steps >= 5 and result.outcome_reason
    assert result.winner_agent_id in (first, second, "")
    assert sorted(r.score for r in result.agent_results) in ([0.0, 1.0], [0.5, 0.5])
    assert result.replay is not None
    assert len(result.replay["frames"]) == result.total_steps + 1
    assert result.replay["frames"][-1]["done"] is True
    assert result.replay["metadata"]["match_id"] == pod.order.match_id
    assert result.replay["metadata"]["seed"] == 5
    # The runner closed the connections: each agent's runtime ended by itself, and its socket is gone.
    for agent in agents:
        deadline = time.monotonic() + 5
        while agent.exit_status() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert agent.exit_status() == 0, agent.stderr_text()
    assert not pod.socket(0).exists() and not pod.socket(1).exists()


def test_an_agent_that_cannot_load_loses_with_its_error_sent_over_the_socket(
    pod_root: Path, runtime: AgentRuntime, sessions: list[SandboxSession]
) -> None:
    pod = LocalPod(pod_root, runtime, sessions, [FIRST_LEGAL, "raise RuntimeError('no weights found')\n"])
    pod.start_agent(0)
    pod.start_agent(1)

    result = played(pod.run_runner())

    first, second = pod.ids()
    assert result.status == "SUCCESS" and result.winner_agent_id == first
    bad = result.agent_results[1]
    assert (bad.agent_id, bad.status) == (second, ERROR)
    assert "no weights found" in bad.error_message


def test_an_agent_that_never_listens_loses_once_the_start_up_time_is_over(
    pod_root: Path, runtime: AgentRuntime, sessions: list[SandboxSession]
) -> None:
    pod = LocalPod(pod_root, runtime, sessions, [FIRST_LEGAL, FIRST_LEGAL])
    pod.start_agent(0)  # player 1's container never runs the runtime

    started = time.monotonic()
    result = played(pod.run_runner(startup_timeout_s=1.0))

    assert time.monotonic() - started < 10
    assert result.winner_agent_id == pod.ids()[0], [(r.status, r.error_message) for r in result.agent_results]
    missing = result.agent_results[1]
    assert missing.status == ERROR
    assert "nothing accepted a connection" in missing.error_message and str(pod.socket(1)) in missing.error_message


def test_an_agent_that_stops_answering_times_out_and_the_runner_still_ends(
    pod_root: Path, runtime: AgentRuntime, sessions: list[SandboxSession]
) -> None:
    stuck = "def agent(observation, configuration):\n    while True:\n        pass\n"
    pod = LocalPod(pod_root, runtime, sessions, [FIRST_LEGAL, stuck])
    pod.start_agent(0)
    pod.start_agent(1)

    result = played(pod.run_runner())

    assert result.winner_agent_id == pod.ids()[0]
    assert result.agent_results[1].status == TIMEOUT


def test_a_spec_the_runner_cannot_read_ends_with_status_2_and_no_result(pod_root: Path) -> None:
    completed = subprocess.run(
        [str(RLARENA), "match-pod", "--spec", '{"match_id": "m"}'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "invalid --spec" in completed.stderr
    assert "rlarena-result" not in completed.stdout
