"""The README's sample agent, uploaded as the README says to a running local platform, passes the
build's validation match (which plays it against itself, both sides) and becomes active."""

from __future__ import annotations

from tests.support.readme import readme_sample_agent
from tests.support.running_platform import RunningPlatform, upload, wait_for

# The README's sample before issue 14: the second move of the validation match is illegal.
OLD_SAMPLE = b"def agent(observation, configuration):\n    return 0\n"


def _player(platform: RunningPlatform, name: str, environment: str) -> tuple[str, str]:
    user = platform.request(
        "POST", "/api/v1/auth/register", {"username": name, "email": f"{name}@e.io", "password": "long enough"}
    )
    token = user.body["token"]
    agent = platform.request("POST", "/api/v1/agents", {"name": f"{name}-bot", "environmentId": environment}, token)
    return token, agent.body["agent"]["id"]


def test_the_readme_sample_agent_becomes_active(local_platform: RunningPlatform) -> None:
    code, environment = readme_sample_agent()
    token, agent_id = _player(local_platform, "reader", environment)
    status, body = upload(local_platform, token, agent_id, "agent.py", code.encode())
    assert status == 201, body
    submission = wait_for(local_platform, token, body["submission"]["id"], {"active", "failed"})
    assert submission["status"] == "active", submission
    board = local_platform.request("GET", f"/api/v1/leaderboard/environment/{environment}").body
    assert agent_id in [agent["id"] for agent in board["leaderboard"]]


def test_the_old_sample_still_fails_so_the_check_above_means_something(local_platform: RunningPlatform) -> None:
    _, environment = readme_sample_agent()
    token, agent_id = _player(local_platform, "old-reader", environment)
    status, body = upload(local_platform, token, agent_id, "agent.py", OLD_SAMPLE)
    assert status == 201, body
    submission = wait_for(local_platform, token, body["submission"]["id"], {"active", "failed"})
    assert submission["status"] == "failed"
    logs = local_platform.request("GET", f"/api/v1/submissions/{submission['id']}/build-logs", token=token).body
    assert "not legal" in logs["buildLog"] or "illegal" in logs["buildLog"], logs["buildLog"]
