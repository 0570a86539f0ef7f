"""A small HTTP layer shared by every function: routing, parsing, errors, CORS and request logs.

A function target receives a `flask.Request` (functions-framework) and returns `HttpApi.handle`'s
response; the local platform calls the very same `handle`.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import flask
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, MapAdapter, Rule

from rlarena.adapters.db.outage import database_unavailable, describe, is_database_outage
from rlarena.bootstrap import Platform
from rlarena.errors import (
    InvalidInput,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RLArenaError,
    Unauthenticated,
    UnsupportedMediaType,
    error_body,
    http_status,
)
from rlarena.http.operation import Answer, Auth, Content, Operation, PathParam
from rlarena.http.request_log import log_request
from rlarena.http.response_check import response_problem

log = logging.getLogger("rlarena.http")

# What a 503 (a dependency is down: the database, the broker) tells the client to wait, in seconds.
UNAVAILABLE_RETRY_AFTER_SECONDS = 5

M = TypeVar("M", bound=BaseModel)
Body = dict[str, Any] | list[Any]


@dataclass
class Reply:
    body: Body
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


class Context:
    """What a route handler sees: the platform, the parsed request, and the caller if any."""

    def __init__(self, platform: Platform, request: flask.Request, params: Mapping[str, str]) -> None:
        self.platform = platform
        self.request = request
        self.params = params
        self._user_id: uuid.UUID | None = None

    # -- the caller ------------------------------------------------------------------------
    def user_id(self) -> uuid.UUID:
        """The authenticated user's id; 401 with the reason otherwise.

        A token outlives nothing it names: a valid token of an account that no longer exists is a
        401 too (one primary-key lookup), so no route acts for a user who is gone.
        """
        if self._user_id is not None:
            return self._user_id
        header = self.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise Unauthenticated("authentication required: send 'Authorization: Bearer <token>'")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        user_id = self.platform.tokens.verify(token.strip())
        with self.platform.uow() as uow:
            if uow.users.get(user_id) is None:
                raise Unauthenticated("this account no longer exists; sign up again", code="unknown_user")
        self._user_id = user_id
        return user_id

    def client_ip(self) -> str:
        if self.platform.settings.trust_forwarded_for:
            forwarded = self.request.headers.get("X-Forwarded-For", "")
            if forwarded:
                return forwarded.split(",")[0].strip()[:64]
        return self.request.remote_addr or "unknown"

    # -- the input -------------------------------------------------------------------------
    def path_text(self, name: str) -> str:
        value = self.params[name]
        reject_nul(value, name)
        return value

    def path_uuid(self, name: str) -> uuid.UUID:
        return parse_uuid(self.params[name], name)

    def body(self, model: type[M]) -> M:
        """The JSON body validated as `model`; 400/413/415 that say what to fix."""
        content_type = self.request.mimetype
        if content_type and content_type != "application/json" and not content_type.endswith("+json"):
            raise UnsupportedMediaType(f"send the body as application/json, not {content_type}")
        raw = read_body(self.request, self.platform.settings.max_body_bytes)
        if not raw.strip():
            raise InvalidInput("the request body is empty: send a JSON object")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise InvalidInput("the request body is not valid JSON") from None
        except RecursionError:
            raise InvalidInput("the request body is nested too deeply") from None
        if not isinstance(data, dict):
            raise InvalidInput("the request body must be a JSON object")
        try:
            reject_nul(data, "the request body")
        except RecursionError:
            raise InvalidInput("the request body is nested too deeply") from None
        try:
            return model.model_validate(data)
        except ValidationError as error:
            raise invalid_fields(error) from None

    def query(self, model: type[M]) -> M:
        args = self.request.args.to_dict()
        reject_nul(args, "the query string")
        try:
            return model.model_validate(args)
        except ValidationError as error:
            raise invalid_fields(error, where="query parameter") from None


# A handler returns a Reply (rendered as JSON) or, for downloads, a ready flask.Response.
Handler = Callable[[Context], "Reply | flask.Response"]
H = TypeVar("H", bound=Callable[..., Any])

# What a JSON answer that does not match its route's response model becomes (VALIDATE_RESPONSES).
RESPONSE_MISMATCH = {
    "error": "internal error: the answer does not match its documented schema",
    "code": "response_schema_mismatch",
}


def parse_uuid(value: str, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        raise InvalidInput(f"{name} must be a UUID, got {value[:64]!r}") from None


def reject_nul(value: object, where: str) -> None:
    """NUL cannot be stored in PostgreSQL text and is never meaningful in this API."""
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidInput(f"{where} must not contain NUL characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            reject_nul(key, where)
            reject_nul(item, where)
    elif isinstance(value, list):
        for item in value:
            reject_nul(item, where)


def read_body(request: flask.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    data = read_at_most(request.stream, limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
    return data


_READ_CHUNK = 1024 * 1024


def read_at_most(stream: Any, most: int) -> bytes:
    """Up to `most` bytes of `stream`, read in 1 MiB pieces: `read(most)` on a file allocates `most`
    bytes up front, so a small upload would cost the whole upload limit (100 MiB) in memory."""
    buffer = io.BytesIO()  # getvalue() hands over its bytes without a second copy
    left = most
    while left > 0:
        piece = stream.read(min(left, _READ_CHUNK))
        if not piece:
            break
        buffer.write(piece)
        left -= len(piece)
    return buffer.getvalue()


def invalid_fields(error: ValidationError, *, where: str = "field") -> InvalidInput:
    details = [
        {
            "field": ".".join(str(part) for part in problem["loc"]) or "body",
            "message": problem["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, "),
        }
        for problem in error.errors(include_url=False, include_context=False, include_input=False)
    ]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return InvalidInput(f"invalid {where}s: {summary}", details=details)


class HttpApi:
    """One function's routes. `handle` never lets an exception escape: a bug is a logged 500."""

    def __init__(self, service: str, platform: Callable[[], Platform]) -> None:
        self.service = service
        self._platform = platform
        self._rules = Map(strict_slashes=False, merge_slashes=False)
        # Bound once: the rules match on the path and method alone (no host, no subdomain).
        self._adapter: MapAdapter = self._rules.bind("localhost")
        self._handlers: dict[str, Handler] = {}
        self._operations: dict[tuple[str, str], Operation] = {}

    def route(
        self,
        rule: str,
        *methods: str,
        summary: str = "",
        description: str = "",
        tags: tuple[str, ...] = (),
        auth: Auth = "none",
        body: type[BaseModel] | Content | None = None,
        query: type[BaseModel] | None = None,
        params: Mapping[str, PathParam] | None = None,
        responses: Mapping[int, Answer] | None = None,
        errors: tuple[int, ...] = (),
        rate_limited: bool = False,
        database: bool = True,
        internal: bool = False,
        headers: Mapping[int, Mapping[str, str]] | None = None,
    ) -> Callable[[H], H]:
        """Register `handler` for `rule` and `methods`, with what the API description says of it:
        `description` defaults to the handler's docstring, the operationId is the handler's name
        (a second method of the same handler gets `_<method>` appended); `errors` names the error
        statuses beyond those its auth, body, query, path, rate limit and database imply."""

        def register(handler: H) -> H:
            endpoint = f"{handler.__module__}.{handler.__qualname__}"
            self._rules.add(Rule(rule, endpoint=endpoint, methods=list(methods)))
            self._handlers[endpoint] = handler
            for index, method in enumerate(methods):
                name = handler.__name__ if index == 0 else f"{handler.__name__}_{method.lower()}"
                self._operations[(endpoint, method)] = Operation(
                    method=method,
                    rule=rule,
                    operation_id=name,
                    summary=summary,
                    description=description or inspect.getdoc(handler) or "",
                    tags=tags or (self.service,),
                    auth=auth,
                    body=body,
                    query=query,
                    params=dict(params or {}),
                    responses=dict(responses or {}),
                    errors=errors,
                    rate_limited=rate_limited,
                    database=database,
                    internal=internal,
                    headers=dict(headers or {}),
                )
            return handler

        return register

    def operations(self) -> list[Operation]:
        """What every route declared, in the order of `routes()`."""
        return sorted(self._operations.values(), key=lambda op: (op.rule, op.method))

    def routes(self) -> list[tuple[str, str]]:
        """Every (method, rule) this API answers, e.g. ("GET", "/api/v1/agents/<agentId>"); no HEAD/OPTIONS."""
        return sorted(
            (method, rule.rule)
            for rule in self._rules.iter_rules()
            for method in rule.methods or ()
            if method not in ("HEAD", "OPTIONS")
        )

    def handle(self, request: flask.Request) -> flask.Response:
        started = time.perf_counter()
        platform = None
        try:
            platform = self._platform()
            response = self._dispatch(platform, request)
        except RLArenaError as error:
            response = error_response(error)
        except Exception as error:
            if is_database_outage(error):
                # Wherever it struck (the unit of work, the rate limiter, the pool): 503, not a bug.
                log.warning("%s %s: the database is unavailable: %s", request.method, request.path, describe(error))
                response = error_response(database_unavailable())
            else:
                log.exception("unhandled error in %s %s", request.method, request.path)
                response = json_response({"error": "internal error", "code": "internal_error"}, 500)
        origins = platform.settings.cors_allowed_origins if platform else []
        apply_cors(request, response, origins)
        log_request(request, response.status_code, time.perf_counter() - started, self.service)
        return response

    def http_error(self, error: HTTPException) -> flask.Response:
        """For the hosting Flask app's error handler: what its own routing refuses before `handle`
        runs (functions-framework's rules cannot match a path with an encoded newline, and it
        answers /robots.txt and /favicon.ico itself) as the JSON error body, with CORS.

        In a function's main.py: `functions_framework.errorhandler(HTTPException)(api.http_error)`.
        """
        try:
            origins = self._platform().settings.cors_allowed_origins
        except Exception:  # settings that cannot load are reported by every other request
            origins = []
        return http_exception_response(flask.request._get_current_object(), error, origins, self.service)  # type: ignore[attr-defined]

    def _dispatch(self, platform: Platform, request: flask.Request) -> flask.Response:
        if request.method == "OPTIONS":
            return flask.Response(status=204)
        try:
            endpoint, params = self._adapter.match(request.path, request.method)
        except WerkzeugMethodNotAllowed as error:
            allowed = ", ".join(sorted(error.valid_methods or []))
            raise MethodNotAllowed(f"{request.method} is not allowed here; use {allowed}") from None
        except WerkzeugNotFound:
            raise NotFound(f"no route for {request.method} {request.path}") from None
        reply = self._handlers[str(endpoint)](Context(platform, request, params))
        checks = platform.settings.checks_responses
        if isinstance(reply, flask.Response):
            # A ready answer (a download, a leaderboard rendered once per change) is checked too
            # when it is JSON; a download's bytes are the agent's and declared as such.
            if checks and reply.mimetype == "application/json" and not reply.is_streamed:
                return self._checked(request, str(endpoint), reply.status_code, reply.get_data(as_text=True)) or reply
            return reply
        text = json_text(reply.body)
        if checks:
            mismatch = self._checked(request, str(endpoint), reply.status, text)
            if mismatch is not None:
                return mismatch
        return text_response(text, reply.status, reply.headers)

    def _checked(self, request: flask.Request, endpoint: str, status: int, text: str) -> flask.Response | None:
        """The logged 500 that replaces an answer its route does not declare; None if it does."""
        method = "GET" if request.method == "HEAD" else request.method
        problem = response_problem(self._operations[(endpoint, method)], status, text)
        if problem is None:
            return None
        log.error("%s %s: response_schema_mismatch: %s", request.method, request.path, problem)
        return json_response(RESPONSE_MISMATCH, 500)


