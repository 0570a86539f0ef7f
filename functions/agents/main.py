"""Knative Service `agents`: binds the functions-framework target to the shared library's handler."""

import flask
import functions_framework

from rlarena.entrypoints.agents import api


@functions_framework.http
def agents_http(request: flask.Request) -> flask.Response:
    return api.handle(request)
