"""Knative Service `auth`: binds the functions-framework target to the shared library's handler."""

import flask
import functions_framework

from rlarena.entrypoints.auth import api


@functions_framework.http
def auth_http(request: flask.Request) -> flask.Response:
    return api.handle(request)