def json_text(body: Body) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def json_response(body: Body, status: int = 200, headers: Mapping[str, str] | None = None) -> flask.Response:
    return text_response(json_text(body), status, headers)


def text_response(text: str, status: int = 200, headers: Mapping[str, str] | None = None) -> flask.Response:
    response = flask.Response(text, status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(error: RLArenaError) -> flask.Response:
    """The JSON error body with its status; 429 and 503 say when to retry (`Retry-After`)."""
    status = http_status(error)
    body = error_body(error)
    headers = {}
    if isinstance(error, RateLimited):
        headers["Retry-After"] = str(error.retry_after_seconds)
    elif status == 503:
        headers["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER_SECONDS)
        body.setdefault("details", {"retryAfterSeconds": UNAVAILABLE_RETRY_AFTER_SECONDS})
    if status >= 500:
        log.error("%s: %s", error.code, error.message)
    return json_response(body, status, headers)


def http_exception_response(
    request: flask.Request, error: HTTPException, origins: list[str], service: str
) -> flask.Response:
    """A werkzeug/Flask HTTP error raised outside `HttpApi.handle` as the JSON error body.

    Flask renders these as HTML (a path its rules cannot match, a method none of them takes, an
    exception that escaped a view); every answer of the platform is `{"error", "code"}` instead,
    with the CORS headers and the request log line of any other response.
    """
    status = error.code or 500
    if status == 500:
        original = getattr(error, "original_exception", None)
        log.error("unhandled error in %s %s", request.method, request.path, exc_info=original or error)
        response = json_response({"error": "internal error", "code": "internal_error"}, 500)
    elif status == 404:
        response = error_response(NotFound(f"no route for {request.method} {request.path}"))
    elif status == 405:
        allowed = ", ".join(sorted(getattr(error, "valid_methods", None) or []))
        response = error_response(
            MethodNotAllowed(f"{request.method} is not allowed here" + (f"; use {allowed}" if allowed else ""))
        )
    else:
        code = (error.name or "error").lower().replace(" ", "_").replace("-", "_")
        response = json_response({"error": error.description or error.name, "code": code}, status)
    apply_cors(request, response, origins)
    log_request(request, response.status_code, 0.0, service)
    return response


def apply_cors(request: flask.Request, response: flask.Response, allowed: list[str]) -> None:
    """CORS headers for an allowed Origin.

    An origin listed by name is echoed back with `Access-Control-Allow-Credentials: true`. The
    wildcard `*` (refused by the settings when ENV=production) answers `Access-Control-Allow-Origin: *`
    and never allows credentials: echoing any origin together with credentials would let every web
    page make credentialed requests on a visitor's behalf.
    """
    origin = request.headers.get("Origin")
    if not origin:
        return
    if origin in allowed and origin != "*":
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
    elif "*" in allowed:
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers.pop("Access-Control-Allow-Credentials", None)
    else:
        return
    response.headers.add("Vary", "Origin")
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = request.headers.get(
            "Access-Control-Request-Headers", "Authorization, Content-Type"
        )
        response.headers["Access-Control-Max-Age"] = "600"
