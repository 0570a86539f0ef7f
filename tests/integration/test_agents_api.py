"""The agents function: CRUD, ownership, pagination, ranks, leaderboards and environments."""

from __future__ import annotations

import uuid

import pytest

from rlarena.bootstrap import Platform
from rlarena.domain.statuses import MatchStatus
from tests.support.api import ApiClient
from tests.support.seed import activate, insert_match

AGENT_FIELDS = {
    "id", "userId", "username", "name", "description", "environmentId", "elo", "score", "wins", "losses",
    "draws", "totalMatches", "activeSubmissionId", "rank", "createdAt", "updatedAt", "skill", "house",
}  # fmt: skip


def test_create_agent_returns_the_contract_shape(api: ApiClient) -> None:
    user = api.register()
    response = api.post(
        "/api/v1/agents",
        json={"name": "Minimax", "description": "plays perfectly", "environmentId": "tic-tac-toe"},
        headers=user.headers,
    )
    assert response.status_code == 201
    agent = response.json["agent"]
    assert set(agent) == AGENT_FIELDS
    assert agent["userId"] == user.id
    assert agent["username"] == user.username
    assert (agent["elo"], agent["score"], agent["totalMatches"], agent["rank"]) == (1500, 1500, 0, None)
    assert agent["house"] is False  # an author's agent, not one shipped with the platform
    assert api.get(f"/api/v1/agents/{agent['id']}").json["agent"] == agent


def test_an_unknown_environment_is_400_listing_the_known_ones(api: ApiClient) -> None:
    user = api.register()
    response = api.post("/api/v1/agents", json={"name": "x", "environmentId": "go"}, headers=user.headers)
    assert response.status_code == 400
    assert set(response.json["details"]["allowed"]) == {"tic-tac-toe", "connect-four", "chess", "pong"}


def test_agent_names_are_unique_per_user_but_not_across_users(api: ApiClient) -> None:
    alice, bob = api.register(), api.register()
    api.create_agent(alice, "same")
    again = api.post("/api/v1/agents", json={"name": "same", "environmentId": "pong"}, headers=alice.headers)
    assert again.status_code == 409
    api.create_agent(bob, "same")


def test_creating_an_agent_requires_authentication(api: ApiClient) -> None:
    response = api.post("/api/v1/agents", json={"name": "x", "environmentId": "pong"})
    assert response.status_code == 401


def test_list_is_paginated_by_elo_with_the_real_total(api: ApiClient, platform: Platform) -> None:
    user = api.register()
    ids = [api.create_agent(user, f"a{n}")["id"] for n in range(5)]
    for n, agent_id in enumerate(ids):
        activate(platform, agent_id, elo=1400 + 10 * n)
    first = api.get("/api/v1/agents?page=1&pageSize=2").json
    second = api.get("/api/v1/agents?page=2&pageSize=2").json
    last = api.get("/api/v1/agents?page=3&pageSize=2").json
    beyond = api.get("/api/v1/agents?page=9&pageSize=2").json
    assert first["total"] == second["total"] == 5
    assert (first["page"], first["pageSize"]) == (1, 2)
    assert [a["elo"] for a in first["agents"] + second["agents"] + last["agents"]] == [1440, 1430, 1420, 1410, 1400]
    assert [a["rank"] for a in first["agents"]] == [1, 2]
    assert beyond["agents"] == []
    assert api.get("/api/v1/agents?pageSize=1000").json["pageSize"] == 100
    assert api.get("/api/v1/agents?page=0").status_code == 400
    assert api.get("/api/v1/agents?pageSize=abc").status_code == 400


