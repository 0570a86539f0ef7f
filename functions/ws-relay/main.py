"""Knative Service `ws-relay`: the WebSocket relay (starlette + uvicorn; functions-framework cannot serve WebSockets).

The container runs `python -m rlarena.relay` (rlarena.relay.server): uvicorn on $PORT serving the
WebSocket at /api/v1/ws, the Triggers' CloudEvents at POST / and GET /health. `ws_relay_http` is
the relay's plain-HTTP side as a functions-framework target, the same one the local platform
routes to: /health, and a 426 for a GET of /api/v1/ws without the upgrade.
"""

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from rlarena.http.deferred import DeferredApi

# Imported after the first /health (cold start): rlarena.http.deferred.
api = DeferredApi("ws-relay", "rlarena.relay.http")

# What functions-framework refuses itself (no route, a path it cannot match) is our JSON error too.
functions_framework.errorhandler(HTTPException)(api.http_error)


@functions_framework.http
def ws_relay_http(request: flask.Request) -> flask.Response:
    return api.handle(request)
