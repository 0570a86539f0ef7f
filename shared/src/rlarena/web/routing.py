"""The web function's router: werkzeug rules, HTML answers, and no database machinery.

Not `rlarena.http.api.HttpApi`: that one brings the Platform (SQLAlchemy, the unit of work) into
the import, about 0.3 s of cold start the web, which only reads the REST API, never uses.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import flask
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule

from rlarena.errors import MethodNotAllowed, NotFound, RLArenaError, http_status
from rlarena.http.request_log import log_request
from rlarena.web import pages
from rlarena.web.client import ApiRefused
from rlarena.web.markup import Html

if TYPE_CHECKING:
    from rlarena.config import Settings

log = logging.getLogger("rlarena.web")

USER_COOKIE = "rlarena_user"
BROWSER_METHODS = frozenset({"GET", "HEAD", "POST"})


@dataclass(frozen=True)
class Context:
    """What a page handler sees: the settings, the request and its path parameters."""

    settings: Settings
    request: flask.Request
    params: Mapping[str, str]

    def path_text(self, name: str) -> str:
        value = self.params[name]
        if "\x00" in value:
            raise NotFound("There is no such page.")
        return value


Handler = Callable[[Context], flask.Response]


@cache
def process_settings() -> Settings:
    """The settings, read once per process on first use (the local platform's are the same variables)."""
    from rlarena.config import load_settings

    return load_settings()


def html(markup: Html, status: int = 200) -> flask.Response:
    response = flask.Response(markup, status=status, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        # The replay player adds its own <style> element, hence inline styles; scripts are ours only.
        "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


class WebApp:
    """The pages' routes. `handle` never lets an exception escape: errors are HTML pages too."""

    def __init__(self, service: str, settings: Callable[[], Settings] = process_settings) -> None:
        self.service = service
        self._settings = settings
        self._rules = Map(strict_slashes=False, merge_slashes=False)
        self._handlers: dict[str, Handler] = {}

    def route(self, rule: str, *methods: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self._rules.add(Rule(rule, endpoint=handler.__qualname__, methods=list(methods)))
            self._handlers[handler.__qualname__] = handler
            return handler

        return register

    def handle(self, request: flask.Request) -> flask.Response:
        if request.method not in BROWSER_METHODS:
            return self._not_for_browsers(request)
        started = time.perf_counter()
        user = request.cookies.get(USER_COOKIE)
        try:
            response = self._dispatch(request)
        except ApiRefused as error:
            response = html(pages.failure("Something went wrong", error.message, user=user), error.status)
        except NotFound as error:
            response = html(pages.not_found(error.message, user=user), 404)
        except RLArenaError as error:
            response = html(pages.failure("Something went wrong", error.message, user=user), http_status(error))
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.path)
            message = "An internal error; please try again."
            response = html(pages.failure("Something went wrong", message, user=user), 500)
        log_request(request, response.status_code, time.perf_counter() - started, self.service)
        return response

    def _dispatch(self, request: flask.Request) -> flask.Response:
        adapter = self._rules.bind_to_environ(request.environ)
        try:
            endpoint, params = adapter.match()
        except WerkzeugMethodNotAllowed:
            raise MethodNotAllowed(f"{request.method} is not allowed on this page.") from None
        except WerkzeugNotFound:
            raise NotFound("There is no such page.") from None
        return self._handlers[str(endpoint)](Context(self._settings(), request, params))

    def _not_for_browsers(self, request: flask.Request) -> flask.Response:
        """Methods a browser never sends get the platform's JSON answer, as on any other path
        (OPTIONS its CORS preflight, the rest a 404); the API's machinery is imported only here."""
        from rlarena.http.api import apply_cors, error_response

        if request.method == "OPTIONS":
            response = flask.Response(status=204)
        else:
            response = error_response(NotFound(f"no route for {request.method} {request.path}"))
        apply_cors(request, response, self._settings().cors_allowed_origins)
        log_request(request, response.status_code, 0.0, self.service)
        return response

    def http_error(self, error: HTTPException) -> flask.Response:
        """For functions-framework's error handler (what its own routing refuses): the JSON error."""
        from rlarena.http.api import http_exception_response

        origins = self._settings().cors_allowed_origins
        return http_exception_response(flask.request._get_current_object(), error, origins, self.service)  # type: ignore[attr-defined]