def test_my_agents_lists_only_the_callers_agents_filtered_by_environment(api: ApiClient) -> None:
    alice, bob = api.register(), api.register()
    api.create_agent(alice, "ttt", "tic-tac-toe")
    api.create_agent(alice, "pong", "pong")
    api.create_agent(bob, "bobs", "pong")
    mine = api.get("/api/v1/agents/my", headers=alice.headers).json
    assert sorted(a["name"] for a in mine["agents"]) == ["pong", "ttt"]
    filtered = api.get("/api/v1/agents/my?environmentId=pong", headers=alice.headers).json
    assert [a["name"] for a in filtered["agents"]] == ["pong"]
    assert api.get("/api/v1/agents/my?environmentId=chess", headers=alice.headers).json["agents"] == []
    assert api.get("/api/v1/agents/my").status_code == 401


def test_update_changes_only_given_fields_and_only_for_the_owner(api: ApiClient) -> None:
    owner, stranger = api.register(), api.register()
    agent = api.create_agent(owner, "old name")
    renamed = api.put(f"/api/v1/agents/{agent['id']}", json={"name": "new name"}, headers=owner.headers)
    assert renamed.status_code == 200
    assert renamed.json["agent"]["name"] == "new name"
    described = api.put(f"/api/v1/agents/{agent['id']}", json={"description": "d"}, headers=owner.headers)
    assert (described.json["agent"]["name"], described.json["agent"]["description"]) == ("new name", "d")
    forbidden = api.put(f"/api/v1/agents/{agent['id']}", json={"name": "mine"}, headers=stranger.headers)
    assert forbidden.status_code == 403
    assert api.get(f"/api/v1/agents/{agent['id']}").json["agent"]["name"] == "new name"
    null_name = api.put(f"/api/v1/agents/{agent['id']}", json={"name": None}, headers=owner.headers)
    assert null_name.status_code == 400


def test_delete_is_owner_only_and_hides_the_agent(api: ApiClient) -> None:
    owner, stranger = api.register(), api.register()
    agent = api.create_agent(owner)
    assert api.delete(f"/api/v1/agents/{agent['id']}", headers=stranger.headers).status_code == 403
    assert api.delete(f"/api/v1/agents/{agent['id']}", headers=owner.headers).status_code == 200
    assert api.get(f"/api/v1/agents/{agent['id']}").status_code == 404
    assert api.delete(f"/api/v1/agents/{agent['id']}", headers=owner.headers).status_code == 404
    assert api.get("/api/v1/agents").json["total"] == 0
    # The name is free again.
    api.create_agent(owner)


def test_deleting_an_agent_that_played_keeps_its_opponents_history(api: ApiClient, platform: Platform) -> None:
    alice, bob = api.register(), api.register()
    mine, theirs = api.create_agent(alice, "keeper"), api.create_agent(bob, "leaver")
    insert_match(platform, mine["id"], theirs["id"], status=MatchStatus.COMPLETED, winner_id=mine["id"])
    insert_match(platform, theirs["id"], mine["id"], status=MatchStatus.COMPLETED, winner_id=None)
    pending = insert_match(platform, mine["id"], theirs["id"], status=MatchStatus.PENDING)
    assert api.delete(f"/api/v1/agents/{theirs['id']}", headers=bob.headers).status_code == 200
    stats = api.get(f"/api/v1/agents/{mine['id']}/stats").json
    assert stats["stats"] == [
        {"opponentId": theirs["id"], "opponentName": "leaver", "wins": 1, "losses": 0, "draws": 1, "totalMatches": 2}
    ]
    with platform.uow() as uow:
        from rlarena.adapters.db.models import Match

        assert uow.session.get(Match, uuid.UUID(pending)).status == "cancelled"  # type: ignore[union-attr]


