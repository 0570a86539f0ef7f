"""POST /api/v1/matches through the matchmaker function, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from rlarena.adapters.db.models import Match
from rlarena.bootstrap import Platform
from tests.support.api import ApiClient, User
from tests.support.postgres import free_port
from tests.support.seed import activate


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # No executor listens here: a match is booked, then fails its dispatch with the reason.
    return {
        "EXECUTOR_URL": f"127.0.0.1:{free_port()}",
        "EXECUTOR_DISPATCH_TIMEOUT": "2s",
        "MANUAL_MATCH_RATE_LIMIT_PER_MINUTE": 3,
    }


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("owner")


@pytest.fixture
def rival(api: ApiClient) -> User:
    return api.register("rival")


def active_agent(api: ApiClient, platform: Platform, user: User, name: str, environment: str = "tic-tac-toe") -> str:
    agent_id = str(api.create_agent(user, name, environment)["id"])
    activate(platform, agent_id)
    return agent_id


def count_matches(platform: Platform) -> int:
    with platform.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Match)) or 0)


def test_a_manual_match_is_accepted_at_once_unrated_and_fails_clearly_without_an_executor(
    api: ApiClient, platform: Platform, owner: User, rival: User
) -> None:
    mine = active_agent(api, platform, owner, "mine")
    theirs = active_agent(api, platform, rival, "theirs")
    response = api.post("/api/v1/matches", json={"agent1Id": mine, "agent2Id": theirs}, headers=owner.headers)
    assert response.status_code == 202, response.json
    match = response.json["match"]
    assert (match["agent1Id"], match["agent2Id"]) == (mine, theirs)
    assert match["agent1SubmissionId"] and match["agent2SubmissionId"]
    assert match["status"] == "failed"
    assert "the executor did not take the match" in match["errorMessage"]
    stored = api.get(f"/api/v1/matches/{match['id']}").json["match"]
    assert stored["status"] == "failed"
    with platform.uow() as uow:
        row = uow.session.get(Match, uuid.UUID(match["id"]))
        assert row is not None and row.is_rated is False


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({}, 400, "agent1Id"),
        ({"agent1Id": "not-a-uuid", "agent2Id": "x"}, 400, "agent1Id"),
        ({"agent1Id": 5, "agent2Id": 6}, 400, "agent1Id"),
        (
            {"agent1Id": "00000000-0000-0000-0000-000000000001", "agent2Id": "00000000-0000-0000-0000-000000000002"},
            404,
            "no agent",
        ),
    ],
)
def test_bad_requests_say_what_to_fix_and_book_nothing(
    api: ApiClient, platform: Platform, owner: User, body: dict[str, object], status: int, fragment: str
) -> None:
    response = api.post("/api/v1/matches", json=body, headers=owner.headers)
    assert response.status_code == status, response.json
    assert fragment in str(response.json)
    assert count_matches(platform) == 0


def test_the_rules_of_a_manual_match(api: ApiClient, platform: Platform, owner: User, rival: User) -> None:
    mine = active_agent(api, platform, owner, "mine")
    theirs = active_agent(api, platform, rival, "theirs")
    other_game = active_agent(api, platform, owner, "c4", "connect-four")
    idle = str(api.create_agent(owner, "idle")["id"])
    stranger = active_agent(api, platform, rival, "stranger")

    def post(a: str, b: str, user: User = owner) -> tuple[int, str]:
        response = api.post("/api/v1/matches", json={"agent1Id": a, "agent2Id": b}, headers=user.headers)
        return response.status_code, str(response.json)

    assert api.post("/api/v1/matches", json={"agent1Id": mine, "agent2Id": theirs}).status_code == 401
    status, body = post(mine, mine)
    assert (status, "the same agent" in body) == (400, True)
    status, body = post(theirs, stranger)
    assert (status, "your own agents" in body) == (403, True)
    status, body = post(mine, other_game)
    assert (status, "different games" in body) == (400, True)
    assert count_matches(platform) == 0
    # The three refusals above used the rate limit (3/min in this module): the next is a 429.
    status, body = post(idle, theirs)
    assert status == 429
    assert count_matches(platform) == 0


def test_an_agent_without_an_active_version_cannot_play(
    api: ApiClient, platform: Platform, owner: User, rival: User
) -> None:
    idle = str(api.create_agent(owner, "idle")["id"])
    theirs = active_agent(api, platform, rival, "theirs")
    response = api.post("/api/v1/matches", json={"agent1Id": idle, "agent2Id": theirs}, headers=owner.headers)
    assert response.status_code == 409
    assert response.json["code"] == "agent_not_active"
    assert "no active version" in response.json["error"]
    assert count_matches(platform) == 0
