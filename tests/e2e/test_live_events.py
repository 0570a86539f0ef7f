"""End to end on `rlarena dev`: a browser-like WebSocket client sees its upload build, live."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from tests.support.running_platform import GOOD_AGENT, RunningPlatform, upload

# The order a build moves through; a client must never see it go backwards.
BUILD_ORDER = ["pending", "building", "validating", "active"]


def register(platform: RunningPlatform, name: str) -> str:
    reply = platform.request(
        "POST", "/api/v1/auth/register", {"username": name, "email": f"{name}@e.io", "password": "long enough"}
    )
    assert reply.status == 201, reply.body
    return str(reply.body["token"])


def receive(websocket: ClientConnection, timeout: float = 30.0) -> dict[str, Any]:
    message = json.loads(websocket.recv(timeout=timeout))
    assert isinstance(message, dict)
    return message


@pytest.fixture
def watcher(local_platform: RunningPlatform) -> Iterator[tuple[str, ClientConnection]]:
    """A user connected with ?token= (as a browser must), before doing anything else."""
    token = register(local_platform, "watcher")
    url = local_platform.base_url.replace("http://", "ws://") + f"/api/v1/ws?token={token}"
    with connect(url, open_timeout=10) as websocket:
        assert receive(websocket)["type"] == "connected"
        yield token, websocket


def test_a_client_connected_before_an_upload_sees_its_build_through_to_active(
    local_platform: RunningPlatform, watcher: tuple[str, ClientConnection]
) -> None:
    token, websocket = watcher
    agent = local_platform.request("POST", "/api/v1/agents", {"name": "live", "environmentId": "pong"}, token)
    bystander_url = local_platform.base_url.replace("http://", "ws://") + "/api/v1/ws"
    bystander_token = register(local_platform, "bystander")
    with connect(bystander_url, additional_headers={"Authorization": f"Bearer {bystander_token}"}) as bystander:
        assert receive(bystander)["type"] == "connected"

        status, body = upload(local_platform, token, agent.body["agent"]["id"], "agent.py", GOOD_AGENT)
        assert status == 201, body
        submission_id = body["submission"]["id"]

        seen: list[str] = []
        deadline = time.monotonic() + 30
        while "active" not in seen:
            assert time.monotonic() < deadline, f"no active build_status; saw {seen}"
            message = receive(websocket)
            if message["type"] != "build_status":
                continue
            assert message["payload"]["submissionId"] == submission_id
            assert message["payload"]["agentId"] == agent.body["agent"]["id"]
            seen.append(message["payload"]["status"])

        assert seen[-1] == "active"
        assert len(seen) >= 2, f"only the final status arrived: {seen}"
        assert seen == sorted(seen, key=BUILD_ORDER.index), f"the status went backwards: {seen}"

        bystander.send(json.dumps({"type": "ping"}))
        assert receive(bystander)["type"] == "pong"  # none of the watcher's build news reached them

    # A rival's agent for the same game becomes active: the matchmaker books the two at once, and
    # the watcher sees its agent's first automatic match created, then completed with the ratings.
    rival = register(local_platform, "rival")
    rival_agent = local_platform.request("POST", "/api/v1/agents", {"name": "rival", "environmentId": "pong"}, rival)
    status, body = upload(local_platform, rival, rival_agent.body["agent"]["id"], "agent.py", GOOD_AGENT)
    assert status == 201, body
    mine = agent.body["agent"]["id"]
    created = completed = None
    deadline = time.monotonic() + 60
    while completed is None:
        assert time.monotonic() < deadline, "no match_completed for the first automatic match"
        message = receive(websocket, timeout=60)
        if message["type"] == "match_created":
            created = message["payload"]
            assert mine in (created["agent1Id"], created["agent2Id"])
        elif message["type"] == "match_completed":
            completed = message["payload"]
    assert created is not None, "match_completed arrived without match_created"
    assert completed["matchId"] == created["matchId"]
    assert {"agent1Score", "agent2Score"} <= set(completed)
    assert completed["replayUrl"] == f"/api/v1/matches/{created['matchId']}/replay"
    stored = local_platform.request("GET", f"/api/v1/matches/{created['matchId']}").body["match"]
    assert stored["status"] == "completed"
    assert (completed["agent1EloChange"], completed["agent2EloChange"]) == (
        stored["agent1EloChange"],
        stored["agent2EloChange"],
    )
    assert mine in {change["agentId"] for change in completed["eloChanges"]}


def test_a_plain_get_of_the_websocket_path_says_to_upgrade(local_platform: RunningPlatform) -> None:
    reply = local_platform.request("GET", "/api/v1/ws")

    assert reply.status == 426
    assert reply.body["code"] == "upgrade_required"
