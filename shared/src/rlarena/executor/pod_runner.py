"""`rlarena match-pod --spec <json>`: the runner container of a match Pod.

Each agent runs in its own container of the Pod (its built image, `rlarena.agent_runtime.serve
--listen`), serving the usual frames on a unix socket in a folder only it and this container
mount. This process connects to both sockets, plays the match with the local runner's game loop
and limits (`rlarena.executor.runner.run_match` with `connect`), and prints the result and the
replay to stdout (`rlarena.executor.result_log`), where the executor reads it through
the Kubernetes API. So the Pod needs no network, no credentials and no storage.

The spec (`MatchPodSpec`, JSON) is written by the executor (`kubernetes/jobs.py`) into the
container's arguments. Exit status: 0 whenever a result was printed (a failed agent or a broken
environment is a result too), 2 for a spec that cannot be read.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rlarena.errors import RLArenaError
from rlarena.executor.result_log import result_lines
from rlarena.executor.runner import AgentSpec, MatchLimits, run_match
from rlarena.sandbox.session import SandboxSession

# Inside an agent's image, where its code is (kubernetes_pods.AGENT_DIR); the runner never reads it.
AGENT_DIR = Path("/agent")
CONNECT_RETRY_SECONDS = 0.05
TimeLimit = Literal["move_timeout_s", "overage_s", "startup_timeout_s", "match_timeout_s"]


class PodAgent(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    agent_id: str = Field(min_length=1)
    socket: str = Field(min_length=1)  # the agent's socket as this container sees it
    entry_point: str = ""


class MatchPodSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    match_id: str = Field(min_length=1)
    environment: str = Field(min_length=1)
    seed: int
    record_replay: bool = True
    agents: tuple[PodAgent, ...] = Field(min_length=2, max_length=2)
    # Overrides of the environment's time limits (tests); the executor leaves them out.
    limits: dict[TimeLimit, float] = Field(default_factory=dict)


class SocketSession(SandboxSession):
    """An agent already running in another container, reached over a connected unix socket.

    It reuses SandboxSession's framing (`send`, `read_available`, `take_frame` work on any file
    descriptor) and replaces what concerns a child process: there is none here to wait for or
    kill, and the agent's output is its own container's log. `sock` None stands for an agent
    that never listened: its channel reads as closed at once, with `problem` as the reason.
    """

    def __init__(self, sock: socket.socket | None, path: str, problem: str = "") -> None:  # no child: no super()
        self._socket = sock or socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # unconnected: reads end at once
        self._socket.setblocking(False)
        self._path = path
        self._problem = problem
        self._in = self._out = self._socket.fileno()
        self._buffer = bytearray()
        self._eof = sock is None
        self._killed = False
        self.cpu_seconds = 0.0

    def take_frame(self) -> Any:
        # Read first: connecting may have taken the whole start-up time (the other agent was late),
        # and a ready frame already waiting in the socket still counts.
        self.read_available()
        return super().take_frame()

    def exit_status(self) -> int | None:
        return None  # unknowable from here; the Pod's status tells the executor

    def describe_exit(self) -> str:
        if self._problem:
            return f"nothing accepted a connection at {self._path}: {self._problem}"
        return "the agent closed its connection"

    def kill(self) -> None:
        """Close the connection: the agent's runtime reads the end and exits. Idempotent."""
        self._killed = True
        self._socket.close()

    def stderr_text(self) -> str:
        return ""

    def stderr_position(self) -> int:
        return 0

    @property
    def stderr_truncated(self) -> bool:
        return False


def connect_sockets(paths: Sequence[str], deadline: float) -> list[SandboxSession]:
    """One session per socket, in order, retrying until each agent listens or `deadline` passes."""
    connected: dict[int, socket.socket] = {}
    problems: dict[int, str] = {}
    while True:
        for player, path in enumerate(paths):
            if player not in connected:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.setblocking(False)  # a full backlog is a retry, never a wait past the deadline
                try:
                    sock.connect(path)
                except OSError as error:  # not there yet, not listening yet, not ours to reach
                    sock.close()
                    problems[player] = error.strerror or type(error).__name__
                else:
                    connected[player] = sock
        remaining = deadline - time.monotonic()
        if len(connected) == len(paths) or remaining <= 0:
            break
        time.sleep(min(CONNECT_RETRY_SECONDS, remaining))
    return [
        SocketSession(connected.get(player), path, "" if player in connected else problems.get(player, "timed out"))
        for player, path in enumerate(paths)
    ]


def play(spec: MatchPodSpec) -> list[str]:
    """Play the match the spec describes; the lines that carry its result."""
    agents = [AgentSpec(agent.agent_id, AGENT_DIR, agent.entry_point) for agent in spec.agents]
    limits = None
    if spec.limits:
        from rlarena.environments import registry

        limits = MatchLimits.from_spec(registry.spec_of(spec.environment), **spec.limits)
    sockets = [agent.socket for agent in spec.agents]
    result = run_match(
        spec.environment,
        agents,
        spec.seed,
        None,
        record_replay=spec.record_replay,
        limits=limits,
        match_id=spec.match_id,
        connect=lambda deadline: connect_sockets(sockets, deadline),
    )
    return list(result_lines(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rlarena match-pod", description="run one match inside a match Pod")
    parser.add_argument("--spec", required=True, help="the match, as MatchPodSpec JSON")
    arguments = parser.parse_args(argv)
    try:
        spec = MatchPodSpec.model_validate_json(arguments.spec)
        lines = play(spec)
    except ValidationError as error:
        print(f"rlarena match-pod: invalid --spec: {error}", file=sys.stderr)
        return 2
    except RLArenaError as error:  # an unknown environment
        print(f"rlarena match-pod: {error.message}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
