"""The author's commands against a running local platform, as an author types them: login (the
token kept 0600 in the config folder), submit (followed to active, or to failed with its build
log), status, matches, logs and replay; the API's own messages on errors; exit 2 when not logged in."""

from __future__ import annotations

import json
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.author_cli import rlarena
from tests.support.running_platform import RunningPlatform, active_agent, eventually

PASSWORD = "analytical engine"
ILLEGAL_AGENT = "def agent(observation, configuration):\n    return 0\n"
LEGAL_AGENT = b"def agent(observation, configuration):\n    return observation['legal_actions'][0]\n"


@dataclass(frozen=True)
class Author:
    home: Path
    token: str
    agent_id: str


def credentials_file(home: Path) -> Path:
    return home / ".config" / "rlarena" / "credentials.json"


def logged_in(platform: RunningPlatform, home: Path, username: str) -> subprocess.CompletedProcess[str]:
    return rlarena(home, "login", platform.base_url, "--username", username, "--password-stdin", stdin=PASSWORD + "\n")


@pytest.fixture(scope="module")
def author(local_platform: RunningPlatform, tmp_path_factory: pytest.TempPathFactory) -> Author:
    home = tmp_path_factory.mktemp("author")
    account = {"username": "ada", "email": "ada@example.com", "password": PASSWORD}
    token = local_platform.request("POST", "/api/v1/auth/register", account).body["token"]
    agent = local_platform.request("POST", "/api/v1/agents", {"name": "ada-bot", "environmentId": "tic-tac-toe"}, token)
    login = logged_in(local_platform, home, "ada")
    assert login.returncode == 0, login.stderr
    return Author(home, token, agent.body["agent"]["id"])


@pytest.fixture(scope="module")
def submitted(author: Author) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """Version 1 (a folder that plays legally), then version 2 (an agent that plays an illegal move)."""
    folder = author.home / "good-agent"
    folder.mkdir()
    (folder / "main.py").write_bytes(LEGAL_AGENT)
    good = rlarena(author.home, "submit", author.agent_id, "good-agent")
    (author.home / "illegal.py").write_text(ILLEGAL_AGENT)
    bad = rlarena(author.home, "submit", author.agent_id, "illegal.py")
    return good, bad


def test_login_keeps_the_url_and_a_working_token_readable_by_the_author_only(
    local_platform: RunningPlatform, author: Author
) -> None:
    path = credentials_file(author.home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    saved = json.loads(path.read_text())
    assert saved["url"] == local_platform.base_url
    assert saved["username"] == "ada"
    me = local_platform.request("GET", "/api/v1/users/me", token=saved["token"])
    assert me.status == 200
    assert me.body["user"]["username"] == "ada"


def test_a_refused_login_shows_the_apis_message_and_saves_nothing(
    local_platform: RunningPlatform, tmp_path: Path
) -> None:
    refused = rlarena(tmp_path, "login", local_platform.base_url, "--username", "ada", "--password-stdin", stdin="no\n")
    api = local_platform.request("POST", "/api/v1/auth/login", {"email": "ada", "password": "no"})
    assert refused.returncode == 1
    assert refused.stderr.strip() == f"rlarena login: {api.body['error']}"
    assert not credentials_file(tmp_path).exists()


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("matches",),
        ("logs", "7d6f0d8e-0000-4000-8000-000000000000"),
        ("replay", "x"),
        ("submit", "a", "."),
    ],
)
def test_every_platform_command_needs_a_login_first(tmp_path: Path, command: tuple[str, ...]) -> None:
    result = rlarena(tmp_path, *command)
    assert result.returncode == 2
    assert "not logged in" in result.stderr
    assert "rlarena login URL" in result.stderr


def test_submit_follows_a_good_version_to_active(
    local_platform: RunningPlatform, author: Author, submitted: tuple[subprocess.CompletedProcess[str], ...]
) -> None:
    good = submitted[0]
    assert good.returncode == 0, good.stdout + good.stderr
    assert "uploaded good-agent.zip" in good.stdout
    steps = [line.strip().split(":")[0] for line in good.stdout.splitlines() if line.startswith("  ")]
    assert steps == ["pending", "building", "validating", "active"]
    assert "version 1 is active" in good.stdout
    agent = local_platform.request("GET", f"/api/v1/agents/{author.agent_id}").body["agent"]
    assert agent["activeSubmissionId"] is not None


def test_submit_shows_a_failed_versions_build_log_and_error(
    local_platform: RunningPlatform, author: Author, submitted: tuple[subprocess.CompletedProcess[str], ...]
) -> None:
    bad = submitted[1]
    assert bad.returncode == 1
    versions = local_platform.request("GET", f"/api/v1/submissions/agent/{author.agent_id}", token=author.token)
    failed = next(item for item in versions.body["submissions"] if item["version"] == 2)
    logs = local_platform.request("GET", f"/api/v1/submissions/{failed['id']}/build-logs", token=author.token).body
    assert failed["status"] == "failed"
    assert f"build log:\n{logs['buildLog']}\n" in bad.stdout
    assert f"FAILED: {failed['errorMessage']}\n" in bad.stdout
    assert "game state when player 1 failed" in bad.stdout


