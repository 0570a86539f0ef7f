"""Wiring the executor process: a match runner (local sandboxes, or Jobs on Kubernetes), the service,
the gRPC server, and `serve`, the process's life from start to a graceful stop.

`serve` first carries on with what the result spool holds from an earlier run (stored before the
executor answers its first request), then serves until SIGTERM or SIGINT. Then it stops taking
matches, lets the running ones finish within EXECUTOR_SHUTDOWN_GRACE_SECONDS (a second signal
ends the grace at once), ends the others as failed, flushes the spool as far as storage and the
broker allow, and exits; matches whose game was cut short die with the process (their sandboxes
die with their parent).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading

from rlarena import __version__
from rlarena.adapters.storage.factory import object_store_for
from rlarena.config import Settings
from rlarena.events.publisher import Publisher, publisher_for
from rlarena.executor.grpc_server import ExecutorServicer, agent_resolver, start_server
from rlarena.executor.runner import AgentSpec, MatchResult, run_match
from rlarena.executor.service import AgentOutcome, ExecutorService, MatchOrder, MatchReport, Played, Runner
from rlarena.executor.spool import ResultSpool
from rlarena.executor.warm_agents import WarmAgents
from rlarena.sandbox import agent_venv, support
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python_for, install_runtime


def played(match_id: str, result: MatchResult) -> Played:
    """A runner's result as the service's report (and the replay beside it)."""
    report = MatchReport(
        match_id=match_id,
        status=result.status,
        winner_agent_id=result.winner_agent_id,
        agent_results=[
            AgentOutcome(r.agent_id, r.score, r.status, r.error_message, r.stderr, r.stderr_offsets)
            for r in result.agent_results
        ],
        total_steps=result.total_steps,
        execution_time_sec=result.execution_time_sec,
        error_message=result.error_message,
        outcome_reason=result.outcome_reason,
    )
    return Played(report, result.replay)


def sandboxed_runner(runtime: AgentRuntime, warm: WarmAgents | None = None) -> Runner:
    """Each agent in its own sandboxed process, a forked copy of its warm sandbox when `warm` is
    given; see rlarena.executor.runner and rlarena.executor.warm_agents."""

    def run(order: MatchOrder) -> Played:
        result = run_match(
            order.environment,
            [AgentSpec(a.agent_id, a.folder, a.entry_point) for a in order.agents],
            order.seed,
            runtime,
            record_replay=order.record_replay,
            match_id=order.match_id,
            warm=warm,
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
        agent_venv.announce("the executor", settings.resolved_agent_runtime_dir, torch=settings.agent_runtime_torch)
        warm = WarmAgents(settings.warm_sandbox_memory_bytes) if settings.warm_sandboxes else None
        run = sandboxed_runner(install_runtime(agent_python_for(settings)), warm)
    service = ExecutorService(
        run,
        publisher or publisher_for(settings),
        object_store_for(settings),
        max_concurrent=settings.executor_max_matches,
        version=__version__,
        spool=ResultSpool(settings.resolved_executor_spool_dir),
    )
    return service, ExecutorServicer(service, run, agent_resolver(settings))


def serve(settings: Settings, address: str | None = None) -> int:
    """Run the executor until SIGTERM or SIGINT, then stop gracefully (see the module's notes)."""
    service, servicer = build_servicer(settings)
    service.start()
    default_port = settings.executor_url.rsplit(":", 1)[-1]
    server, port = start_server(servicer, address or f"[::]:{default_port}")
    print(f"RL Arena executor listening on port {port} (gRPC, plaintext h2c)", flush=True)
    stop, hurry = threading.Event(), threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        (hurry if stop.is_set() else stop).set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    stop.wait()
    grace = settings.executor_shutdown_grace_seconds
    print(f"RL Arena executor stopping: running matches have {grace:g} s to finish", flush=True)
    # Refuse new matches, let running ones finish and store and announce their results, end the rest.
    all_ended = service.shutdown(grace, hurry=hurry)
    server.stop(grace=2).wait()
    left = service.pending_results()
    print(
        "RL Arena executor stopped." + (f" {left} result(s) wait in the spool for the next start." if left else ""),
        flush=True,
    )
    if not all_ended:
        # Threads still follow the games that were cut short (their results are dropped): end the
        # process now rather than wait for them; their sandboxes die with it.
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)
    return 0