def test_stats_count_head_to_head_per_opponent(api: ApiClient, platform: Platform) -> None:
    user = api.register()
    me, rival, other = (api.create_agent(user, n)["id"] for n in ("me", "rival", "other"))
    insert_match(platform, me, rival, status=MatchStatus.COMPLETED, winner_id=me)
    insert_match(platform, rival, me, status=MatchStatus.COMPLETED, winner_id=rival)
    insert_match(platform, me, rival, status=MatchStatus.COMPLETED, winner_id=me)
    insert_match(platform, other, me, status=MatchStatus.COMPLETED, winner_id=None)
    insert_match(platform, other, me, status=MatchStatus.FAILED)
    body = api.get(f"/api/v1/agents/{me}/stats").json
    assert body["agentId"] == me
    assert body["total"] == 2
    by_opponent = {s["opponentName"]: s for s in body["stats"]}
    assert (by_opponent["rival"]["wins"], by_opponent["rival"]["losses"], by_opponent["rival"]["totalMatches"]) == (
        2,
        1,
        3,
    )
    assert (by_opponent["other"]["draws"], by_opponent["other"]["totalMatches"]) == (1, 1)
    assert api.get(f"/api/v1/agents/{uuid.uuid4()}/stats").status_code == 404


def test_leaderboards_use_competition_ranking_and_only_active_agents(api: ApiClient, platform: Platform) -> None:
    user = api.register()
    elos = {"top": 1700, "tie-a": 1600, "tie-b": 1600, "fourth": 1550}
    ids = {name: api.create_agent(user, name, "connect-four")["id"] for name in elos}
    for name, rating in elos.items():
        activate(platform, ids[name], elo=rating)
    api.create_agent(user, "never built", "connect-four")
    other_env = api.create_agent(user, "pong one", "pong")["id"]
    activate(platform, other_env, elo=1800)

    board = api.get("/api/v1/leaderboard/environment/connect-four").json
    assert board["environmentId"] == "connect-four"
    assert board["total"] == 4
    assert [(a["name"], a["rank"]) for a in board["leaderboard"]] == [
        ("top", 1), ("tie-a", 2), ("tie-b", 2), ("fourth", 4)
    ]  # fmt: skip
    page_two = api.get("/api/v1/leaderboard/environment/connect-four?limit=2&page=2").json
    assert [(a["name"], a["rank"]) for a in page_two["leaderboard"]] == [("tie-b", 2), ("fourth", 4)]
    overall = api.get("/api/v1/leaderboard?limit=2").json
    assert overall["total"] == 5
    assert [(a["name"], a["rank"]) for a in overall["leaderboard"]] == [("pong one", 1), ("top", 2)]
    assert api.get(f"/api/v1/agents/{ids['tie-b']}").json["agent"]["rank"] == 2
    assert api.get(f"/api/v1/agents/{ids['fourth']}").json["agent"]["rank"] == 4
    me = api.get("/api/v1/users/me", headers=user.headers).json["stats"]
    assert (me["activeAgents"], me["bestRank"], me["totalSubmissions"]) == (5, 1, 5)


def test_an_unknown_environment_leaderboard_is_404_and_an_empty_one_is_an_empty_list(api: ApiClient) -> None:
    assert api.get("/api/v1/leaderboard/environment/go").status_code == 404
    assert api.get("/api/v1/leaderboard/environment/chess").json == {
        "environmentId": "chess",
        "leaderboard": [],
        "total": 0,
    }
    assert api.get("/api/v1/leaderboard").json == {"leaderboard": [], "total": 0}


def test_environments_lists_the_four_games_with_their_configuration(api: ApiClient) -> None:
    body = api.get("/api/v1/environments").json
    assert {e["id"] for e in body["environments"]} == {"tic-tac-toe", "connect-four", "chess", "pong"}
    pong = next(e for e in body["environments"] if e["id"] == "pong")
    assert pong["config"]["paddleHeight"] == 0.2
    assert pong["config"]["maxSteps"] == 1000


@pytest.mark.parametrize("path", ["/health", "/api/v1/environments"])
def test_public_reads_need_no_token(api: ApiClient, path: str) -> None:
    assert api.get(path).status_code == 200


def test_cors_allows_configured_origins_only(api: ApiClient) -> None:
    allowed = api.get("/api/v1/environments", headers={"Origin": "http://localhost:3000"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    denied = api.get("/api/v1/environments", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in denied.headers
    preflight = api.request(
        "OPTIONS",
        "/api/v1/agents",
        headers={
            "Origin": "http://localhost:3000",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
