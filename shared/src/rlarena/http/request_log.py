"""The one log line of every HTTP request, with its fields for structured logs (no heavy imports:
the web function logs with it without loading the API's machinery)."""

from __future__ import annotations

import logging

import flask

log = logging.getLogger("rlarena.http")


def log_request(request: flask.Request, status: int, seconds: float, service: str) -> None:
    if not log.isEnabledFor(logging.INFO):
        return
    log.info(
        "%s %s %d %.1fms",
        request.method,
        request.path,
        status,
        seconds * 1000,
        extra={
            "http": {
                "method": request.method,
                "path": request.path,
                "status": status,
                "latencyMs": round(seconds * 1000, 2),
                "service": service,
            }
        },
    )
