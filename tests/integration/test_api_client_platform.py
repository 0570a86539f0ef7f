"""The generated client against the real local platform (`rlarena dev` over real HTTP): every
operation of the OpenAPI document is called at least once, and every answer is checked against the
type the client declares for it, so the document, the client and the answers cannot drift apart."""

from __future__ import annotations

import json
import threading
import typing
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from rlarena.api_client.generated import ArenaApi, Submission
from rlarena.api_client.operations import methods
from rlarena.api_client.schema_types import SchemaTypes
from rlarena.api_client.transport import Upload
from rlarena.api_docs import merged_document_bytes
from rlarena.errors import ApiError
from tests.support.running_platform import RunningPlatform, eventually, start_platform, stop_platform
from tests.support.typed_values import mismatches

PASSWORD = "analytical engine"
LEGAL_AGENT = b"def agent(observation, configuration):\n    return observation['legal_actions'][0]\n"
BROKEN_AGENT = b"def agent(observation, configuration):\n    return 0\n"  # plays an illegal move: fails validation


class CheckedApi(ArenaApi):
    """The generated client, noting which methods ran and checking each answer against its type."""

    def __init__(self, base_url: str, called: set[str], token: str | None = None) -> None:
        super().__init__(base_url, token)
        self.called = called

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if name.startswith("_") or not callable(attribute) or not hasattr(ArenaApi, name):
            return attribute
        returns = typing.get_type_hints(getattr(ArenaApi, name))["return"]
        called: set[str] = super().__getattribute__("called")

        def checked(*arguments: Any, **keywords: Any) -> Any:
            called.add(name)
            answer = attribute(*arguments, **keywords)
            problems = mismatches(answer, returns, name)
            assert not problems, problems
            return answer

        return checked


@pytest.fixture(params=["sqlite", "postgres"])
def arena(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningPlatform]:
    """The local platform on SQLite (its default) or on the session's PostgreSQL."""
    database = {}
    if request.param == "postgres":
        database["DATABASE_URL"] = request.getfixturevalue("postgres_databases").create(tmp_path)
    running = start_platform(tmp_path, CODE_URL_ALLOW_PRIVATE="true", **database)
    yield running
    stop_platform(running)