def test_status_lists_my_agents_with_elo_record_active_version_and_latest_build(
    local_platform: RunningPlatform, author: Author, submitted: tuple[subprocess.CompletedProcess[str], ...]
) -> None:
    def elo_and_record() -> list[str]:
        agent = local_platform.request("GET", f"/api/v1/agents/{author.agent_id}").body["agent"]
        return [f"{agent['elo']:.0f}", f"{agent['wins']}-{agent['losses']}-{agent['draws']}"]

    before = elo_and_record()  # matchmaking plays the agent meanwhile: the row shows one of these
    result = rlarena(author.home, "status")
    after = elo_and_record()
    assert result.returncode == 0, result.stderr
    header, row = result.stdout.splitlines()
    assert header.split() == ["AGENT", "NAME", "GAME", "ELO", "W-L-D", "ACTIVE", "LATEST", "BUILD"]
    cells = row.split()
    assert cells[:3] == [author.agent_id, "ada-bot", "tic-tac-toe"]
    assert cells[3:5] in (before, after)
    assert cells[5:] == ["v1", "v2", "failed"]


@pytest.fixture(scope="module")
def played(local_platform: RunningPlatform, author: Author, submitted: Any) -> dict[str, Any]:
    """A completed match of the author's agent against a rival's (a manual match)."""
    _, rival_id = active_agent(local_platform, "rival", LEGAL_AGENT)
    started = local_platform.request(
        "POST", "/api/v1/matches", {"agent1Id": author.agent_id, "agent2Id": rival_id}, author.token
    )
    assert started.status == 202, started.body
    match_id = started.body["match"]["id"]

    def completed() -> dict[str, Any] | None:
        match: dict[str, Any] = local_platform.request("GET", f"/api/v1/matches/{match_id}").body["match"]
        return match if match["status"] in ("completed", "failed") else None

    match: dict[str, Any] = eventually(completed, 60, "the manual match to end")
    assert match["status"] == "completed", match
    return match


def test_matches_shows_the_opponent_and_the_result(
    local_platform: RunningPlatform, author: Author, played: dict[str, Any]
) -> None:
    rival_name = local_platform.request("GET", f"/api/v1/agents/{played['agent2Id']}").body["agent"]["name"]
    winner = played["winnerId"]
    expected = "draw" if winner is None else "win" if winner == author.agent_id else "loss"
    for arguments in (("matches",), ("matches", author.agent_id)):
        result = rlarena(author.home, *arguments)
        assert result.returncode == 0, result.stderr
        row = next(line for line in result.stdout.splitlines() if played["id"] in line)
        cells = row.split()
        assert cells[3:6] == ["ada-bot", rival_name, expected]
        assert row.endswith(played["endReason"])  # why the game ended, as the API says


def test_logs_shows_my_agents_output_in_a_match(author: Author, played: dict[str, Any]) -> None:
    result = rlarena(author.home, "logs", played["id"])
    assert result.returncode == 0, result.stderr
    assert f"== agent {author.agent_id}: OK ==" in result.stdout
    assert played["agent2Id"] not in result.stdout  # the rival's logs are the rival's


def test_replay_writes_the_html_player_and_the_json(author: Author, played: dict[str, Any]) -> None:
    html = rlarena(author.home, "replay", played["id"], "--html", "-o", "match.html")
    assert html.returncode == 0, html.stderr
    assert (author.home / "match.html").read_text().startswith("<!DOCTYPE html>")
    plain = rlarena(author.home, "replay", played["id"])
    assert plain.returncode == 0, plain.stderr
    replay = json.loads((author.home / f"replay-{played['id']}.json").read_text())
    assert len(replay["frames"]) == replay["metadata"]["total_steps"] + 1


def test_api_errors_are_the_apis_messages(local_platform: RunningPlatform, author: Author) -> None:
    missing = "7d6f0d8e-0000-4000-8000-000000000000"
    result = rlarena(author.home, "logs", missing)
    api = local_platform.request("GET", f"/api/v1/matches/{missing}/logs", token=author.token)
    assert result.returncode == 1
    assert result.stderr.strip() == f"rlarena logs: {api.body['error']}"


def test_a_refused_token_says_so_and_asks_for_a_new_login(local_platform: RunningPlatform, tmp_path: Path) -> None:
    account = {"username": "grace", "email": "grace@example.com", "password": PASSWORD}
    assert local_platform.request("POST", "/api/v1/auth/register", account).status == 201
    assert logged_in(local_platform, tmp_path, "grace").returncode == 0
    path = credentials_file(tmp_path)
    saved = json.loads(path.read_text())
    path.write_text(json.dumps({**saved, "token": saved["token"][:-4] + "AAAA"}))
    result = rlarena(tmp_path, "status")
    assert result.returncode == 1
    api = local_platform.request("GET", "/api/v1/agents/my", token=saved["token"][:-4] + "AAAA")
    assert api.status == 401
    assert f"rlarena status: {api.body['error']}" in result.stderr
    assert "run `rlarena login URL` again" in result.stderr
