"""Knative Service `web`: binds the functions-framework target to the web app's pages."""

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from rlarena.web import app

functions_framework.errorhandler(HTTPException)(app.api.http_error)


@functions_framework.http
def web_http(request: flask.Request) -> flask.Response:
    return app.api.handle(request)
