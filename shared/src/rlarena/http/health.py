"""GET /health for every function: answers without touching the database (probes are cheap).

Two ways to the same answer: the route every HttpApi registers (`add_health`), and
`rlarena.http.deferred`, which answers before the function's API module is even imported. Both
render `health_body`, whose imports are light (no pydantic models, no database machinery).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rlarena import __version__

if TYPE_CHECKING:
    from rlarena.config import Settings
    from rlarena.http.api import Context, HttpApi, Reply


def add_health(api: HttpApi) -> None:
    from rlarena.http.api import Reply
    from rlarena.http.operation import Ref

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
        return Reply(health_body(api.service, ctx.platform.settings))


def health_body(service: str, settings: Settings) -> dict[str, Any]:
    return {
        "status": "ok",
        "service": service,
        "version": __version__,
        "sandbox": sandbox_state(settings.use_k8s),
        "agentRuntime": agent_runtime_state(settings),
    }


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
