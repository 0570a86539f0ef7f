"""The agents function: /api/v1/agents*, /api/v1/leaderboard*, /api/v1/environments."""

from __future__ import annotations

from rlarena import runtime
from rlarena.entrypoints.views import agent_view, environment_view, opponent_view, rating_history_view
from rlarena.http.api import Context, HttpApi, Reply
from rlarena.http.health import add_health
from rlarena.service import agents, ratings
from rlarena.service.agents import SortedLeaderboardQuery
from rlarena.service.commands import CreateAgent, MyAgentsQuery, PageQuery, UpdateAgent

api = HttpApi("agents", runtime.platform)
add_health(api)


@api.route("/api/v1/agents", "GET")
def list_agents(ctx: Context) -> Reply:
    query = ctx.query(PageQuery)
    page, total = agents.list_agents(ctx.platform, query)
    return Reply(
        {"agents": [agent_view(a) for a in page], "total": total, "page": query.page, "pageSize": query.page_size}
    )


@api.route("/api/v1/agents/my", "GET")
def my_agents(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    mine = agents.agents_of(ctx.platform, user_id, ctx.query(MyAgentsQuery).environment_id)
    return Reply({"agents": [agent_view(a) for a in mine], "total": len(mine)})


@api.route("/api/v1/agents", "POST")
def create_agent(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    return Reply({"agent": agent_view(agents.create_agent(ctx.platform, user_id, ctx.body(CreateAgent)))}, 201)


@api.route("/api/v1/agents/<agentId>", "GET")
def get_agent(ctx: Context) -> Reply:
    return Reply({"agent": agent_view(agents.get_agent(ctx.platform, ctx.path_uuid("agentId")))})


@api.route("/api/v1/agents/<agentId>", "PUT", "PATCH")
def update_agent(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    agent_id = ctx.path_uuid("agentId")
    updated = agents.update_agent(ctx.platform, user_id, agent_id, ctx.body(UpdateAgent))
    return Reply({"agent": agent_view(updated)})


@api.route("/api/v1/agents/<agentId>", "DELETE")
def delete_agent(ctx: Context) -> Reply:
    user_id = ctx.user_id()
    agent_id = ctx.path_uuid("agentId")
    agents.delete_agent(ctx.platform, user_id, agent_id)
    return Reply({"message": "agent deleted", "agentId": str(agent_id)})


@api.route("/api/v1/agents/<agentId>/stats", "GET")
def agent_stats(ctx: Context) -> Reply:
    agent_id = ctx.path_uuid("agentId")
    records = agents.head_to_head(ctx.platform, agent_id)
    return Reply({"agentId": str(agent_id), "stats": [opponent_view(r) for r in records], "total": len(records)})


@api.route("/api/v1/agents/<agentId>/rating-history", "GET")
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


@api.route("/api/v1/leaderboard", "GET")
def leaderboard(ctx: Context) -> Reply:
    board, total = agents.leaderboard(ctx.platform, None, ctx.query(SortedLeaderboardQuery))
    return Reply({"leaderboard": [agent_view(a) for a in board], "total": total})


@api.route("/api/v1/leaderboard/environment/<environmentId>", "GET")
def environment_leaderboard(ctx: Context) -> Reply:
    environment_id = ctx.path_text("environmentId")
    board, total = agents.leaderboard(ctx.platform, environment_id, ctx.query(SortedLeaderboardQuery))
    return Reply({"environmentId": environment_id, "leaderboard": [agent_view(a) for a in board], "total": total})


@api.route("/api/v1/environments", "GET")
def list_environments(ctx: Context) -> Reply:
    found = agents.environments(ctx.platform)
    return Reply({"environments": [environment_view(e) for e in found], "total": len(found)})
