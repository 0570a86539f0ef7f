"""The web function's routes: pages rendered on the server from the public REST API.

Errors are pages too (an HTML 404, the API's message shown inline in a form); only methods a
browser never sends get the platform's JSON error, as on any other path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import flask

from rlarena import __version__
from rlarena.errors import NotFound
from rlarena.web import agent_pages, pages
from rlarena.web.client import ApiClient, ApiRefused
from rlarena.web.my_matches import recent_matches
from rlarena.web.origin import api_base
from rlarena.web.paging import Paging
from rlarena.web.routing import USER_COOKIE, Context, WebApp, html

TOKEN_COOKIE = "rlarena_token"  # noqa: S105 (a cookie name)
STATIC_TYPES = {".css": "text/css", ".js": "text/javascript"}
LEADERBOARD_PAGE, MATCHES_PAGE, HISTORY_PAGE = 100, 10, 100
# Served at /assets/ from web/vendor/ (npm's swagger-ui-dist, unchanged; see its README there).
VENDORED = {name: ("vendor", "swagger-ui") for name in ("swagger-ui-bundle.js", "swagger-ui.css")}


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


api = WebApp("web")


@api.route("/health", "GET")
def health(ctx: Context) -> flask.Response:
    """For the probes: answers without calling the API."""
    body = json.dumps({"status": "ok", "service": "web", "version": __version__})
    return flask.Response(body, mimetype="application/json")


@api.route("/", "GET")
def home(ctx: Context) -> flask.Response:
    api_client = client(ctx)
    environments = api_client.get("/api/v1/environments")["environments"]
    boards = {
        e["id"]: api_client.get(f"/api/v1/leaderboard/environment/{e['id']}?limit=5")["leaderboard"]
        for e in environments
    }
    return html(pages.home(environments, boards, user=current_user(ctx)))


@api.route("/signup", "GET", "POST")
def signup(ctx: Context) -> flask.Response:
    if ctx.request.method == "GET":
        return html(pages.signup())
    form = ctx.request.form
    body = {"username": form.get("username", ""), "email": form.get("email", ""), "password": form.get("password", "")}
    try:
        answer = client(ctx).post("/api/v1/auth/register", body)
    except ApiRefused as error:
        return html(pages.signup(error=error.message, username=body["username"], email=body["email"]), error.status)
    return signed_in(ctx, answer, "/me")


@api.route("/login", "GET", "POST")
def login(ctx: Context) -> flask.Response:
    if ctx.request.method == "GET":
        return html(pages.login())
    who = ctx.request.form.get("email", "")
    body = {"email" if "@" in who else "username": who, "password": ctx.request.form.get("password", "")}
    try:
        answer = client(ctx).post("/api/v1/auth/login", body)
    except ApiRefused as error:
        return html(pages.login(error=error.message, email=who), error.status)
    return signed_in(ctx, answer, "/me")


@api.route("/logout", "POST")
def logout(ctx: Context) -> flask.Response:
    response = redirect("/")
    response.delete_cookie(TOKEN_COOKIE)
    response.delete_cookie(USER_COOKIE)
    return response


@api.route("/me", "GET")
def me(ctx: Context) -> flask.Response:
    user = current_user(ctx)
    if user is None:
        return redirect("/login")
    return _my_page(ctx, user, None, 200)


def _my_page(ctx: Context, user: str, error: str | None, status: int) -> flask.Response:
    api_client = client(ctx)
    mine = api_client.get("/api/v1/agents/my")["agents"]
    environments = api_client.get("/api/v1/environments")["environments"]
    matches, paging = recent_matches(api_client, mine, Paging.of(ctx.request.args, MATCHES_PAGE))
    markup = pages.my_agents(
        mine, environments, user=user, error=error, matches=matches, paging=paging, query=ctx.request.args
    )
    return html(markup, status)


@api.route("/me/agents", "POST")
def create_agent(ctx: Context) -> flask.Response:
    user = current_user(ctx)
    if user is None:
        return redirect("/login")
    form = ctx.request.form
    try:
        answer = client(ctx).post(
            "/api/v1/agents", {"name": form.get("name", ""), "environmentId": form.get("environmentId", "")}
        )
    except ApiRefused as error:
        return _my_page(ctx, user, error.message, error.status)
    return redirect(f"/agents/{answer['agent']['id']}")


@api.route("/games/<environmentId>", "GET")
def game(ctx: Context) -> flask.Response:
    environment_id = ctx.path_text("environmentId")
    sort = "conservative" if ctx.request.args.get("sort") == "conservative" else "elo"
    api_client = client(ctx)
    found = [e for e in api_client.get("/api/v1/environments")["environments"] if e["id"] == environment_id]
    if not found:
        raise NotFound(f"There is no game {environment_id!r}.")
    paging = Paging.of(ctx.request.args, LEADERBOARD_PAGE)
    answer = api_client.get(
        f"/api/v1/leaderboard/environment/{environment_id}?limit={paging.size}&page={paging.page}&sort={sort}"
    )
    ticket = ws_ticket(api_client) if current_user(ctx) else None
    live = ticket is not None or ctx.settings.relay_allow_anonymous  # the relay refuses anonymous sockets otherwise
    markup = pages.leaderboard(
        found[0],
        answer["leaderboard"],
        sort=sort,
        user=current_user(ctx),
        live=live,
        ticket=ticket,
        paging=paging.counted(int(answer.get("total", 0))),
        query=ctx.request.args,
    )
    return html(markup)


@api.route("/docs", "GET")
def docs(ctx: Context) -> flask.Response:
    from rlarena.web.docs_page import docs_page

    return html(docs_page(user=current_user(ctx)))


@api.route("/api/v1/docs", "GET")
def api_docs(ctx: Context) -> flask.Response:
    from rlarena.web.api_reference import swagger_page

    return html(swagger_page(user=current_user(ctx)))


@api.route("/api/v1/openapi.json", "GET")
def openapi_document(ctx: Context) -> flask.Response:
    """The merged document of every function's routes (each function serves its own at the same path)."""
    from rlarena.web.api_reference import document_bytes

    response = flask.Response(document_bytes(), mimetype="application/json")
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@api.route("/assets/<name>", "GET")
def static(ctx: Context) -> flask.Response:
    name = ctx.path_text("name")
    content = static_file(name)
    if content is None:
        raise NotFound(f"There is no file {name!r}.")
    response = flask.Response(content, mimetype=STATIC_TYPES[name[name.rfind(".") :]])
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@cache
def static_file(name: str) -> bytes | None:
    if name.startswith(".") or "/" in name or name[name.rfind(".") :] not in STATIC_TYPES:
        return None
    if name == "player.js":  # the one replay player, shared with the HTML replay download
        from rlarena.replays import player_js

        return player_js().encode()
    folder = VENDORED.get(name, ("static",))
    resource = resources.files("rlarena.web").joinpath(*folder, name)
    return resource.read_bytes() if resource.is_file() else None


