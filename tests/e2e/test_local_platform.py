"""End to end: `rlarena dev` as a newcomer runs it, used over real HTTP."""

from __future__ import annotations

import subprocess
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from sqlalchemy import create_engine, text

from tests.support.running_platform import BIN, RunningPlatform, start_platform, stop_platform


def test_a_newcomer_registers_logs_in_creates_an_agent_and_sees_the_leaderboard(
    local_platform: RunningPlatform,
) -> None:
    registered = local_platform.request(
        "POST", "/api/v1/auth/register", {"username": "newcomer", "email": "new@example.com", "password": "s3cret pass"}
    )
    assert registered.status == 201
    login = local_platform.request(
        "POST", "/api/v1/auth/login", {"email": "new@example.com", "password": "s3cret pass"}
    )
    assert login.status == 200
    token = login.body["token"]
    created = local_platform.request("POST", "/api/v1/agents", {"name": "first", "environmentId": "pong"}, token)
    assert created.status == 201
    agent_id = created.body["agent"]["id"]
    assert local_platform.request("GET", f"/api/v1/agents/{agent_id}").body["agent"]["name"] == "first"
    mine = local_platform.request("GET", "/api/v1/agents/my", token=token)
    assert [a["id"] for a in mine.body["agents"]] == [agent_id]
    me = local_platform.request("GET", "/api/v1/users/me", token=token)
    assert me.body["user"]["username"] == "newcomer"
    board = local_platform.request("GET", "/api/v1/leaderboard?limit=100")
    assert board.status == 200
    assert board.body["leaderboard"] == []  # no built submission yet: not ranked
    environments = local_platform.request("GET", "/api/v1/environments")
    assert {e["id"] for e in environments.body["environments"]} == {"tic-tac-toe", "connect-four", "chess", "pong"}


def test_every_response_is_json_even_for_unknown_paths(local_platform: RunningPlatform) -> None:
    missing = local_platform.request("GET", "/api/v1/does-not-exist")
    assert missing.status == 404
    assert missing.headers["content-type"] == "application/json"
    assert missing.body["code"] == "not_found"
    # "/" is the web app's home page (HTML): tests/e2e/test_web_pages.py.


def test_cors_preflight_is_answered_for_an_allowed_origin(local_platform: RunningPlatform) -> None:
    response = local_platform.request(
        "OPTIONS",
        "/api/v1/auth/login",
        headers={"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST"},
    )
    assert response.status == 204
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"


def test_a_match_result_posted_to_the_broker_reaches_ratings_through_the_trigger(
    local_platform: RunningPlatform,
) -> None:
    tokens, agents = [], []
    for name in ("red", "blue"):
        user = local_platform.request(
            "POST", "/api/v1/auth/register", {"username": name, "email": f"{name}@e.io", "password": "long enough"}
        )
        tokens.append(user.body["token"])
        agent = local_platform.request("POST", "/api/v1/agents", {"name": name, "environmentId": "chess"}, tokens[-1])
        agents.append(agent.body["agent"]["id"])
    match_id = uuid.uuid4()
    # The matchmaker (a later function) books matches; here the test books one directly.
    engine = create_engine(f"sqlite:///{local_platform.data_dir / 'rlarena.db'}")
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO matches (id, environment_id, agent1_id, agent2_id, status, is_rated, is_public,"
                " created_at, updated_at) VALUES (:id, 'chess', :a, :b, 'running', 1, 1, :now, :now)"
            ),
            {"id": match_id.hex, "a": uuid.UUID(agents[0]).hex, "b": uuid.UUID(agents[1]).hex, "now": now},
        )
    engine.dispose()
    event = CloudEvent(
        {"type": "dev.rlarena.match.finished", "source": "/rlarena/executor"},
        {
            "matchId": str(match_id),
            "environmentId": "chess",
            "winnerId": agents[1],
            "agentResults": [{"agentId": agents[0], "score": 0}, {"agentId": agents[1], "score": 1}],
        },
    )
    headers, body = to_binary(event)
    # The ingress takes events only with the platform's broker token (tests/e2e/test_hostile_platform.py).
    headers["Authorization"] = f"Bearer {(local_platform.data_dir / 'broker-token').read_text().strip()}"
    request = urllib.request.Request(
        local_platform.base_url + "/broker/rlarena/default", data=body, headers=headers, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 202
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        blue = local_platform.request("GET", f"/api/v1/agents/{agents[1]}").body["agent"]
        if blue["totalMatches"] == 1:
            break
        time.sleep(0.1)
    assert (blue["elo"], blue["wins"]) == (1520, 1)
    stats = local_platform.request("GET", f"/api/v1/agents/{agents[0]}/stats").body
    assert stats["stats"][0]["losses"] == 1


def test_the_ping_timer_fires_from_the_pingsource_manifest(local_platform: RunningPlatform) -> None:
    deadline = time.monotonic() + 10
    while "PingSource matchmaker-tick fired" not in local_platform.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "PingSource matchmaker-tick fires every 0:00:01 (override)" in local_platform.log()
    assert "PingSource matchmaker-tick fired" in local_platform.log()


def test_every_request_gets_one_log_line_with_method_path_status_and_latency(local_platform: RunningPlatform) -> None:
    local_platform.request("GET", "/api/v1/environments?page=1")
    time.sleep(0.2)
    lines = [line for line in local_platform.log().splitlines() if "GET /api/v1/environments 200" in line]
    assert lines and lines[-1].endswith("ms")


def test_ctrl_c_stops_the_platform_cleanly(tmp_path: Path) -> None:
    running = start_platform(tmp_path)
    assert stop_platform(running) == 0
    assert "RL Arena stopped." in running.log()
    assert "Traceback" not in running.log()


def test_production_refuses_to_start_without_a_strong_secret(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / "rlarena"), "dev", "--port", "1"],
        cwd=tmp_path,
        env={"ENV": "production", "JWT_SECRET": "short", "DATABASE_URL": "sqlite:///x.db", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "JWT_SECRET is too weak" in result.stderr