@pytest.fixture(scope="module")
def code_server() -> Iterator[str]:
    """Where a codeUrl submission fetches its agent from: a plain HTTP server on this machine."""

    class Files(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/x-python")
            self.send_header("Content-Length", str(len(LEGAL_AGENT)))
            self.end_headers()
            self.wfile.write(LEGAL_AGENT)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/agent.py"
    httpd.shutdown()
    httpd.server_close()


def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(merged_document_bytes())
    return loaded


def settled(client: ArenaApi, submission_id: str) -> Submission:
    def ended() -> Submission | None:
        submission = client.get_submission(submission_id)["submission"]
        return submission if submission["status"] in ("active", "failed") else None

    found: Submission = eventually(ended, 60, f"the build of {submission_id}")
    return found


def refused(call: Callable[[], object]) -> ApiError:
    with pytest.raises(ApiError) as raised:
        call()
    return raised.value


def test_the_client_calls_every_operation_of_the_document_and_every_answer_has_its_type(
    arena: RunningPlatform, code_server: str
) -> None:
    called: set[str] = set()
    anyone = CheckedApi(arena.base_url, called)

    # The platform describes itself.
    assert anyone.health()["status"] == "ok"
    assert set(anyone.openapi_document()["paths"]) == set(document()["paths"])

    # Accounts.
    ada = anyone.register({"username": "ada", "email": "ada@example.com", "password": PASSWORD})
    assert ada["user"]["username"] == "ada"
    session = anyone.login({"email": "ada", "password": PASSWORD})
    alice = CheckedApi(arena.base_url, called, session["token"])
    bob = CheckedApi(
        arena.base_url, called, anyone.register({"username": "bob", "email": "b@e.io", "password": PASSWORD})["token"]
    )
    assert alice.me()["user"]["email"] == "ada@example.com"
    assert alice.update_me({"fullName": "Ada Lovelace"})["user"]["fullName"] == "Ada Lovelace"
    assert alice.update_me_patch({"avatarUrl": "https://example.com/ada.png"})["user"]["fullName"] == "Ada Lovelace"
    assert refused(lambda: anyone.login({"email": "ada", "password": "wrong password"})).status == 401

    # Agents.
    games = anyone.list_environments()["environments"]
    assert "tic-tac-toe" in {game["id"] for game in games}
    agent = alice.create_agent({"name": "ada-bot", "environmentId": "tic-tac-toe"})["agent"]
    spare = alice.create_agent({"name": "spare", "environmentId": "tic-tac-toe"})["agent"]
    rival = bob.create_agent({"name": "bob-bot", "environmentId": "tic-tac-toe"})["agent"]
    assert alice.update_agent(agent["id"], {"description": "first moves"})["agent"]["description"] == "first moves"
    assert alice.update_agent_patch(spare["id"], {"name": "spare-bot"})["agent"]["name"] == "spare-bot"
    assert anyone.get_agent(agent["id"])["agent"]["name"] == "ada-bot"
    assert {a["name"] for a in alice.my_agents(environment_id="tic-tac-toe")["agents"]} == {"ada-bot", "spare-bot"}
    assert anyone.list_agents(page=1, page_size=10)["total"] == 3
    assert refused(lambda: bob.update_agent(agent["id"], {"name": "stolen"})).status == 403

    # Code: a multipart upload, a codeUrl, a presigned upload; builds, logs, downloads, a rebuild.
    uploaded = alice.create_submission_upload(agent_id=agent["id"], file=Upload("agent.py", LEGAL_AGENT))["submission"]
    assert uploaded["version"] == 1
    assert settled(alice, uploaded["id"])["status"] == "active"
    fetched = bob.create_submission({"agentId": rival["id"], "codeUrl": code_server})["submission"]
    assert settled(bob, fetched["id"])["status"] == "active"
    ticket = alice.upload_url({"agentId": spare["id"], "filename": "agent.py"})
    assert ticket["method"] == "PUT" and ticket["uploadUrl"].endswith(
        f"/submissions/{ticket['submission']['id']}/upload"
    )
    received = alice.direct_upload(ticket["submission"]["id"], BROKEN_AGENT)
    assert received["submissionId"] == ticket["submission"]["id"]
    broken = settled(alice, ticket["submission"]["id"])
    assert broken["status"] == "failed"
    assert alice.build_status(broken["id"])["history"][-1]["status"] == "failed"
    assert alice.build_logs(broken["id"])["buildLog"]
    assert alice.rebuild(broken["id"])["submission"]["status"] == "pending"
    assert alice.download_code(uploaded["id"]) == LEGAL_AGENT
    assert [s["version"] for s in alice.list_submissions(agent["id"])["submissions"]] == [1]
    assert alice.activate(uploaded["id"])["submission"]["isActive"] is True

    # Matches: a manual one, played to the end by the platform's executor.
    match = alice.create_match({"agent1Id": agent["id"], "agent2Id": rival["id"]})["match"]
    eventually(lambda: anyone.get_match(match["id"])["match"]["status"] == "completed", 60, "the match's end")
    assert match["id"] in {m["id"] for m in anyone.list_matches(agent_id=agent["id"])["matches"]}
    assert match["id"] in {m["id"] for m in anyone.agent_matches(agent["id"], page_size=5)["matches"]}
    assert match["id"] in {m["id"] for m in anyone.list_replays(agent_id=agent["id"])["replays"]}
    logs = alice.match_logs(match["id"])["logs"]
    assert [entry["agentId"] for entry in logs] == [agent["id"]]  # owners see their own agent only
    replay = json.loads(anyone.replay(match["id"], format="json"))
    assert replay["metadata"]
    assert anyone.replay(match["id"], format="html").lstrip().lower().startswith(b"<!doctype html")
    assert anyone.replay_url(match["id"], format="html")["format"] == "html"

    # Ratings and leaderboards.
    def rated_matches() -> set[str]:
        return {change["matchId"] for change in anyone.rating_history(agent["id"], page_size=100)["history"]}

    if anyone.get_match(match["id"])["match"]["isRated"]:  # rated by the ratings function, a moment later
        eventually(lambda: match["id"] in rated_matches(), 30, "the match's rating")
    else:
        assert match["id"] not in rated_matches()
    assert rival["id"] in {record["opponentId"] for record in anyone.agent_stats(agent["id"])["stats"]}
    assert {a["id"] for a in anyone.leaderboard(limit=10, sort="conservative")["leaderboard"]} >= {agent["id"]}
    ranked = anyone.environment_leaderboard("tic-tac-toe", limit=10)["leaderboard"]
    assert {a["id"] for a in ranked} == {agent["id"], rival["id"]}

    # Live updates: a ticket for the WebSocket, and a plain GET that is told to upgrade.
    assert alice.create_ws_ticket()["ticket"]
    assert refused(anyone.upgrade_required).status == 426

    # And goodbye.
    assert alice.delete_agent(spare["id"])["agentId"] == spare["id"]
    assert refused(lambda: anyone.get_agent(spare["id"])).status == 404

    operations = list(methods(document(), SchemaTypes(document())))
    exercised = {(m.http_method.upper(), m.path) for m in operations if m.name in called}
    missing = sorted({(m.http_method.upper(), m.path) for m in operations} - exercised)
    assert not missing, f"operations of the OpenAPI document this test does not call: {missing}"
