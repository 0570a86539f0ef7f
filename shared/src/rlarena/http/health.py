"""GET /health for every function: answers without touching the database (probes are cheap)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rlarena import __version__
from rlarena.http.api import Context, HttpApi, Reply
from rlarena.http.operation import Ref

if TYPE_CHECKING:
    from rlarena.config import Settings


def add_health(api: HttpApi) -> None:
    @api.route(
        "/health",
        "GET",
        summary="Is this function up, and how does it run agents",
        description="Answers without touching the database (probes are cheap): the service, its version, "
        "how agents' code is isolated here and what agents can import.",
        tags=("service",),
        database=False,
        responses={200: Ref("rlarena.http.schemas.service:Health")},
    )
    def health(ctx: Context) -> Reply:
        return Reply(
            {
                "status": "ok",
                "service": api.service,
                "version": __version__,
                "sandbox": sandbox_state(ctx.platform.settings.use_k8s),
                "agentRuntime": agent_runtime_state(ctx.platform.settings),
            }
        )


def sandbox_state(use_k8s: bool) -> str | list[str]:
    """How agents' code is isolated here: "strict", what the strict sandbox lacks on this host, or
    "kubernetes" when agents run in match and validation Pods (docs/DEPLOY.md, "Match Pod security")."""
    if use_k8s:
        return "kubernetes"
    from rlarena.sandbox import support  # probed once per process, on the first call

    return support.detect().describe()


def agent_runtime_state(settings: Settings) -> dict[str, object] | str:
    """What agents can import here (rlarena.sandbox.agent_venv): "kubernetes" (the agent-base
    image), or the local runtime's state ("ready", "stale", "missing", "unreachable"), what to do
    about it and the packages it holds."""
    if settings.use_k8s:
        return "kubernetes"
    from rlarena.sandbox import agent_venv

    status = agent_venv.inspect(settings.resolved_agent_runtime_dir, torch=settings.agent_runtime_torch)
    return agent_venv.describe(status)
