"""GET /health for every function: answers without touching the database (probes are cheap)."""

from __future__ import annotations

from rlarena import __version__
from rlarena.http.api import Context, HttpApi, Reply


def add_health(api: HttpApi) -> None:
    @api.route("/health", "GET")
    def health(ctx: Context) -> Reply:
        return Reply({"status": "ok", "service": api.service, "version": __version__})
