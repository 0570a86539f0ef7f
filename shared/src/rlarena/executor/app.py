"""Wiring the executor process: a match runner (local sandboxes, or Jobs on Kubernetes), the service,
the gRPC server."""

from __future__ import annotations

from rlarena import __version__
from rlarena.adapters.storage.factory import object_store_for
from rlarena.config import Settings
from rlarena.events.publisher import Publisher, publisher_for
from rlarena.executor.grpc_server import ExecutorServicer, agent_resolver
from rlarena.executor.runner import AgentSpec, MatchResult, run_match
from rlarena.executor.service import AgentOutcome, ExecutorService, MatchOrder, MatchReport, Played, Runner
from rlarena.sandbox import support
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime


def played(match_id: str, result: MatchResult) -> Played:
    """A runner's result as the service's report (and the replay beside it)."""
    report = MatchReport(
        match_id=match_id,
        status=result.status,
        winner_agent_id=result.winner_agent_id,
        agent_results=[
            AgentOutcome(r.agent_id, r.score, r.status, r.error_message, r.stderr) for r in result.agent_results
        ],
        total_steps=result.total_steps,
        execution_time_sec=result.execution_time_sec,
        error_message=result.error_message,
    )
    return Played(report, result.replay)


def sandboxed_runner(runtime: AgentRuntime) -> Runner:
    """Each agent in its own sandboxed process; see rlarena.executor.runner."""

    def run(order: MatchOrder) -> Played:
        result = run_match(
            order.environment,
            [AgentSpec(a.agent_id, a.folder, a.entry_point) for a in order.agents],
            order.seed,
            runtime,
            record_replay=order.record_replay,
            match_id=order.match_id,
        )
        return played(order.match_id, result)

    return run


def kubernetes_runner(settings: Settings) -> Runner:
    """Each match a Job whose Pod runs both agents' images; see rlarena.executor.kubernetes."""
    from rlarena.executor.kubernetes.backend import KubernetesMatchRunner  # the client costs ~0.3 s to import

    backend = KubernetesMatchRunner(settings)
    return lambda order: played(order.match_id, backend.play(order))


def build_servicer(settings: Settings, publisher: Publisher | None = None) -> tuple[ExecutorService, ExecutorServicer]:
    if settings.use_k8s:
        run = kubernetes_runner(settings)
    else:
        support.announce(
            "the executor",
            production=settings.env == "production",
            favor_cgroup_changes=settings.sandbox_favor_cgroup_changes,
        )
        run = sandboxed_runner(install_runtime(agent_python(settings.agent_python)))
    service = ExecutorService(
        run,
        publisher or publisher_for(settings),
        object_store_for(settings),
        max_concurrent=settings.executor_max_matches,
        version=__version__,
    )
    return service, ExecutorServicer(service, run, agent_resolver(settings))
