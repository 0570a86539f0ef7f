"""End to end on `rlarena dev`: three users upload tic-tac-toe agents and the platform plays itself.

The fast development schedule (a tick every second, a one-second cooldown) makes matches run on
their own within seconds; the executor is the platform's child process over real gRPC, the
agents run sandboxed. Killing the executor mid-match fails that match, frees its agents, and
play continues once the supervisor has started the executor again.
"""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.running_platform import (
    RunningPlatform,
    active_agent,
    eventually,
    executor_pid,
    matches,
    start_platform,
    stop_platform,
)

FIRST_LEGAL = b"""
def agent(observation, configuration):
    return observation["action_mask"].index(1)
"""
# Slow enough (about 0.25 s a move) that a match is still running when the test kills the executor.
SLOW_RANDOM = b"""
import random, time

def agent(observation, configuration):
    time.sleep(0.25)
    legal = [i for i, ok in enumerate(observation["action_mask"]) if ok]
    return random.choice(legal)
"""


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(
        tmp_path_factory.mktemp("arena"),
        MATCHMAKER_COOLDOWN="1s",
        MATCHMAKER_REMATCH_AFTER="1s",
        MATCH_DEADLINE_SLACK="30s",
    )
    yield running
    stop_platform(running)


@pytest.fixture(scope="module")
def agents(arena: RunningPlatform) -> dict[str, tuple[str, str]]:
    """Three users' agents, active: name -> (token, agent id)."""
    found: dict[str, tuple[str, str]] = {}
    for name, code in (("alice", FIRST_LEGAL), ("bob", FIRST_LEGAL), ("carol", SLOW_RANDOM)):
        found[name] = active_agent(arena, name, code)
    return found


def test_matches_run_by_themselves_and_ratings_agree_with_the_match_table(
    arena: RunningPlatform, agents: dict[str, tuple[str, str]]
) -> None:
    eventually(lambda: len(matches(arena, status="completed")) >= 6, 90, "six completed matches")
    # Freeze the picture: compare each agent with the completed matches it played.
    completed = matches(arena, status="completed")
    ids = {agent_id for _, agent_id in agents.values()}
    assert all(m["agent1Id"] in ids and m["agent2Id"] in ids for m in completed)
    for _, agent_id in agents.values():
        mine = [m for m in completed if agent_id in (m["agent1Id"], m["agent2Id"])]
        agent = arena.request("GET", f"/api/v1/agents/{agent_id}").body["agent"]
        if agent["totalMatches"] != len(mine):  # a result landed between the two reads
            continue
        change = sum(m["agent1EloChange"] if m["agent1Id"] == agent_id else m["agent2EloChange"] for m in mine)
        assert agent["elo"] == 1500 + change
        assert agent["wins"] == sum(m["winnerId"] == agent_id for m in mine)
        assert agent["draws"] == sum(m["winnerId"] is None for m in mine)
        assert agent["wins"] + agent["losses"] + agent["draws"] == agent["totalMatches"]
        # The rating graph's history agrees: an unbroken chain of rated matches ending at the Elo.
        history = arena.request("GET", f"/api/v1/agents/{agent_id}/rating-history?pageSize=100").body
        rows = history["history"]
        assert rows and all(newer["eloBefore"] == older["eloAfter"] for newer, older in itertools.pairwise(rows))
        assert rows[-1]["eloBefore"] == 1500 or history["total"] > len(rows)
        assert {row["matchId"] for row in rows} <= {m["id"] for m in matches(arena, status="completed")}
        if history["total"] == agent["totalMatches"]:
            assert rows[0]["eloAfter"] == agent["elo"]
    board = arena.request("GET", "/api/v1/leaderboard/environment/tic-tac-toe").body
    assert board["total"] == 3
    elos = [row["elo"] for row in board["leaderboard"]]
    assert elos == sorted(elos, reverse=True)
    assert any(m["replayUrl"] for m in completed)
    # Each owner reads its own agent's logs of a match, and only its own.
    tokens = {agent_id: token for token, agent_id in agents.values()}
    played = completed[0]
    first, second = played["agent1Id"], played["agent2Id"]
    logs = arena.request("GET", f"/api/v1/matches/{played['id']}/logs", token=tokens[first]).body
    assert "logs" in logs, logs
    assert [(entry["agentId"], entry["status"]) for entry in logs["logs"]] == [(first, "OK")]
    outsider = next(token for agent_id, token in tokens.items() if agent_id not in (first, second))
    assert arena.request("GET", f"/api/v1/matches/{played['id']}/logs", token=outsider).status == 403
    assert arena.request("GET", f"/api/v1/matches/{played['id']}/logs").status == 401
    replay = arena.request("GET", f"/api/v1/matches/{completed[0]['id']}/replay")
    assert replay.status == 200 and replay.body["frames"]


def test_killing_the_executor_fails_its_match_and_play_continues(
    arena: RunningPlatform, agents: dict[str, tuple[str, str]]
) -> None:
    carol = agents["carol"][1]

    def carol_running() -> dict[str, Any] | None:
        running = [m for m in matches(arena, status="running") if carol in (m["agent1Id"], m["agent2Id"])]
        return running[0] if running else None

    victim = eventually(carol_running, 90, "a running match of the slow agent")
    os.kill(executor_pid(arena), signal.SIGKILL)
    failed = eventually(
        lambda: next((m for m in matches(arena, status="failed") if m["id"] == victim["id"]), None),
        30,
        "the interrupted match to fail",
    )
    assert "executor stopped" in failed["errorMessage"]
    before = {m["id"] for m in matches(arena, status="completed")}
    eventually(
        lambda: any(m["id"] not in before for m in matches(arena, status="completed")),
        90,
        "a new match to complete after the executor came back",
    )
    assert "starting it again" in arena.log()
