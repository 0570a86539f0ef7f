"""Hostile and careless input on every route: always a clear 4xx JSON error, never a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from rlarena.bootstrap import Platform
from tests.support.api import ApiClient, User

# (method, path, takes a JSON body, needs a token). {agent} is an agent of the caller's.
ROUTES = [
    ("POST", "/api/v1/auth/register", True, False),
    ("POST", "/api/v1/auth/login", True, False),
    ("GET", "/api/v1/users/me", False, True),
    ("PUT", "/api/v1/users/me", True, True),
    ("GET", "/api/v1/agents", False, False),
    ("GET", "/api/v1/agents/my", False, True),
    ("POST", "/api/v1/agents", True, True),
    ("GET", "/api/v1/agents/{agent}", False, False),
    ("PUT", "/api/v1/agents/{agent}", True, True),
    ("DELETE", "/api/v1/agents/{agent}", False, True),
    ("GET", "/api/v1/agents/{agent}/stats", False, False),
    ("GET", "/api/v1/leaderboard", False, False),
    ("GET", "/api/v1/leaderboard/environment/pong", False, False),
    ("GET", "/api/v1/environments", False, False),
    ("GET", "/health", False, False),
    ("POST", "/api/v1/submissions", True, True),
    ("POST", "/api/v1/submissions/upload-url", True, True),
    ("GET", "/api/v1/submissions/agent/{agent}", False, True),
    ("GET", "/api/v1/matches", False, False),
    ("GET", "/api/v1/matches/agent/{agent}", False, False),
]
BODY_ROUTES = [r for r in ROUTES if r[2]]
TOKEN_ROUTES = [r for r in ROUTES if r[3]]
ID_ROUTES = [r for r in ROUTES if "{agent}" in r[1]]

NASTY_STRINGS = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    'Robert"); DELETE FROM agents; --',
    "名前🤖\u202e\u0000",
    "\ud800" if False else "\u00e9\u0301" * 40,
    "a" * 100_000,
    "%00%27",
    "${jndi:ldap://x}",
    "<script>alert(1)</script>",
]


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("owner")


@pytest.fixture
def agent_id(api: ApiClient, owner: User) -> str:
    return str(api.create_agent(owner, "target")["id"])


def _path(template: str, agent_id: str) -> str:
    return template.replace("{agent}", agent_id)


def _assert_clean_4xx(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    body = response.json
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["code"], str)
    text = response.get_data(as_text=True).lower()
    for leak in ("traceback", "sqlalchemy", "select ", "insert into", "psycopg", "pg8000", "sqlite3"):
        assert leak not in text


@pytest.mark.parametrize(("method", "path", "body", "auth"), BODY_ROUTES)
@pytest.mark.parametrize(
    "payload",
    [b"{not json", b"[1, 2, 3]", b'"a string"', b"null", b"", b"\xff\xfe\x00garbage", b'{"a":' * 5000],
    ids=["malformed", "array", "string", "null", "empty", "binary", "deeply nested"],
)
def test_bodies_that_are_not_a_json_object_are_400(
    api: ApiClient, owner: User, agent_id: str, method: str, path: str, body: bool, auth: bool, payload: bytes
) -> None:
    response = api.request(
        method,
        _path(path, agent_id),
        data=payload,
        headers={**owner.headers, "Content-Type": "application/json"},
    )
    _assert_clean_4xx(response)
    assert response.status_code == 400


@pytest.mark.parametrize(("method", "path", "body", "auth"), BODY_ROUTES)
def test_huge_bodies_are_413(
    api: ApiClient, owner: User, agent_id: str, method: str, path: str, body: bool, auth: bool
) -> None:
    payload = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = api.request(
        method, _path(path, agent_id), data=payload, headers={**owner.headers, "Content-Type": "application/json"}
    )
    _assert_clean_4xx(response)
    assert response.status_code == 413


@pytest.mark.parametrize(("method", "path", "body", "auth"), BODY_ROUTES)
def test_a_non_json_content_type_is_415(
    api: ApiClient, owner: User, agent_id: str, method: str, path: str, body: bool, auth: bool
) -> None:
    response = api.request(
        method, _path(path, agent_id), data="name=x", headers={**owner.headers, "Content-Type": "text/plain"}
    )
    _assert_clean_4xx(response)
    assert response.status_code == 415


@pytest.mark.parametrize(("method", "path", "body", "auth"), BODY_ROUTES)
@pytest.mark.parametrize(
    "wrong",
    [
        {"username": 1, "email": [], "password": {}, "fullName": 5, "name": 7, "environmentId": True,
         "description": 3, "avatarUrl": 9},
        {"username": None, "email": None, "password": None, "name": None, "environmentId": None, "avatarUrl": False},
        {"username": 1.5e308, "password": -1, "name": ["a"], "environmentId": {"$ne": 1}, "fullName": {"a": 1}},
    ],
    ids=["numbers and lists", "nulls", "odd values"],
)  # fmt: skip
def test_wrong_types_are_400_naming_the_fields(
    api: ApiClient,
    owner: User,
    agent_id: str,
    method: str,
    path: str,
    body: bool,
    auth: bool,
    wrong: dict[str, Any],
) -> None:
    response = api.request(method, _path(path, agent_id), json=wrong, headers=owner.headers)
    _assert_clean_4xx(response)
    assert response.status_code == 400
    assert response.json["details"], response.json


@pytest.mark.parametrize(("method", "path", "body", "auth"), BODY_ROUTES)
@pytest.mark.parametrize("nasty", NASTY_STRINGS, ids=range(len(NASTY_STRINGS)))
def test_unicode_and_sql_metacharacters_never_break_a_route(
    api: ApiClient, owner: User, agent_id: str, method: str, path: str, body: bool, auth: bool, nasty: str
) -> None:
    payload = {
        "username": nasty,
        "email": nasty,
        "password": nasty,
        "fullName": nasty,
        "name": nasty,
        "description": nasty,
        "environmentId": nasty,
        "avatarUrl": nasty,
    }
    response = api.request(method, _path(path, agent_id), json=payload, headers=owner.headers)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"


def test_sql_metacharacters_are_stored_verbatim(api: ApiClient, owner: User, agent_id: str) -> None:
    name = "x'); DROP TABLE agents; --"
    response = api.put(
        f"/api/v1/agents/{agent_id}", json={"name": name, "description": "名前🤖"}, headers=owner.headers
    )
    assert response.status_code == 200
    assert api.get(f"/api/v1/agents/{agent_id}").json["agent"]["name"] == name
    assert api.get("/api/v1/agents").json["total"] == 1


@pytest.mark.parametrize(("method", "path", "body", "auth"), TOKEN_ROUTES)
@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Bearer " + "x" * 10_000, "bearer\x00x"],
    ids=["empty", "no token", "blank token", "basic", "garbage jwt", "huge", "nul"],
)
def test_bad_tokens_are_401(
    api: ApiClient, agent_id: str, method: str, path: str, body: bool, auth: bool, authorization: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = api.request(method, _path(path, agent_id), json={"name": "x"}, headers=headers)
    _assert_clean_4xx(response)
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "body", "auth"), ID_ROUTES)
@pytest.mark.parametrize("bad_id", ["123", "not-a-uuid", "' OR 1=1 --", "%00", "0" * 300])
def test_ids_that_are_not_uuids_are_400(
    api: ApiClient, owner: User, method: str, path: str, body: bool, auth: bool, bad_id: str
) -> None:
    response = api.request(method, path.replace("{agent}", bad_id), json={"name": "x"}, headers=owner.headers)
    _assert_clean_4xx(response)
    assert response.status_code in (400, 404)  # a path with "/" or NUL may not even route
    if response.status_code == 400:
        assert "UUID" in response.json["error"]


@pytest.mark.parametrize(("method", "path", "body", "auth"), ID_ROUTES)
def test_unknown_ids_are_404(api: ApiClient, owner: User, method: str, path: str, body: bool, auth: bool) -> None:
    response = api.request(
        method, path.replace("{agent}", str(uuid.uuid4())), json={"name": "x"}, headers=owner.headers
    )
    _assert_clean_4xx(response)
    assert response.status_code == 404


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/v1/agents/{agent}"), ("DELETE", "/api/v1/agents/{agent}")])
def test_other_users_agents_are_403_and_unchanged(
    api: ApiClient, agent_id: str, platform: Platform, method: str, path: str
) -> None:
    intruder = api.register("intruder")
    response = api.request(method, _path(path, agent_id), json={"name": "stolen"}, headers=intruder.headers)
    _assert_clean_4xx(response)
    assert response.status_code == 403
    assert api.get(f"/api/v1/agents/{agent_id}").json["agent"]["name"] == "target"


@pytest.mark.parametrize("query", ["page=-1", "page=abc", "pageSize=0", "page=1e9", "pageSize=%27", "page=99999999999"])
def test_bad_pagination_is_400(api: ApiClient, query: str) -> None:
    response = api.get(f"/api/v1/agents?{query}")
    _assert_clean_4xx(response)


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "page=0"])
def test_bad_leaderboard_limits_are_400(api: ApiClient, query: str) -> None:
    _assert_clean_4xx(api.get(f"/api/v1/leaderboard?{query}"))
    _assert_clean_4xx(api.get(f"/api/v1/leaderboard/environment/pong?{query}"))


def test_unknown_routes_and_methods_are_json_404_and_405(api: ApiClient) -> None:
    missing = api.get("/api/v1/agents/x/y/z")
    _assert_clean_4xx(missing)
    assert missing.status_code == 404
    wrong_method = api.request("PATCH", "/api/v1/leaderboard")
    _assert_clean_4xx(wrong_method)
    assert wrong_method.status_code == 405


def test_a_rejected_registration_leaves_no_row(api: ApiClient, platform: Platform) -> None:
    from sqlalchemy import func, select

    from rlarena.adapters.db.models import User as UserRow

    api.post("/api/v1/auth/register", json={"username": "ok_name", "email": "bad", "password": "long enough"})
    api.post("/api/v1/auth/register", json={"username": "ok_name", "email": "a@b.io", "password": "short"})
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(UserRow)) == 0
