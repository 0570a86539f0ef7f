"""Knative Service `matchmaker`: binds the functions-framework target to the shared library's handler."""

import flask
import functions_framework

from rlarena.entrypoints.matches import api


@functions_framework.http
def matchmaker_http(request: flask.Request) -> flask.Response:
    return api.handle(request)
