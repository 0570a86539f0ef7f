"""The matchmaker function's read side: match lists and filters, one match, replays (JSON and HTML)."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from functions_framework import create_app
from sqlalchemy import update

from rlarena.adapters.db.models import Match
from rlarena.bootstrap import Platform
from rlarena.domain.statuses import MatchStatus
from rlarena.replays import player_js
from rlarena.replays.html import DATA_ELEMENT_ID
from tests.conftest import ROOT
from tests.support.api import ApiClient, User
from tests.support.seed import insert_match

MATCH_FIELDS = {
    "id", "environmentId", "agent1Id", "agent2Id", "agent1SubmissionId", "agent2SubmissionId", "status",
    "winnerId", "agent1Score", "agent2Score", "agent1EloChange", "agent2EloChange", "isPublic", "replayUrl",
    "replayHtmlUrl", "errorMessage", "startedAt", "completedAt", "createdAt",
    # Issue 14: names, versions, the rated flag, why it ended and each side's status.
    "agent1Name", "agent2Name", "agent1Version", "agent2Version", "isRated", "endReason", "agent1Status",
    "agent2Status",
}  # fmt: skip
# What a served replay's metadata takes from the match's record (the executor knew agents by id only).
RECORD_METADATA = {"agent_names", "agent_versions", "is_rated", "end_reason", "agent_statuses"}
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
DATA_BLOCK = re.compile(
    rf'<script type="application/json" id="{DATA_ELEMENT_ID}">(.*?)</script>', flags=re.DOTALL | re.IGNORECASE
)


@pytest.fixture
def matches(platform: Platform) -> Any:
    """The matchmaker function through functions-framework, from its own main.py."""
    main = ROOT / "functions" / "matchmaker" / "main.py"
    return create_app("matchmaker_http", str(main)).test_client()  # type: ignore[no-untyped-call]


def _match(platform: Platform, agent1: str, agent2: str, minute: int, **values: Any) -> str:
    """A match created `minute` minutes after START (so "newest first" is well defined)."""
    environment = values.pop("environment", "tic-tac-toe")
    match_id = insert_match(platform, agent1, agent2, environment=environment)
    _set(platform, match_id, created_at=START + timedelta(minutes=minute), **values)
    return match_id


def _set(platform: Platform, match_id: str, **values: Any) -> None:
    with platform.uow() as uow:
        uow.session.execute(update(Match).where(Match.id == uuid.UUID(match_id)).values(**values))
        uow.commit()


def _with_replay(platform: Platform, match_id: str, replay: dict[str, Any]) -> None:
    key = f"replays/{match_id}.json"
    platform.store.put(key, json.dumps(replay).encode(), content_type="application/json")
    _set(platform, match_id, replay_url=key, status=MatchStatus.COMPLETED.value)


def _replay(match_id: str, agents: list[str], frames: list[dict[str, Any]], environment: str) -> dict[str, Any]:
    return {
        "metadata": {
            "match_id": match_id,
            "environment": environment,
            "agents": agents,
            "start_time": START.isoformat(),
            "end_time": (START + timedelta(seconds=3)).isoformat(),
            "total_steps": len(frames),
            "winner": agents[0],
            "status": "SUCCESS",
            "seed": 7,
        },
        "frames": frames,
        "version": 1,
    }


def _frame(number: int, info: dict[str, Any], observations: list[Any] | None = None) -> dict[str, Any]:
    return {
        "frame_number": number,
        "observations": observations or [{}, {}],
        "actions": [number % 3, None],
        "rewards": [0.0, 0.0],
        "done": False,
        "info": info,
    }


def _pair(api: ApiClient, environment: str = "tic-tac-toe") -> tuple[User, str, str]:
    user = api.register()
    first = api.create_agent(user, f"a-{uuid.uuid4().hex[:8]}", environment)["id"]
    second = api.create_agent(user, f"b-{uuid.uuid4().hex[:8]}", environment)["id"]
    return user, first, second


def _as_stored(served: dict[str, Any]) -> dict[str, Any]:
    """A served replay without what the API adds to its metadata from the match's record."""
    metadata = {k: v for k, v in served["metadata"].items() if k not in RECORD_METADATA}
    return {**served, "metadata": metadata}


def _page_data(page: str) -> Any:
    (data,) = DATA_BLOCK.findall(page)
    return json.loads(data)


