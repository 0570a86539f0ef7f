"""Who is viewing and the API as them: the token cookie, the client, WebSocket tickets, answers.

The session token lives in an HttpOnly cookie the pages' scripts cannot read; the server sends it
to the API as a bearer token. A live page gets a WebSocket ticket instead (`ws_ticket`).
"""

from __future__ import annotations

import json
from typing import Any

import flask

from rlarena.web.client import ApiClient, ApiRefused
from rlarena.web.origin import api_base
from rlarena.web.routing import USER_COOKIE, Context

TOKEN_COOKIE = "rlarena_token"  # noqa: S105 (a cookie name)


def client(ctx: Context) -> ApiClient:
    """The API seen from the server: WEB_API_URL, or the origin this page was asked at (the gateway)."""
    return ApiClient(api_base(ctx.settings, ctx.request), ctx.request.cookies.get(TOKEN_COOKIE))


def current_user(ctx: Context) -> str | None:
    return ctx.request.cookies.get(USER_COOKIE) if ctx.request.cookies.get(TOKEN_COOKIE) else None


def ws_ticket(api_client: ApiClient) -> str | None:
    """A WebSocket ticket for the viewer (a minute's life, good for the relay's handshake only):
    what a live page carries instead of the session token. None if the API will not give one."""
    if not api_client.token:
        return None
    try:
        return str(api_client.post("/api/v1/ws/ticket", {})["ticket"])
    except ApiRefused:
        return None


def redirect(location: str) -> flask.Response:
    return flask.Response(status=303, headers={"Location": location})


def signed_in(ctx: Context, answer: dict[str, object], location: str) -> flask.Response:
    """Where a successful signup or login lands, holding the token in an HttpOnly cookie."""
    response = redirect(location)
    settings = ctx.settings
    secure = settings.env == "production"
    age = int(settings.jwt_expiry.total_seconds())
    user = answer.get("user")
    username = str(user.get("username", "")) if isinstance(user, dict) else ""
    response.set_cookie(TOKEN_COOKIE, str(answer["token"]), max_age=age, httponly=True, samesite="Lax", secure=secure)
    response.set_cookie(USER_COOKIE, username, max_age=age, httponly=True, samesite="Lax", secure=secure)
    return response


def signed_out(location: str) -> flask.Response:
    response = redirect(location)
    response.delete_cookie(TOKEN_COOKIE)
    response.delete_cookie(USER_COOKIE)
    return response


def wants_json(ctx: Context) -> bool:
    """A page's own script asking (`Accept: application/json`), rather than a form post."""
    return ctx.request.accept_mimetypes.best == "application/json"


def json_answer(body: dict[str, Any], status: int) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")
