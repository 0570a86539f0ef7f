"""The agents function: /api/v1/agents*, /api/v1/leaderboard*, /api/v1/environments."""

from __future__ import annotations

import json
from typing import Any

import flask

from rlarena import runtime
from rlarena.entrypoints.views import agent_view, environment_view, opponent_view, rating_history_view
from rlarena.http.api import Context, HttpApi, Reply
from rlarena.http.health import add_health
from rlarena.http.operation import PathParam, schemas
from rlarena.http.schemas.params import AGENT_ID
from rlarena.http.self_description import add_openapi
from rlarena.service import agents, ratings
from rlarena.service.agents import SortedLeaderboardQuery
from rlarena.service.commands import CreateAgent, MyAgentsQuery, PageQuery, UpdateAgent

api = HttpApi("agents", runtime.platform)
add_health(api)
add_openapi(api)

model = schemas("agents")


@api.route(
    "/api/v1/agents",
    "GET",
    summary="List agents",
    description="Every live agent, a page at a time, best rated first.",
    tags=("agents",),
    query=PageQuery,
    responses={200: model("AgentPage")},
)
def list_agents(ctx: Context) -> Reply:
    query = ctx.query(PageQuery)
    page, total = agents.list_agents(ctx.platform, query)
    return Reply(
        {"agents": [agent_view(a) for a in page], "total": total, "page": query.page, "pageSize": query.page_size}
    )


@api.route(
    "/api/v1/agents/my",
    "GET",
    summary="The caller's agents",
    description="Every live agent of the caller, optionally in one environment.",
    tags=("agents",),
    auth="bearer",
    query=MyAgentsQuery,
    responses={200: model("MyAgents")},
)
def my_agents(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    mine = agents.agents_of(ctx.platform, user_id, ctx.query(MyAgentsQuery).environment_id)
    return Reply({"agents": [agent_view(a) for a in mine], "total": len(mine)})


@api.route(
    "/api/v1/agents",
    "POST",
    summary="Create an agent",
    description="A named agent in an environment; its code comes with POST /api/v1/submissions. "
    "Names are unique per user.",
    tags=("agents",),
    auth="bearer",
    body=CreateAgent,
    responses={201: model("AgentReply")},
    errors=(409,),
)
def create_agent(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    return Reply({"agent": agent_view(agents.create_agent(ctx.platform, user_id, ctx.body(CreateAgent)))}, 201)


@api.route(
    "/api/v1/agents/<agentId>",
    "GET",
    summary="One agent",
    description="An agent with its ratings, record and rank.",
    tags=("agents",),
    params={"agentId": AGENT_ID},
    responses={200: model("AgentReply")},
    errors=(404,),
)
def get_agent(ctx: Context) -> Reply:
    return Reply({"agent": agent_view(agents.get_agent(ctx.platform, ctx.path_uuid("agentId")))})


@api.route(
    "/api/v1/agents/<agentId>",
    "PUT",
    "PATCH",
    summary="Rename or redescribe an agent",
    description="The owner changes the name or the description; fields left out stay as they are.",
    tags=("agents",),
    auth="bearer",
    params={"agentId": AGENT_ID},
    body=UpdateAgent,
    responses={200: model("AgentReply")},
    errors=(403, 404, 409),
)
def update_agent(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    agent_id = ctx.path_uuid("agentId")
    updated = agents.update_agent(ctx.platform, user_id, agent_id, ctx.body(UpdateAgent))
    return Reply({"agent": agent_view(updated)})


@api.route(
    "/api/v1/agents/<agentId>",
    "DELETE",
    summary="Retire an agent",
    description="Off the ladder and the queue, its matches not yet started cancelled; its record stays "
    "so opponents' histories still name it.",
    tags=("agents",),
    auth="bearer",
    params={"agentId": AGENT_ID},
    responses={200: model("AgentDeleted")},
    errors=(403, 404),
)
def delete_agent(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    agent_id = ctx.path_uuid("agentId")
    agents.delete_agent(ctx.platform, user_id, agent_id)
    return Reply({"message": "agent deleted", "agentId": str(agent_id)})


@api.route(
    "/api/v1/agents/<agentId>/stats",
    "GET",
    summary="An agent's head-to-head record",
    description="Wins, losses and draws against each opponent it met.",
    tags=("agents",),
    params={"agentId": AGENT_ID},
    responses={200: model("AgentStats")},
    errors=(404,),
)
def agent_stats(ctx: Context) -> Reply:
    agent_id = ctx.path_uuid("agentId")
    records = agents.head_to_head(ctx.platform, agent_id)
    return Reply({"agentId": str(agent_id), "stats": [opponent_view(r) for r in records], "total": len(records)})


@api.route(
    "/api/v1/agents/<agentId>/rating-history",
    "GET",
    summary="An agent's rating history",
    description="Each rating change, newest first, with the opponent and the result.",
    tags=("agents",),
    params={"agentId": AGENT_ID},
    query=PageQuery,
    responses={200: model("RatingHistory")},
    errors=(404,),
)
def rating_history(ctx: Context) -> Reply:
    agent_id = ctx.path_uuid("agentId")
    query = ctx.query(PageQuery)
    rows, total = ratings.rating_history(ctx.platform, agent_id, query)
    return Reply(
        {
            "agentId": str(agent_id),
            "history": [rating_history_view(r) for r in rows],
            "total": total,
            "page": query.page,
            "pageSize": query.page_size,
        }
    )


@api.route(
    "/api/v1/leaderboard",
    "GET",
    summary="The leaderboard of every environment",
    description="Agents by Elo (`sort=elo`) or by conservative skill (`sort=conservative`), a page at a time.",
    tags=("leaderboards",),
    query=SortedLeaderboardQuery,
    responses={200: model("Leaderboard")},
)
def leaderboard(ctx: Context) -> flask.Response:
    body = agents.rendered_leaderboard(
        ctx.platform,
        None,
        ctx.query(SortedLeaderboardQuery),
        lambda board, total: _json({"leaderboard": [agent_view(a) for a in board], "total": total}),
    )
    return flask.Response(body, mimetype="application/json")


@api.route(
    "/api/v1/leaderboard/environment/<environmentId>",
    "GET",
    summary="One environment's leaderboard",
    description="The agents of one environment by Elo or by conservative skill, a page at a time.",
    tags=("leaderboards",),
    params={"environmentId": PathParam("The environment's id, e.g. tic-tac-toe", uuid=False)},
    query=SortedLeaderboardQuery,
    responses={200: model("EnvironmentLeaderboard")},
    errors=(404,),
)
def environment_leaderboard(ctx: Context) -> flask.Response:
    environment_id = ctx.path_text("environmentId")
    body = agents.rendered_leaderboard(
        ctx.platform,
        environment_id,
        ctx.query(SortedLeaderboardQuery),
        lambda board, total: _json(
            {"environmentId": environment_id, "leaderboard": [agent_view(a) for a in board], "total": total}
        ),
    )
    return flask.Response(body, mimetype="application/json")


def _json(body: dict[str, Any]) -> bytes:
    """A leaderboard page as the API renders JSON, once per change of the board (then cached)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


@api.route(
    "/api/v1/environments",
    "GET",
    summary="The games",
    description="Every environment with its limits and what its agents are given (the same source as docs/agents.md).",
    tags=("environments",),
    responses={200: model("Environments")},
)
def list_environments(ctx: Context) -> Reply:
    found = agents.environments(ctx.platform)
    return Reply({"environments": [environment_view(e) for e in found], "total": len(found)})
