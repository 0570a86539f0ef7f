"""A match Pod's agent containers run by their whole command lines, the process cap included.

`test_pod_runner.py` plays the containers' arguments under the local sandbox. Here each agent
container's own `command` and `args` (the image's entry point replaced by `agent_command`) run as
local processes with the image's folders mapped onto temporary ones, and the runner's game loop
(`pod_runner.play`, the runner container's code) plays them: the Pod's real command lines load the
runtime, listen and play a whole game, and the processes that run the agents carry the cap.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes.client import ApiClient

from rlarena.adapters.builders.kaniko_context import runtime_files
from rlarena.adapters.kubernetes_pods import AGENT_DIR, RUNTIME_ROOT
from rlarena.environments import registry
from rlarena.executor.kubernetes.images import ImageEntry, image_entry
from rlarena.executor.kubernetes.jobs import SOCKET_DIR, match_job
from rlarena.executor.pod_runner import MatchPodSpec, PodAgent, play
from rlarena.executor.result_log import read_result
from rlarena.executor.runner import OK
from rlarena.executor.service import MatchOrder
from tests.conftest import make_settings
from tests.support.cluster import REGISTRY

CAP = 64
FAST = {"move_timeout_s": 2.0, "overage_s": 2.0, "startup_timeout_s": 20.0, "match_timeout_s": 60.0}
FIRST_LEGAL = "def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:  # the kubelet stops the sidecars once the runner has ended
        process.kill()
        process.wait(timeout=10)


def nproc_limit(pid: int) -> tuple[str, str]:
    (line,) = [row for row in Path(f"/proc/{pid}/limits").read_text().splitlines() if row.startswith("Max processes")]
    soft, hard = line.split()[2:4]
    return soft, hard


def test_the_agent_containers_own_command_lines_play_a_whole_game_under_the_process_cap(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    agents = (
        image_entry(first, f"{REGISTRY}/{first}:s-v1", "agent.py", REGISTRY),
        image_entry(second, f"{REGISTRY}/{second}:s-v1", "agent.py", REGISTRY),
    )
    order = MatchOrder(match_id=str(uuid.uuid4()), environment="tic-tac-toe", agents=agents, seed=3)
    settings = make_settings(
        tmp_path / "data", USE_K8S=True, CONTAINER_REGISTRY_URL=REGISTRY, MATCH_AGENT_MAX_PROCESSES=CAP
    )
    images = [agent for agent in agents if isinstance(agent, ImageEntry)]
    job = match_job(settings, order, images, registry.spec_of("tic-tac-toe"))
    pod: dict[str, Any] = ApiClient().sanitize_for_serialization(job)["spec"]["template"]["spec"]  # type: ignore[no-untyped-call]
    # The image's runtime folder, as the generated Dockerfile lays it out.
    runtime = tmp_path / "runtime"
    for name, content in runtime_files().items():
        (runtime / name).parent.mkdir(parents=True, exist_ok=True)
        (runtime / name).write_bytes(content)

    sockets = []
    for player, container in enumerate(pod["initContainers"]):
        code_folder, socket_folder = tmp_path / f"agent-{player}", tmp_path / f"socket-{player}"
        code_folder.mkdir()
        socket_folder.mkdir()
        (code_folder / "agent.py").write_text(FIRST_LEGAL)
        mapped = {SOCKET_DIR: str(socket_folder), AGENT_DIR: str(code_folder)}

        def local(argument: str, mapped: dict[str, str] = mapped) -> str:
            """An argument naming a folder of the Pod, as the same place here."""
            for inside, outside in mapped.items():
                if argument == inside or argument.startswith(inside + "/"):
                    return outside + argument[len(inside) :]
            return argument

        python, isolated, flag, code = container["command"]
        assert (python, isolated, flag) == ("python", "-I", "-c")
        argv = [sys.executable, isolated, flag, code.replace(RUNTIME_ROOT, str(runtime))]
        argv += [local(argument) for argument in container["args"]]
        processes.append(subprocess.Popen(argv, cwd=code_folder, stderr=subprocess.DEVNULL))
        sockets.append(socket_folder / "agent.sock")

    deadline = time.monotonic() + 20
    while not all(path.exists() for path in sockets) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert all(path.exists() for path in sockets), "the agents' runtimes never listened"
    # The processes that run the agents' code carry the cap (lowered further only by a lower hard limit).
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    expected = str(CAP if hard == resource.RLIM_INFINITY else min(CAP, hard))
    for process in processes:
        assert nproc_limit(process.pid) == (expected, expected)

    (runner,) = pod["containers"]
    spec = MatchPodSpec.model_validate_json(runner["args"][1])
    local_agents = tuple(PodAgent(agent_id=a.agent_id, socket=str(sockets[p])) for p, a in enumerate(spec.agents))
    result = read_result("\n".join(play(spec.model_copy(update={"agents": local_agents, "limits": FAST}))))

    assert result.status == "SUCCESS", result.error_message
    assert [(r.agent_id, r.status, r.error_message) for r in result.agent_results] == [
        (first, OK, ""),
        (second, OK, ""),
    ]
    assert result.total_steps >= 5
    for process in processes:  # the runner closed the connections: each runtime ended by itself
        assert process.wait(timeout=10) == 0
