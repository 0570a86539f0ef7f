"""Starting matches on the executor over gRPC (EXECUTOR_URL), without waiting for them.

The executor answers RunMatch(wait=false) at once and reports the game by CloudEvents
(match.started / finished / failed). grpc is imported on first use: only the matchmaker dispatches.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Protocol

from rlarena.errors import ServiceUnavailable


class DispatchFailed(ServiceUnavailable):
    """The executor did not take the match (down, overloaded, refused it)."""

    code = "dispatch_failed"


@dataclass(frozen=True)
class DispatchAgent:
    agent_id: str
    submission_id: str
    version: int
    image: str  # local://<build folder> locally; a registry image on Kubernetes
    entry_point: str


@dataclass(frozen=True)
class DispatchOrder:
    match_id: str
    environment: str
    agents: tuple[DispatchAgent, DispatchAgent]
    seed: int
    timeout_s: int


class MatchDispatcher(Protocol):
    def start(self, order: DispatchOrder) -> None: ...

    def close(self) -> None: ...


class GrpcExecutorClient:
    def __init__(self, url: str, timeout_s: float) -> None:
        self._url = url
        self._timeout = timeout_s
        self._lock = threading.Lock()
        self._channel: Any = None
        self._stub: Any = None

    def start(self, order: DispatchOrder) -> None:
        import grpc

        from rlarena.grpc_gen import executor_pb2

        request = executor_pb2.MatchRequest(
            match_id=order.match_id,
            environment=order.environment,
            agents=[
                executor_pb2.AgentConfig(
                    agent_id=a.agent_id,
                    submission_id=a.submission_id,
                    version=a.version,
                    docker_image=a.image,
                    entry_point=a.entry_point,
                )
                for a in order.agents
            ],
            timeout_sec=order.timeout_s,
            record_replay=True,
            seed=order.seed,
            wait=False,
        )
        try:
            self._executor().RunMatch(request, timeout=self._timeout)
        except grpc.RpcError as error:
            code = error.code().name if hasattr(error, "code") else "UNKNOWN"
            detail = error.details() if hasattr(error, "details") else ""
            raise DispatchFailed(f"the executor did not take the match ({code}: {detail or 'no detail'})") from None

    def close(self) -> None:
        with self._lock:
            if self._channel is not None:
                self._channel.close()
            self._channel = self._stub = None

    def _executor(self) -> Any:
        with self._lock:
            if self._stub is None:
                import grpc

                from rlarena.grpc_gen import executor_pb2_grpc

                self._channel = grpc.insecure_channel(self._url)
                self._stub = executor_pb2_grpc.ExecutorStub(self._channel)  # type: ignore[no-untyped-call]
            return self._stub
