"""The Executor gRPC service (plaintext h2c, so it runs as a Knative Service) over ExecutorService."""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from rlarena.config import Settings
from rlarena.errors import InvalidInput, RLArenaError, grpc_code_name
from rlarena.executor.service import AgentEntry, ExecutorService, MatchOrder, MatchReport, Runner
from rlarena.grpc_gen import executor_pb2, executor_pb2_grpc

log = logging.getLogger(__name__)

AGENT_STATUS = {
    "OK": executor_pb2.AGENT_OK,
    "ERROR": executor_pb2.AGENT_ERROR,
    "TIMEOUT": executor_pb2.AGENT_TIMEOUT,
    "INVALID": executor_pb2.AGENT_INVALID,
}
MATCH_STATUS = {
    "SUCCESS": executor_pb2.SUCCESS,
    "ERROR": executor_pb2.ERROR,
    "TIMEOUT": executor_pb2.TIMEOUT,
    "CANCELLED": executor_pb2.CANCELLED,
}
LOCAL_IMAGE = "local://"


def agent_entry(config: Any) -> AgentEntry:
    """Where an agent's built code is. Locally the builder's folder (`local://<path>`)."""
    image = str(config.docker_image)
    if not image.startswith(LOCAL_IMAGE):
        raise InvalidInput(f"agent {config.agent_id}: this executor runs local builds only (docker_image local://...)")
    folder = Path(image.removeprefix(LOCAL_IMAGE))
    if not folder.is_dir():
        raise InvalidInput(f"agent {config.agent_id}: its build folder is gone; rebuild the submission")
    return AgentEntry(agent_id=str(config.agent_id), folder=folder, entry_point=str(config.entry_point or "agent.py"))


def image_agent_entry(config: Any, registry: str) -> AgentEntry:
    """On Kubernetes an agent is its built image, which must come from the platform's registry."""
    from rlarena.executor.kubernetes.images import image_entry

    image = str(config.docker_image)
    if image.startswith(LOCAL_IMAGE):
        raise InvalidInput(f"agent {config.agent_id}: this executor runs matches on Kubernetes, from built images")
    return image_entry(str(config.agent_id), image, str(config.entry_point or "agent.py"), registry)


def agent_resolver(settings: Settings) -> Callable[[Any], AgentEntry]:
    if settings.use_k8s:
        return functools.partial(image_agent_entry, registry=settings.container_registry_url)
    return agent_entry


class ExecutorServicer(executor_pb2_grpc.ExecutorServicer):
    def __init__(self, service: ExecutorService, run: Runner, resolve: Callable[[Any], AgentEntry] = agent_entry):
        self._service = service
        self._run = run
        self._resolve = resolve

    def RunMatch(self, request: Any, context: Any) -> Any:  # noqa: N802 - gRPC method name
        try:
            if len(request.agents) != 2:
                raise InvalidInput("a match needs exactly two agents")
            order = MatchOrder(
                match_id=request.match_id,
                environment=request.environment,
                agents=(self._resolve(request.agents[0]), self._resolve(request.agents[1])),
                seed=request.seed or _seed_of(request.match_id),
                record_replay=request.record_replay,
            )
            report = self._service.submit(order, wait=request.wait)
        except RLArenaError as error:
            context.abort(getattr(grpc.StatusCode, grpc_code_name(error)), error.message)
        if report is None:
            return executor_pb2.MatchResponse(match_id=request.match_id, status=executor_pb2.UNKNOWN)
        return to_response(report)

    def ValidateAgent(self, request: Any, context: Any) -> Any:  # noqa: N802
        """A short match of the agent against a copy of itself, as Kaggle validates submissions."""
        try:
            entry = self._resolve(request.agent)
            twin = dataclasses.replace(entry, agent_id=str(uuid.uuid4()))  # the same code, or the same image
            order = MatchOrder(str(uuid.uuid4()), request.environment, (entry, twin), seed=1, record_replay=False)
            played = self._run(order)
        except RLArenaError as error:
            context.abort(getattr(grpc.StatusCode, grpc_code_name(error)), error.message)
        mine = [r for r in played.report.agent_results if r.status != "OK"]
        problem = "; ".join(f"{r.status}: {r.error_message}" for r in mine)
        logs = "\n".join(r.logs for r in played.report.agent_results if r.logs)
        return executor_pb2.ValidateResponse(
            valid=not mine and played.report.status == "SUCCESS", error_message=problem, logs=logs
        )

    def HealthCheck(self, request: Any, context: Any) -> Any:  # noqa: N802
        active, maximum, version = self._service.health()
        return executor_pb2.HealthCheckResponse(
            healthy=True, version=version, active_matches=active, max_concurrent_matches=maximum
        )


def _seed_of(match_id: str) -> int:
    """Without a seed from the caller, derive one from the match id: a rerun is reproducible."""
    try:
        return uuid.UUID(match_id).int % (2**31)
    except ValueError:
        return 0


def to_response(report: MatchReport) -> Any:
    return executor_pb2.MatchResponse(
        match_id=report.match_id,
        status=MATCH_STATUS.get(report.status, executor_pb2.UNKNOWN),
        winner_agent_id=report.winner_agent_id,
        agent_results=[
            executor_pb2.AgentResult(
                agent_id=r.agent_id,
                score=r.score,
                status=AGENT_STATUS.get(r.status, executor_pb2.AGENT_ERROR),
                error_message=r.error_message,
                errors=[r.error_message] if r.error_message else [],
            )
            for r in report.agent_results
        ],
        replay_url=report.replay_url,
        error_message=report.error_message,
        total_steps=report.total_steps,
        execution_time_sec=report.execution_time_sec,
    )


def start_server(servicer: ExecutorServicer, address: str, *, workers: int = 8) -> tuple[Any, int]:
    """Start serving on `address` (host:port; port 0 picks one); returns the server and its port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"))
    executor_pb2_grpc.add_ExecutorServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not listen on {address}")
    server.start()
    return server, port
