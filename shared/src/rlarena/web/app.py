"""The web function's routes: pages rendered on the server from the public REST API.

Errors are pages too (an HTML 404, the API's message shown inline in a form); only methods a
browser never sends get the platform's JSON error, as on any other path. The games, accounts and
my agents are here; an agent's and a match's pages in `agent_routes`, files and the API reference
in `assets`.
"""

from __future__ import annotations

import json

import flask

from rlarena import __version__
from rlarena.errors import NotFound
from rlarena.web import pages
from rlarena.web.agent_routes import MATCHES_PAGE, add_agent_routes
from rlarena.web.assets import add_asset_routes
from rlarena.web.client import ApiRefused
from rlarena.web.my_matches import recent_matches
from rlarena.web.paging import Paging
from rlarena.web.routing import Context, WebApp, html
from rlarena.web.viewer import client, current_user, redirect, signed_in, signed_out, ws_ticket

LEADERBOARD_PAGE = 100

api = WebApp("web")
add_agent_routes(api)
add_asset_routes(api)


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
    return signed_out("/")


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
    versions = {a["id"]: api_client.get(f"/api/v1/submissions/agent/{a['id']}")["submissions"] for a in mine}
    markup = pages.my_agents(
        mine,
        environments,
        user=user,
        error=error,
        matches=matches,
        paging=paging,
        query=ctx.request.args,
        versions=versions,
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
