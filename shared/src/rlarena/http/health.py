"""GET /health for every function: answers without touching the database (probes are cheap)."""

from __future__ import annotations

from rlarena import __version__
from rlarena.http.api import Context, HttpApi, Reply


def add_health(api: HttpApi) -> None:
    @api.route("/health", "GET")
    def health(ctx: Context) -> Reply:
        return Reply(
            {
                "status": "ok",
                "service": api.service,
                "version": __version__,
                "sandbox": sandbox_state(ctx.platform.settings.use_k8s),
            }
        )


def sandbox_state(use_k8s: bool) -> str | list[str]:
    """How agents' code is isolated here: "strict", what the strict sandbox lacks on this host, or
    "kubernetes" when agents run in match and validation Pods (docs/DEPLOY.md, "Match Pod security")."""
    if use_k8s:
        return "kubernetes"
    from rlarena.sandbox import support  # probed once per process, on the first call

    return support.detect().describe()
