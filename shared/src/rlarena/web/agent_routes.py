"""The pages of one agent and of one match, and the agent page's forms (upload, activate, rebuild)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import flask

from rlarena.errors import NotFound
from rlarena.web import agent_pages
from rlarena.web.client import ApiClient, ApiRefused
from rlarena.web.paging import Paging
from rlarena.web.routing import Context, WebApp, html
from rlarena.web.viewer import client, current_user, json_answer, redirect, wants_json, ws_ticket

MATCHES_PAGE, HISTORY_PAGE = 10, 100


def add_agent_routes(api: WebApp) -> None:
    @api.route("/agents/<agentId>", "GET")
    def agent(ctx: Context) -> flask.Response:
        return agent_page(ctx, quote(ctx.path_text("agentId"), safe=""), None, 200)

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


def agent_page(ctx: Context, agent_id: str, upload_error: str | None, status: int) -> flask.Response:
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


def _upload_refused(ctx: Context, agent_id: str, error: ApiRefused) -> flask.Response:
    if wants_json(ctx):
        return json_answer({"error": error.message, "code": error.api_code}, error.status)
    return agent_page(ctx, agent_id, error.message, error.status)


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