def _page_of(fetch: Callable[[], dict[str, Any]], what: str) -> dict[str, Any]:
    """What the API holds for a page's id; its 400 (not an id) and 404 are this page's HTML 404."""
    try:
        return fetch()
    except ApiRefused as error:
        if error.status in (400, 404):
            raise NotFound(f"There is no {what} here.") from None
        raise


def _owned_versions(api_client: ApiClient, agent_id: str) -> list[dict[str, Any]] | None:
    """The agent's versions if the viewer owns it (the API says 401 or 403 otherwise)."""
    if api_client.token is None:
        return None
    try:
        return list(api_client.get(f"/api/v1/submissions/agent/{agent_id}")["submissions"])
    except ApiRefused as error:
        if error.status in (401, 403):
            return None
        raise


@api.route("/agents/<agentId>", "GET")
def agent(ctx: Context) -> flask.Response:
    return _agent_page(ctx, quote(ctx.path_text("agentId"), safe=""), None, 200)


def _agent_page(ctx: Context, agent_id: str, upload_error: str | None, status: int) -> flask.Response:
    api_client = client(ctx)
    found = _page_of(lambda: api_client.get(f"/api/v1/agents/{agent_id}"), "agent")["agent"]
    versions = _owned_versions(api_client, agent_id)
    args = ctx.request.args
    matches_paging = Paging.of(args, MATCHES_PAGE)
    history_paging = Paging.of(args, HISTORY_PAGE, param="history")
    matches = api_client.get(
        f"/api/v1/matches/agent/{agent_id}?pageSize={matches_paging.size}&page={matches_paging.page}"
    )
    opponents = api_client.get(f"/api/v1/agents/{agent_id}/stats")["stats"]
    history = api_client.get(
        f"/api/v1/agents/{agent_id}/rating-history?pageSize={history_paging.size}&page={history_paging.page}"
    )
    live_ticket = ws_ticket(api_client) if versions is not None else None
    markup = agent_pages.agent(
        found,
        versions,
        matches["matches"],
        opponents,
        user=current_user(ctx),
        live_ticket=live_ticket,
        history=history["history"],
        upload_error=upload_error,
        paging=agent_pages.AgentPaging(
            matches_paging.counted(int(matches.get("total", 0))),
            history_paging.counted(int(history.get("total", 0))),
            args,
        ),
    )
    return html(markup, status)


