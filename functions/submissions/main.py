"""Knative Services `submissions` (HTTP), `submissions-storage`, `builder` and `builder-jobs` (CloudEvent targets)."""

import flask
import functions_framework
from cloudevents.http import CloudEvent
from werkzeug.exceptions import HTTPException

from rlarena.http.deferred import DeferredApi

# Imported after the first /health, and by the event targets on their first event (cold start).
api = DeferredApi("submissions", "rlarena.entrypoints.submissions")

# What functions-framework refuses itself (no route, a path it cannot match) is our JSON error too.
functions_framework.errorhandler(HTTPException)(api.http_error)


@functions_framework.http
def submissions_http(request: flask.Request) -> flask.Response:
    return api.handle(request)


@functions_framework.cloud_event
def submissions_on_stored(event: CloudEvent) -> None:
    from rlarena.entrypoints.submissions import on_object_stored
    from rlarena.events.targets import serve

    serve(on_object_stored, event)


@functions_framework.cloud_event
def builder_on_uploaded(event: CloudEvent) -> None:
    from rlarena.entrypoints.submissions import on_submission_uploaded
    from rlarena.events.targets import serve

    serve(on_submission_uploaded, event)


@functions_framework.cloud_event
def builder_on_job_event(event: CloudEvent) -> None:
    from rlarena.entrypoints.submissions import on_job_event
    from rlarena.events.targets import serve

    serve(on_job_event, event)
