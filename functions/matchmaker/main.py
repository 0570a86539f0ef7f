"""Knative Services `matchmaker` (HTTP) and `matchmaker-events` (CloudEvents): bind the targets to the library."""

import flask
import functions_framework
from cloudevents.http import CloudEvent
from werkzeug.exceptions import HTTPException

from rlarena.http.deferred import DeferredApi

# Imported after the first /health, and by the event target on its first event (cold start).
api = DeferredApi("matchmaker", "rlarena.entrypoints.matches")

# What functions-framework refuses itself (no route, a path it cannot match) is our JSON error too.
functions_framework.errorhandler(HTTPException)(api.http_error)


@functions_framework.http
def matchmaker_http(request: flask.Request) -> flask.Response:
    return api.handle(request)


@functions_framework.cloud_event
def matchmaker_events(event: CloudEvent) -> None:
    from rlarena.entrypoints.matchmaker import on_event
    from rlarena.events.targets import serve

    serve(on_event, event)