@api.route("/agents/<agentId>/upload", "POST")
def upload(ctx: Context) -> flask.Response:
    """The upload form: the file goes on to the REST upload, then back to the page (without
    JavaScript) or, for the page's script (`Accept: application/json`), the API's answer as JSON."""
    agent_id = quote(ctx.path_text("agentId"), safe="")
    if current_user(ctx) is None:
        refused = ApiRefused(401, "Log in to upload.", "authentication_required")
        return _upload_refused(ctx, agent_id, refused) if wants_json(ctx) else redirect("/login")
    limit = ctx.settings.archive_max_bytes
    sent = ctx.request.files.get("file")
    if sent is None or not sent.filename:
        return _upload_refused(ctx, agent_id, ApiRefused(400, "Choose a file to upload.", "invalid_input"))
    data = sent.stream.read(limit + 1)
    if len(data) > limit:
        message = f"The file is larger than {limit} bytes."
        return _upload_refused(ctx, agent_id, ApiRefused(413, message, "payload_too_large"))
    try:
        answer = client(ctx).post_file("/api/v1/submissions", {"agentId": agent_id}, sent.filename, data)
    except ApiRefused as error:
        return _upload_refused(ctx, agent_id, error)
    if wants_json(ctx):  # the page's script, which stays on the page and follows the build
        return json_answer(answer, 201)
    return redirect(f"/agents/{agent_id}")


def _upload_refused(ctx: Context, agent_id: str, error: ApiRefused) -> flask.Response:
    if wants_json(ctx):
        return json_answer({"error": error.message, "code": error.api_code}, error.status)
    return _agent_page(ctx, agent_id, error.message, error.status)


def wants_json(ctx: Context) -> bool:
    return ctx.request.accept_mimetypes.best == "application/json"


def json_answer(body: dict[str, Any], status: int) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")


@api.route("/agents/<agentId>/versions/<submissionId>/<action>", "POST")
def version_action(ctx: Context) -> flask.Response:
    """The Activate and Rebuild buttons: the REST call, then back to the agent's page."""
    agent_id = quote(ctx.path_text("agentId"), safe="")
    submission_id = quote(ctx.path_text("submissionId"), safe="")
    action = ctx.path_text("action")
    if current_user(ctx) is None:
        return redirect("/login")
    api_client = client(ctx)
    if action == "activate":
        api_client.put(f"/api/v1/submissions/{submission_id}/activate", {})
    elif action == "rebuild":
        api_client.post(f"/api/v1/submissions/{submission_id}/rebuild", {})
    else:
        raise NotFound("There is no such page.")
    return redirect(f"/agents/{agent_id}")


@api.route("/matches/<matchId>", "GET")
def match(ctx: Context) -> flask.Response:
    match_id = quote(ctx.path_text("matchId"), safe="")
    api_client = client(ctx)
    found = _page_of(lambda: api_client.get(f"/api/v1/matches/{match_id}"), "match")["match"]
    replay = api_client.get(f"/api/v1/matches/{match_id}/replay?format=json") if found.get("replayUrl") else None
    logs = _own_logs(api_client, match_id) if replay is not None else []
    return html(agent_pages.match(found, replay, user=current_user(ctx), logs=logs))


def _own_logs(api_client: ApiClient, match_id: str) -> list[dict[str, Any]]:
    """The viewer's own agents' logs of the match: none unless signed in and owning one of them."""
    if not api_client.token:
        return []
    try:
        return list(api_client.get(f"/api/v1/matches/{match_id}/logs")["logs"])
    except ApiRefused as error:
        if error.status in (401, 403, 404):
            return []
        raise
