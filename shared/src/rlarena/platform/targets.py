"""Which code serves each Knative Service, by the name the manifests use (`metadata.name`).

The local platform looks these up when the HTTPRoute or a Trigger names a service; a name with no
entry here is reported at start-up instead of failing on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from cloudevents.http import CloudEvent

if TYPE_CHECKING:
    import flask


class HttpTarget(Protocol):
    """What the gateway calls: an API's `HttpApi` or the web app's `WebApp`."""

    def handle(self, request: flask.Request) -> flask.Response: ...


# Knative Service name -> "module:attribute" of the HttpApi (or the web's WebApp) it serves.
HTTP_SERVICES: dict[str, str] = {
    "auth": "rlarena.entrypoints.auth:api",
    "agents": "rlarena.entrypoints.agents:api",
    "submissions": "rlarena.entrypoints.submissions:api",
    "matchmaker": "rlarena.entrypoints.matches:api",
    "ws-relay": "rlarena.relay.http:api",
    "web": "rlarena.web.app:api",
}

# Knative Service name -> "module:attribute" of the CloudEvent handler it runs.
EVENT_SERVICES: dict[str, str] = {
    "ratings": "rlarena.entrypoints.ratings:on_match_finished",
    "dead-letters": "rlarena.entrypoints.dead_letters:on_dead_letter",
    "submissions-storage": "rlarena.entrypoints.submissions:on_object_stored",
    "builder": "rlarena.entrypoints.submissions:on_submission_uploaded",
    "builder-jobs": "rlarena.entrypoints.submissions:on_job_event",
    "matchmaker-events": "rlarena.entrypoints.matchmaker:on_event",
    "ws-relay": "rlarena.relay.app:on_event",
}


def _load(reference: str) -> Any:
    module, _, attribute = reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def http_services() -> dict[str, HttpTarget]:
    return {name: _load(ref) for name, ref in HTTP_SERVICES.items()}


def event_services() -> dict[str, Callable[[CloudEvent], None]]:
    return {name: _load(ref) for name, ref in EVENT_SERVICES.items()}
