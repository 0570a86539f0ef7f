"""End to end on `rlarena dev` with the development defaults (cooldown 10 s, rematch block 1 min)
and the house agents on: ONE author uploads ONE tic-tac-toe agent and, alone on the platform,
plays rated matches against the house agents within its first minutes, placed against house
agents of different strength; the leaderboard lists the house agents as such."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.running_platform import RunningPlatform, eventually, start_platform, stop_platform, upload

LEGAL = b"""
def agent(observation, configuration):
    return observation["legal_actions"][0]
"""
FIRST_MINUTES = 240  # seconds from the upload, the build included, on a busy two-core machine


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("lone-author"), HOUSE_AGENTS="true")
    yield running
    stop_platform(running)


def test_a_lone_author_gets_rated_matches_against_house_agents_in_the_first_minutes(arena: RunningPlatform) -> None:
    user = arena.request(
        "POST", "/api/v1/auth/register", {"username": "ada", "email": "ada@e.io", "password": "long enough"}
    )
    token = user.body["token"]
    agent_id = arena.request("POST", "/api/v1/agents", {"name": "first", "environmentId": "tic-tac-toe"}, token).body[
        "agent"
    ]["id"]
    status, body = upload(arena, token, agent_id, "agent.py", LEGAL)
    assert status == 201, body
    uploaded = time.monotonic()

    def rated_matches() -> list[dict[str, Any]]:
        found = arena.request("GET", f"/api/v1/matches/agent/{agent_id}?pageSize=100").body["matches"]
        done = [m for m in found if m["status"] == "completed" and m["isRated"]]
        return done if len(done) >= 3 else []

    played = eventually(rated_matches, FIRST_MINUTES, "three rated matches of the lone author's agent")
    took = time.monotonic() - uploaded
    print(f"three rated matches {took:.0f} s after the upload")  # the figure for the report (-s)

    board = arena.request("GET", "/api/v1/leaderboard/environment/tic-tac-toe").body["leaderboard"]
    house = {entry["id"]: entry for entry in board if entry["house"]}
    assert {entry["name"] for entry in house.values()} == {
        "random (tic-tac-toe)",
        "greedy (tic-tac-toe)",
        "negamax (tic-tac-toe)",
    }
    assert {entry["username"] for entry in house.values()} == {"[house]"}
    assert [entry["house"] for entry in board if entry["id"] == agent_id] == [False]
    opponents = [m["agent2Id"] if m["agent1Id"] == agent_id else m["agent1Id"] for m in played]
    assert set(opponents) <= house.keys()
    # Placement and the rematch block: not the same house agent three times.
    assert len(set(opponents)) >= 2
    me = arena.request("GET", f"/api/v1/agents/{agent_id}").body["agent"]
    assert me["totalMatches"] >= 3 and me["elo"] != 1500
