"""The matchmaker function's HTTP side: /api/v1/matches* (manual matches, lists, one match, replays)."""

from __future__ import annotations

import flask

from rlarena import runtime
from rlarena.adapters.db.match_labels import LabelledMatch
from rlarena.entrypoints.views import match_view
from rlarena.http.api import Context, HttpApi, Reply, parse_uuid
from rlarena.http.health import add_health
from rlarena.http.operation import Content, schemas
from rlarena.http.schemas.params import AGENT_ID, MATCH_ID
from rlarena.http.self_description import add_openapi
from rlarena.service import manual_matches, matches
from rlarena.service.commands import CreateMatch, PageQuery
from rlarena.service.matches import MatchListQuery, ReplayFormatQuery, ReplaysQuery

api = HttpApi("matchmaker", runtime.platform)
add_health(api)
add_openapi(api)

model = schemas("matches")


def _page_reply(found: list[LabelledMatch], total: int, query: PageQuery, key: str = "matches") -> Reply:
    return Reply({key: [match_view(m) for m in found], "total": total, "page": query.page, "pageSize": query.page_size})


@api.route(
    "/api/v1/matches",
    "GET",
    summary="List matches",
    description="Public matches, newest first, optionally of one environment, agent or status.",
    tags=("matches",),
    query=MatchListQuery,
    responses={200: model("MatchPage")},
)
def list_matches(ctx: Context) -> Reply:
    query = ctx.query(MatchListQuery)
    found, total = matches.list_matches(ctx.platform, query)
    return _page_reply(found, total, query)


@api.route(
    "/api/v1/matches",
    "POST",
    summary="Start a manual match",
    description="Two agents (one of them the caller's) play an unrated match: 202 with the pending match at "
    "once; the result arrives by events. Limited per user per minute.",
    tags=("matches",),
    auth="bearer",
    body=CreateMatch,
    responses={202: model("MatchReply")},
    errors=(403, 404, 409),
    rate_limited=True,
)
def create_match(ctx: Context) -> Reply:
    """A manual match: 202 with the pending match at once; the result arrives by events."""
    user_id = ctx.user_id()
    command = ctx.body(CreateMatch)
    first, second = parse_uuid(command.agent1_id, "agent1Id"), parse_uuid(command.agent2_id, "agent2Id")
    match = manual_matches.create_manual_match(ctx.platform, user_id, first, second)
    return Reply({"match": match_view(match)}, 202)


@api.route(
    "/api/v1/matches/replays",
    "GET",
    summary="An agent's matches with replays",
    description="The public matches of one agent that have a replay, newest first.",
    tags=("replays",),
    query=ReplaysQuery,
    responses={200: model("ReplayPage")},
    errors=(404,),
)
def list_replays(ctx: Context) -> Reply:
    query = ctx.query(ReplaysQuery)
    found, total = matches.replays(ctx.platform, query)
    reply = _page_reply(found, total, query, key="replays")
    assert isinstance(reply.body, dict)
    reply.body["agentId"] = str(query.agent_id)
    return reply


@api.route(
    "/api/v1/matches/agent/<agentId>",
    "GET",
    summary="An agent's matches",
    description="The public matches of one agent, newest first.",
    tags=("matches",),
    params={"agentId": AGENT_ID},
    query=PageQuery,
    responses={200: model("AgentMatchPage")},
    errors=(404,),
)
def agent_matches(ctx: Context) -> Reply:
    agent_id = ctx.path_uuid("agentId")
    query = ctx.query(PageQuery)
    found, total = matches.matches_of_agent(ctx.platform, agent_id, query)
    reply = _page_reply(found, total, query)
    assert isinstance(reply.body, dict)
    reply.body["agentId"] = str(agent_id)
    return reply


@api.route(
    "/api/v1/matches/<matchId>",
    "GET",
    summary="One match",
    description="A match with both sides, its status, result, rating changes and replay links.",
    tags=("matches",),
    params={"matchId": MATCH_ID},
    responses={200: model("MatchReply")},
    errors=(404,),
)
def get_match(ctx: Context) -> Reply:
    return Reply({"match": match_view(matches.get_match(ctx.platform, ctx.path_uuid("matchId")))})


@api.route(
    "/api/v1/matches/<matchId>/logs",
    "GET",
    summary="The caller's agents' logs of a match",
    tags=("matches",),
    auth="bearer",
    params={"matchId": MATCH_ID},
    responses={200: model("MatchLogs")},
    errors=(403, 404),
)
def match_logs(ctx: Context) -> Reply:
    """The caller's own agents' logs of a match (owners only)."""
    user_id = ctx.user_id()
    match_id = ctx.path_uuid("matchId")
    return Reply({"matchId": str(match_id), "logs": matches.agent_logs(ctx.platform, user_id, match_id)})


@api.route(
    "/api/v1/matches/<matchId>/replay",
    "GET",
    summary="A match's replay",
    description="The replay as JSON (`format=json`) or as a self-contained HTML player to download "
    "(`format=html`). Downloads are limited per client address (REPLAY_RATE_LIMIT_PER_MINUTE).",
    tags=("replays",),
    params={"matchId": MATCH_ID},
    query=ReplayFormatQuery,
    responses={200: Content({"application/json": model("Replay"), "text/html": {"type": "string"}}, "The replay")},
    errors=(404,),
    rate_limited=True,
)
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


@api.route(
    "/api/v1/matches/<matchId>/replay-url",
    "GET",
    summary="Where a match's replay downloads from",
    description="The download path of the replay in the format asked for; 404 unless the match has a replay.",
    tags=("replays",),
    params={"matchId": MATCH_ID},
    query=ReplayFormatQuery,
    responses={200: model("ReplayLink")},
    errors=(404,),
)
def replay_url(ctx: Context) -> Reply:
    match_id = ctx.path_uuid("matchId")
    wanted = ctx.query(ReplayFormatQuery).format
    matches.replay_key_of(ctx.platform, match_id)  # 404 unless there is a replay
    url = f"/api/v1/matches/{match_id}/replay?format={wanted}"
    return Reply({"replayUrl": url, "matchId": str(match_id), "format": wanted})
