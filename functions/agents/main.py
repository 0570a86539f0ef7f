"""Knative Service `agents`: binds the functions-framework target to the shared library's handler."""

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from rlarena.http.deferred import DeferredApi

# Imported after the first /health (cold start): rlarena.http.deferred.
api = DeferredApi("agents", "rlarena.entrypoints.agents")

# What functions-framework refuses itself (no route, a path it cannot match) is our JSON error too.
functions_framework.errorhandler(HTTPException)(api.http_error)


@functions_framework.http
def agents_http(request: flask.Request) -> flask.Response:
    return api.handle(request)