def test_a_match_has_the_contract_shape(api: ApiClient, matches: Any, platform: Platform) -> None:
    _, first, second = _pair(api)
    match_id = _match(platform, first, second, 0, winner_id=uuid.UUID(first), agent1_score=1.0, agent2_score=0.0)
    body = matches.get(f"/api/v1/matches/{match_id}").json["match"]
    assert set(body) == MATCH_FIELDS
    assert (body["id"], body["agent1Id"], body["agent2Id"], body["winnerId"]) == (match_id, first, second, first)
    assert (body["environmentId"], body["status"], body["isPublic"]) == ("tic-tac-toe", "running", True)
    assert (body["agent1Score"], body["agent2Score"]) == (1.0, 0.0)
    assert body["createdAt"] == "2026-01-01T12:00:00Z"
    assert body["replayUrl"] is None and body["replayHtmlUrl"] is None


def test_the_list_filters_and_paginates_newest_first(api: ApiClient, matches: Any, platform: Platform) -> None:
    _, a, b = _pair(api)
    _, c, d = _pair(api, "pong")
    ttt = [
        _match(platform, a, b, 1, status="completed"),
        _match(platform, b, a, 2, status="running"),
        _match(platform, a, b, 3, status="pending"),
    ]
    pong = [
        _match(platform, c, d, 4, environment="pong", status="completed"),
        _match(platform, d, c, 5, environment="pong"),
    ]
    newest_first = list(reversed(ttt + pong))

    def ids(query: str) -> tuple[list[str], int]:
        response = matches.get(f"/api/v1/matches{query}")
        assert response.status_code == 200, response.json
        return [m["id"] for m in response.json["matches"]], response.json["total"]

    assert ids("") == (newest_first, 5)
    assert ids("?environmentId=pong") == (list(reversed(pong)), 2)
    assert ids(f"?agentId={b}") == (list(reversed(ttt)), 3)
    assert ids("?status=completed") == ([pong[0], ttt[0]], 2)
    assert ids(f"?status=completed&agentId={a}&environmentId=tic-tac-toe") == ([ttt[0]], 1)
    assert ids("?environmentId=chess") == ([], 0)
    pages = [matches.get(f"/api/v1/matches?page={n}&pageSize=2").json for n in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert (pages[0]["page"], pages[0]["pageSize"]) == (1, 2)
    assert [m["id"] for p in pages for m in p["matches"]] == newest_first
    assert pages[3]["matches"] == []


def test_private_matches_are_not_shown(api: ApiClient, matches: Any, platform: Platform) -> None:
    _, a, b = _pair(api)
    public = _match(platform, a, b, 0)
    private = _match(platform, a, b, 1, is_public=False)
    assert [m["id"] for m in matches.get("/api/v1/matches").json["matches"]] == [public]
    assert matches.get(f"/api/v1/matches/{private}").status_code == 404
    assert matches.get(f"/api/v1/matches/agent/{a}").json["total"] == 1


def test_bad_input_is_400_and_unknown_ids_are_404(api: ApiClient, matches: Any, platform: Platform) -> None:
    bad_status = matches.get("/api/v1/matches?status=finished")
    assert bad_status.status_code == 400
    assert bad_status.json["details"]["allowed"] == ["pending", "running", "completed", "failed", "cancelled"]
    assert "completed" in bad_status.json["error"]
    for path in (
        "/api/v1/matches?agentId=nope",
        "/api/v1/matches?page=0",
        "/api/v1/matches?pageSize=abc",
        "/api/v1/matches/not-a-uuid",
        "/api/v1/matches/agent/not-a-uuid",
        "/api/v1/matches/replays",
        "/api/v1/matches/replays?agentId=12",
        "/api/v1/matches/not-a-uuid/replay",
        "/api/v1/matches/not-a-uuid/replay-url",
    ):
        assert matches.get(path).status_code == 400, path
    unknown = uuid.uuid4()
    for path in (
        f"/api/v1/matches/{unknown}",
        f"/api/v1/matches/agent/{unknown}",
        f"/api/v1/matches/replays?agentId={unknown}",
        f"/api/v1/matches/{unknown}/replay",
        f"/api/v1/matches/{unknown}/replay-url",
    ):
        response = matches.get(path)
        assert response.status_code == 404, path
        assert str(unknown) in response.json["error"]
    assert matches.put("/api/v1/matches").status_code == 405
    assert matches.get("/health").json["service"] == "matchmaker"


def test_an_agents_matches_and_its_replays(api: ApiClient, matches: Any, platform: Platform) -> None:
    _, a, b = _pair(api)
    _, c, _d = _pair(api)
    with_replay = _match(platform, a, b, 1)
    _with_replay(platform, with_replay, _replay(with_replay, [a, b], [_frame(0, {"board": [[0] * 3] * 3})], "ttt"))
    completed_without = _match(platform, b, a, 2, status="completed")
    running = _match(platform, a, b, 3)
    _set(platform, running, replay_url="replays/x.json")
    others = _match(platform, c, b, 4)
    mine = matches.get(f"/api/v1/matches/agent/{a}?pageSize=2").json
    assert mine["agentId"] == a
    assert mine["total"] == 3
    assert [m["id"] for m in mine["matches"]] == [running, completed_without]
    assert [m["id"] for m in matches.get(f"/api/v1/matches/agent/{b}").json["matches"]] == [
        others,
        running,
        completed_without,
        with_replay,
    ]
    listed = matches.get(f"/api/v1/matches/replays?agentId={a}").json
    assert (listed["agentId"], listed["total"]) == (a, 1)
    (entry,) = listed["replays"]
    assert entry["id"] == with_replay
    assert entry["replayUrl"] == f"/api/v1/matches/{with_replay}/replay?format=json"
    assert entry["replayHtmlUrl"] == f"/api/v1/matches/{with_replay}/replay?format=html"
    assert matches.get(f"/api/v1/matches/replays?agentId={c}").json == {
        "replays": [],
        "total": 0,
        "page": 1,
        "pageSize": 20,
        "agentId": c,
    }


def test_a_deleted_agents_matches_stay_readable(api: ApiClient, matches: Any, platform: Platform) -> None:
    owner, a, b = _pair(api)
    match_id = _match(platform, a, b, 0, status="completed", winner_id=uuid.UUID(a))
    _with_replay(platform, match_id, _replay(match_id, [a, b], [_frame(0, {"board": [[1, 0, 0]] * 3})], "ttt"))
    assert api.delete(f"/api/v1/agents/{a}", headers=owner.headers).status_code == 200
    assert api.get(f"/api/v1/agents/{a}").status_code == 404
    assert matches.get(f"/api/v1/matches/{match_id}").json["match"]["winnerId"] == a
    assert [m["id"] for m in matches.get(f"/api/v1/matches/agent/{a}").json["matches"]] == [match_id]
    assert matches.get(f"/api/v1/matches/replays?agentId={a}").json["total"] == 1
    assert matches.get(f"/api/v1/matches/{match_id}/replay").status_code == 200


def test_the_json_replay_round_trips(api: ApiClient, matches: Any, platform: Platform) -> None:
    _, a, b = _pair(api, "pong")
    match_id = _match(platform, a, b, 0, environment="pong")
    frames = [
        _frame(n, {"ball_pos": [0.5 + n / 100, 0.5], "paddle_positions": [0.4, 0.6], "score": [0, n]}) for n in range(5)
    ]
    replay = _replay(match_id, [a, b], frames, "pong-1")

    missing = matches.get(f"/api/v1/matches/{match_id}/replay")
    assert missing.status_code == 404
    assert "has no replay" in missing.json["error"]
    assert matches.get(f"/api/v1/matches/{match_id}/replay-url").status_code == 404

    _with_replay(platform, match_id, replay)
    for path in (f"/api/v1/matches/{match_id}/replay", f"/api/v1/matches/{match_id}/replay?format=json"):
        response = matches.get(path)
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert _as_stored(response.json) == replay
    assert matches.get(f"/api/v1/matches/{match_id}/replay-url?format=html").json == {
        "replayUrl": f"/api/v1/matches/{match_id}/replay?format=html",
        "matchId": match_id,
        "format": "html",
    }
    assert matches.get(f"/api/v1/matches/{match_id}/replay-url").json["format"] == "json"
    assert matches.get(f"/api/v1/matches/{match_id}/replay?format=xml").status_code == 400
    assert matches.get(f"/api/v1/matches/{match_id}/replay-url?format=xml").status_code == 400

    platform.store.delete(f"replays/{match_id}.json")
    gone = matches.get(f"/api/v1/matches/{match_id}/replay")
    assert gone.status_code == 404
    assert "missing from storage" in gone.json["error"]


@pytest.mark.parametrize(
    ("environment", "info"),
    [
        ("pong", {"ball_pos": [0.3, 0.7], "paddle_positions": [0.5, 0.45], "score": [2, 3]}),
        ("tic-tac-toe", {"board": [[1, 0, 2], [0, 1, 0], [2, 0, 0]], "last_action": 4, "to_act": [1]}),
        ("connect-four", {"board": [[0] * 7] * 5 + [[1, 2, 0, 0, 0, 0, 0]], "last_action": 1, "to_act": [0]}),
        ("chess", {"fen": "rnbqkbnr/pppppppp/8/8/4P3/8/PPPP1PPP/RNBQKBNR b KQkq - 0 1", "last_move": "e2e4"}),
    ],
)
def test_the_html_replay_is_a_self_contained_download(
    api: ApiClient, matches: Any, platform: Platform, environment: str, info: dict[str, Any]
) -> None:
    _, a, b = _pair(api, environment)
    match_id = _match(platform, a, b, 0, environment=environment)
    frames = [_frame(n, {**info, "logs": [f"step {n}"]}) for n in range(4)]
    replay = _replay(match_id, [a, b], frames, f"{environment}-1")
    _with_replay(platform, match_id, replay)

    response = matches.get(f"/api/v1/matches/{match_id}/replay?format=html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"replay_{match_id}.html" in disposition
    page = response.get_data(as_text=True)
    assert page.startswith("<!DOCTYPE html>")
    assert _as_stored(_page_data(page)) == replay
    assert [f["frame_number"] for f in _page_data(page)["frames"]] == [0, 1, 2, 3]
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"<(link|img|iframe)\b|\bsrc\s*=|\bhref\s*=|@import|url\(", page, flags=re.IGNORECASE)
    # The one replay player, inlined and mounted on the page (tests/e2e/test_replay_player.py plays it).
    assert player_js() in page
    assert 'RLArenaReplay.mount(document.getElementById("replay")' in page


def test_a_hostile_string_cannot_break_out_of_the_embedded_json(
    api: ApiClient, matches: Any, platform: Platform
) -> None:
    _, a, b = _pair(api)
    match_id = _match(platform, a, b, 0)
    hostile = "</script><script>alert('x')</script><!-- </SCRIPT > & \u2028"
    replay = _replay(match_id, [hostile, b], [_frame(0, {"board": [[0] * 3] * 3}, [{"note": hostile}, {}])], hostile)
    _with_replay(platform, match_id, replay)
    page = matches.get(f"/api/v1/matches/{match_id}/replay?format=html").get_data(as_text=True)
    # Exactly the page's own two scripts: the data block and the player.
    assert len(re.findall(r"<script", page, flags=re.IGNORECASE)) == 2
    assert len(re.findall(r"</script", page, flags=re.IGNORECASE)) == 2
    assert "<!--" not in page
    assert _as_stored(_page_data(page)) == replay
    title = re.search(r"<title>(.*?)</title>", page, flags=re.DOTALL)
    assert title and "<" not in title.group(1)


def test_replay_downloads_are_rate_limited_per_address(api: ApiClient, matches: Any, platform: Platform) -> None:
    _, a, b = _pair(api)
    platform.clock = lambda: START + timedelta(seconds=10)
    match_id = _match(platform, a, b, 0)
    _with_replay(platform, match_id, _replay(match_id, [a, b], [_frame(0, {"board": [[0] * 3] * 3})], "ttt"))
    limit = platform.settings.replay_rate_limit_per_minute
    assert limit == 20
    for n in range(limit):
        fmt = "html" if n % 2 else "json"
        assert matches.get(f"/api/v1/matches/{match_id}/replay?format={fmt}").status_code == 200, n
    refused = matches.get(f"/api/v1/matches/{match_id}/replay?format=html")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "50"
    assert refused.json["code"] == "rate_limited"
    # Reading the match itself and its replay URL is not a download.
    assert matches.get(f"/api/v1/matches/{match_id}").status_code == 200
    assert matches.get(f"/api/v1/matches/{match_id}/replay-url").status_code == 200
    platform.clock = lambda: START + timedelta(minutes=1, seconds=10)
    assert matches.get(f"/api/v1/matches/{match_id}/replay").status_code == 200
