"""The matchmaker function's HTTP side: /api/v1/matches* (manual matches, lists, one match, replays)."""

from __future__ import annotations

import flask

from rlarena import runtime
from rlarena.adapters.db.match_labels import LabelledMatch
from rlarena.entrypoints.views import match_view
from rlarena.http.api import Context, HttpApi, Reply, parse_uuid
from rlarena.http.health import add_health
from rlarena.service import manual_matches, matches
from rlarena.service.commands import CreateMatch, PageQuery
from rlarena.service.matches import MatchListQuery, ReplayFormatQuery, ReplaysQuery

api = HttpApi("matchmaker", runtime.platform)
add_health(api)


def _page_reply(found: list[LabelledMatch], total: int, query: PageQuery, key: str = "matches") -> Reply:
    return Reply({key: [match_view(m) for m in found], "total": total, "page": query.page, "pageSize": query.page_size})


@api.route("/api/v1/matches", "GET")
def list_matches(ctx: Context) -> Reply:
    query = ctx.query(MatchListQuery)
    found, total = matches.list_matches(ctx.platform, query)
    return _page_reply(found, total, query)


@api.route("/api/v1/matches", "POST")
def create_match(ctx: Context) -> Reply:
    """A manual match: 202 with the pending match at once; the result arrives by events."""
    user_id = ctx.user_id()
    command = ctx.body(CreateMatch)
    first, second = parse_uuid(command.agent1_id, "agent1Id"), parse_uuid(command.agent2_id, "agent2Id")
    match = manual_matches.create_manual_match(ctx.platform, user_id, first, second)
    return Reply({"match": match_view(match)}, 202)


@api.route("/api/v1/matches/replays", "GET")
def list_replays(ctx: Context) -> Reply:
    query = ctx.query(ReplaysQuery)
    found, total = matches.replays(ctx.platform, query)
    reply = _page_reply(found, total, query, key="replays")
    assert isinstance(reply.body, dict)
    reply.body["agentId"] = str(query.agent_id)
    return reply


@api.route("/api/v1/matches/agent/<agentId>", "GET")
def agent_matches(ctx: Context) -> Reply:
    agent_id = ctx.path_uuid("agentId")
    query = ctx.query(PageQuery)
    found, total = matches.matches_of_agent(ctx.platform, agent_id, query)
    reply = _page_reply(found, total, query)
    assert isinstance(reply.body, dict)
    reply.body["agentId"] = str(agent_id)
    return reply


@api.route("/api/v1/matches/<matchId>", "GET")
def get_match(ctx: Context) -> Reply:
    return Reply({"match": match_view(matches.get_match(ctx.platform, ctx.path_uuid("matchId")))})


@api.route("/api/v1/matches/<matchId>/logs", "GET")
def match_logs(ctx: Context) -> Reply:
    """The caller's own agents' logs of a match (owners only)."""
    user_id = ctx.user_id()
    match_id = ctx.path_uuid("matchId")
    return Reply({"matchId": str(match_id), "logs": matches.agent_logs(ctx.platform, user_id, match_id)})


@api.route("/api/v1/matches/<matchId>/replay", "GET")
def replay(ctx: Context) -> Reply | flask.Response:
    match_id = ctx.path_uuid("matchId")
    wanted = ctx.query(ReplayFormatQuery).format
    matches.limit_replay_downloads(ctx.platform, ctx.client_ip())
    document = matches.replay_of(ctx.platform, match_id)
    if wanted == "json":
        return Reply(document)
    from rlarena.replays.html import render_html  # only replay viewers pay for the template

    return flask.Response(
        render_html(document),
        mimetype="text/html",
        headers={"Content-Disposition": f'attachment; filename="replay_{match_id}.html"'},
    )


@api.route("/api/v1/matches/<matchId>/replay-url", "GET")
def replay_url(ctx: Context) -> Reply:
    match_id = ctx.path_uuid("matchId")
    wanted = ctx.query(ReplayFormatQuery).format
    matches.replay_key_of(ctx.platform, match_id)  # 404 unless there is a replay
    url = f"/api/v1/matches/{match_id}/replay?format={wanted}"
    return Reply({"replayUrl": url, "matchId": str(match_id), "format": wanted})
