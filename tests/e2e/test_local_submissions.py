"""End to end on `rlarena dev`: uploads over real HTTP become active (or fail clearly) by themselves."""

from __future__ import annotations

import time

import pytest

from tests.support.running_platform import GOOD_AGENT, RunningPlatform, upload, wait_for, zipped

CRASHING_AGENT = b"raise ValueError('broken on purpose')\n"


@pytest.fixture(scope="module")
def player(local_platform: RunningPlatform) -> tuple[str, str]:
    user = local_platform.request(
        "POST", "/api/v1/auth/register", {"username": "uploader", "email": "up@e.io", "password": "long enough"}
    )
    token = user.body["token"]
    agent = local_platform.request("POST", "/api/v1/agents", {"name": "uploaded", "environmentId": "pong"}, token)
    return token, agent.body["agent"]["id"]


def test_a_good_upload_is_active_within_seconds(local_platform: RunningPlatform, player: tuple[str, str]) -> None:
    token, agent_id = player
    started = time.monotonic()
    status, body = upload(local_platform, token, agent_id, "bot.zip", zipped({"bot/agent.py": GOOD_AGENT}))
    assert status == 201, body
    active = wait_for(local_platform, token, body["submission"]["id"], {"active", "failed"})
    assert active["status"] == "active", active
    assert time.monotonic() - started < 10
    agent = local_platform.request("GET", f"/api/v1/agents/{agent_id}").body["agent"]
    assert agent["activeSubmissionId"] == active["id"]
    board = local_platform.request("GET", "/api/v1/leaderboard/environment/pong").body
    assert agent_id in [a["id"] for a in board["leaderboard"]]


@pytest.mark.parametrize(
    ("filename", "data", "status", "code"),
    [
        ("bot.zip", zipped({"../../etc/evil.py": GOOD_AGENT}), 400, "unsafe_path"),
        ("bot.zip", zipped({}), 400, "empty_archive"),
        ("bot.tar.gz", b"\x1f\x8b not really gzip", 400, "bad_archive"),
        ("bot.rar", b"Rar!", 400, "unsupported_type"),
        ("agent.py", b"def agent(obs, conf)\n    return 0\n", 400, "syntax_error"),
    ],
)
def test_bad_archives_are_refused_with_a_reason_and_leave_nothing(
    local_platform: RunningPlatform, player: tuple[str, str], filename: str, data: bytes, status: int, code: str
) -> None:
    token, agent_id = player
    before = local_platform.request("GET", f"/api/v1/submissions/agent/{agent_id}", token=token).body["total"]
    got, body = upload(local_platform, token, agent_id, filename, data)
    assert (got, body["code"]) == (status, code), body
    after = local_platform.request("GET", f"/api/v1/submissions/agent/{agent_id}", token=token).body["total"]
    assert after == before
    objects = local_platform.data_dir / "objects" / "rlarena"
    stored = [p for p in objects.rglob("source.*")] if objects.exists() else []
    assert len(stored) == before


def test_an_agent_that_crashes_fails_with_its_traceback_and_rebuilds_are_limited(
    local_platform: RunningPlatform, player: tuple[str, str]
) -> None:
    token, agent_id = player
    status, body = upload(local_platform, token, agent_id, "agent.py", CRASHING_AGENT)
    assert status == 201, body
    submission_id = body["submission"]["id"]
    failed = wait_for(local_platform, token, submission_id, {"failed", "active"})
    assert failed["status"] == "failed"
    logs = local_platform.request("GET", f"/api/v1/submissions/{submission_id}/build-logs", token=token).body
    assert "ValueError: broken on purpose" in logs["buildLog"]
    for _ in range(3):
        rebuilt = local_platform.request("POST", f"/api/v1/submissions/{submission_id}/rebuild", token=token)
        assert rebuilt.status == 202
        wait_for(local_platform, token, submission_id, {"failed"})
        time.sleep(0.05)
    refused = local_platform.request("POST", f"/api/v1/submissions/{submission_id}/rebuild", token=token)
    assert refused.status == 409
    assert refused.body["code"] == "rebuild_limit"
