"""Hostile and careless input on every route: always a clear 4xx JSON error, never a 500.

The routes come from the routers themselves: `HttpApi.routes()` of every function in
`rlarena.platform.targets.HTTP_SERVICES` (the relay's included), each called through its main.py as
its container loads it. Who may call a route and what it takes come from what the route declares
(tests/support/routes.py), so a new route is in every test that applies to it as soon as it is
registered; one that must not be called is listed in EXEMPT there, with the reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from functions_framework import create_app

from rlarena.bootstrap import Platform
from tests.conftest import ROOT
from tests.support.api import ApiClient, User
from tests.support.routes import (
    EXEMPT,
    NOT_JSON_APIS,
    PARAMS,
    ROUTES,
    Access,
    Route,
    Takes,
    functions,
    operations,
    served_routes,
)
from tests.support.seed import activate, insert_match

WEBHOOK_TOKEN = "storage-webhook-token-for-the-bad-input-suite"


@cache
def _client(function: str) -> Any:
    main = ROOT / "functions" / function / "main.py"
    return create_app(functions()[function].target, str(main)).test_client()  # type: ignore[no-untyped-call]


def _params(rule: str) -> list[str]:
    return [part[1:-1] for part in rule.split("/") if part.startswith("<") and part.endswith(">")]


def _routes(*, access: set[Access] | None = None, takes: set[Takes] | None = None, ids: bool = False) -> list[Any]:
    chosen = []
    for key in served_routes():
        route = ROUTES.get(key)
        if route is None:
            continue  # test_every_route_is_declared_and_classified fails for it
        if access is not None and route.access not in access:
            continue
        if takes is not None and route.takes not in takes:
            continue
        if ids and not any(PARAMS.get(p) in ("agent", "submission", "match") for p in _params(key[2])):
            continue
        chosen.append(pytest.param(*key, id=f"{key[1]} {key[2]} ({key[0]})"))
    return chosen


def test_every_route_is_declared_and_classified() -> None:
    from rlarena.platform.targets import HTTP_SERVICES

    served = set(served_routes())
    assert set(functions()) | NOT_JSON_APIS.keys() == HTTP_SERVICES.keys()
    assert len(functions()) >= 5 and len(served) >= 40, (sorted(functions()), len(served))
    undeclared = sorted(served - operations().keys())
    assert not undeclared, "routes registered without their metadata: " + ", ".join(
        f"{m} {r} ({f})" for f, m, r in undeclared
    )
    assert served == ROUTES.keys()
    unknown = sorted({p for _, _, rule in served for p in _params(rule) if PARAMS.get(p, "unknown") == "unknown"})
    assert not unknown, f"UUID path parameters tests/support/routes.py ENTITIES does not name: {unknown}"
    every = {(f.name, method, rule) for f in functions().values() for method, rule in f.api.routes()}
    assert EXEMPT.keys() <= every and all(EXEMPT.values()), "EXEMPT lists a route no function serves, or no reason"


def test_every_served_route_gets_real_requests() -> None:
    """Each served route is in the hostile-query test (and in every other test its kind calls for)."""
    assert {tuple(param.values) for param in _routes()} == set(served_routes())


@dataclass
class World:
    """The caller (owner) and one agent, submission and match of theirs."""

    api: ApiClient
    owner: User
    agent: str
    submission: str
    match: str

    def path(self, rule: str, **override: str) -> str:
        values = {"agent": self.agent, "submission": self.submission, "match": self.match, "text": "pong"}
        for param in _params(rule):
            rule = rule.replace(f"<{param}>", override.get(param, values[PARAMS[param]]))
        return rule

    def call(self, function: str, method: str, path: str, **kwargs: Any) -> Any:
        return _client(function).open(path, method=method, **kwargs)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # ARCHIVE_MAX_BYTES below the 12 MiB bodies of test_huge_bodies_are_413 (the default is 100 MiB).
    return {"STORAGE_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "ARCHIVE_MAX_BYTES": 10 * 1024 * 1024}


@pytest.fixture
def world(api: ApiClient, owner: User, agent_id: str, platform: Platform) -> World:
    rival = api.create_agent(owner, "rival")
    submission = activate(platform, agent_id)
    activate(platform, str(rival["id"]))
    match = insert_match(platform, agent_id, str(rival["id"]))
    return World(api, owner, agent_id, submission, match)


def _auth(route: Route, world: World) -> dict[str, str]:
    if route.access is Access.WEBHOOK:
        return {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
    return dict(world.owner.headers)


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


def _assert_clean_4xx(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    body = response.json
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["code"], str)
    text = response.get_data(as_text=True).lower()
    for leak in ("traceback", "sqlalchemy", "select ", "insert into", "psycopg", "pg8000", "sqlite3"):
        assert leak not in text


ROUTE_ARGS = ("function", "method", "rule")
NOT_JSON_OBJECTS = [b"{not json", b"[1, 2, 3]", b'"a string"', b"null", b"", b"\xff\xfe\x00garbage", b'{"a":' * 5000]
WRONG_TYPES: list[dict[str, Any]] = [
    {"username": 1, "email": [], "password": {}, "fullName": 5, "name": 7, "environmentId": True,
     "description": 3, "avatarUrl": 9, "agentId": 4, "agent1Id": [], "agent2Id": {}, "codeUrl": 1, "filename": 2},
    {"username": None, "email": None, "password": None, "name": None, "environmentId": None, "avatarUrl": False,
     "agentId": None, "agent1Id": None, "codeUrl": None, "filename": None},
    {"username": 1.5e308, "password": -1, "name": ["a"], "environmentId": {"$ne": 1}, "fullName": {"a": 1},
     "agentId": {"$gt": ""}, "agent1Id": 1.5e308, "codeUrl": ["x"], "filename": -1},
]  # fmt: skip
BAD_AUTHORIZATIONS = [
    "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer a.b.c", "Bearer " + "x" * 10_000, "bearer\x00x",
]  # fmt: skip
BAD_IDS = ["123", "not-a-uuid", "' OR 1=1 --", "%00", "0" * 300]
HOSTILE_QUERY = "page=-1&pageSize=%00&limit=x&format=%27&agentId=%27%20OR%201%3D1&environmentId=" + "z" * 300


@pytest.mark.parametrize(ROUTE_ARGS, _routes())
def test_every_route_answers_hostile_queries_without_a_500(world: World, function: str, method: str, rule: str) -> None:
    """Each route with the caller's own ids, junk in the query string and an empty body."""
    route = ROUTES[function, method, rule]
    response = world.call(function, method, f"{world.path(rule)}?{HOSTILE_QUERY}", headers=_auth(route, world))
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    if response.status_code >= 400:
        _assert_clean_4xx(response)


@pytest.mark.parametrize(ROUTE_ARGS, _routes(access={Access.PUBLIC}))
def test_public_routes_answer_without_a_token(world: World, function: str, method: str, rule: str) -> None:
    """What a route declares as public is public: no 401 for a caller without a token."""
    response = world.call(function, method, world.path(rule))
    assert response.status_code not in (401, 403), (response.status_code, response.get_data(as_text=True)[:300])
    assert response.status_code < 500, response.get_data(as_text=True)[:300]


@pytest.mark.parametrize(ROUTE_ARGS, _routes(takes={Takes.JSON}))
def test_bodies_that_are_not_a_json_object_are_400(world: World, function: str, method: str, rule: str) -> None:
    for payload in NOT_JSON_OBJECTS:
        response = world.call(
            function,
            method,
            world.path(rule),
            data=payload,
            headers={**world.owner.headers, "Content-Type": "application/json"},
        )
        _assert_clean_4xx(response)
        assert response.status_code == 400, payload[:20]


@pytest.mark.parametrize(ROUTE_ARGS, _routes(takes={Takes.JSON, Takes.RAW}))
def test_huge_bodies_are_413(world: World, function: str, method: str, rule: str) -> None:
    payload = b'{"name": "' + b"x" * (12 * 1024 * 1024) + b'"}'  # over both the JSON and the archive limit
    headers = {**_auth(ROUTES[function, method, rule], world), "Content-Type": "application/json"}
    response = world.call(function, method, world.path(rule), data=payload, headers=headers)
    _assert_clean_4xx(response)
    assert response.status_code == 413


@pytest.mark.parametrize(ROUTE_ARGS, _routes(takes={Takes.JSON}))
def test_a_non_json_content_type_is_415(world: World, function: str, method: str, rule: str) -> None:
    response = world.call(
        function, method, world.path(rule), data="name=x", headers={**world.owner.headers, "Content-Type": "text/plain"}
    )
    _assert_clean_4xx(response)
    assert response.status_code == 415


@pytest.mark.parametrize(ROUTE_ARGS, _routes(takes={Takes.JSON}))
def test_wrong_types_are_400_naming_the_fields(world: World, function: str, method: str, rule: str) -> None:
    for wrong in WRONG_TYPES:
        response = world.call(function, method, world.path(rule), json=wrong, headers=world.owner.headers)
        _assert_clean_4xx(response)
        assert response.status_code == 400, response.json
        assert response.json["details"], response.json


@pytest.mark.parametrize(ROUTE_ARGS, _routes(takes={Takes.JSON}))
def test_unicode_and_sql_metacharacters_never_break_a_route(
    world: World, function: str, method: str, rule: str
) -> None:
    for nasty in NASTY_STRINGS:
        payload = dict.fromkeys(
            ["username", "email", "password", "fullName", "name", "description", "environmentId", "avatarUrl",
             "agentId", "agent1Id", "agent2Id", "codeUrl", "filename"],
            nasty,
        )  # fmt: skip
        response = world.call(function, method, world.path(rule), json=payload, headers=world.owner.headers)
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


@pytest.mark.parametrize(ROUTE_ARGS, _routes(access={Access.USER, Access.OWNER, Access.WEBHOOK}))
def test_bad_tokens_are_401(world: World, function: str, method: str, rule: str) -> None:
    for authorization in [*BAD_AUTHORIZATIONS, f"Bearer {WEBHOOK_TOKEN}x"]:
        headers = {"Authorization": authorization} if authorization else {}
        response = world.call(function, method, world.path(rule), json={"name": "x"}, headers=headers)
        _assert_clean_4xx(response)
        assert response.status_code == 401, authorization[:20]


@pytest.mark.parametrize(ROUTE_ARGS, _routes(ids=True))
def test_ids_that_are_not_uuids_are_400(world: World, function: str, method: str, rule: str) -> None:
    headers = _auth(ROUTES[function, method, rule], world)
    for bad_id in BAD_IDS:
        path = world.path(rule, **dict.fromkeys(_params(rule), bad_id))
        response = world.call(function, method, path, json={"name": "x"}, headers=headers)
        _assert_clean_4xx(response)
        assert response.status_code in (400, 404), bad_id  # a path with "/" or NUL may not even route
        if response.status_code == 400:
            assert "UUID" in response.json["error"]


@pytest.mark.parametrize(ROUTE_ARGS, _routes(ids=True))
def test_unknown_ids_are_404(world: World, function: str, method: str, rule: str) -> None:
    path = world.path(rule, **{p: str(uuid.uuid4()) for p in _params(rule)})
    response = world.call(
        function, method, path, json={"name": "x"}, headers=_auth(ROUTES[function, method, rule], world)
    )
    _assert_clean_4xx(response)
    assert response.status_code == 404


@pytest.mark.parametrize(ROUTE_ARGS, _routes(access={Access.OWNER}))
def test_other_users_things_are_403_or_404_and_unchanged(world: World, function: str, method: str, rule: str) -> None:
    intruder = world.api.register("intruder")
    response = world.call(function, method, world.path(rule), json={"name": "stolen"}, headers=intruder.headers)
    _assert_clean_4xx(response)
    assert response.status_code in (403, 404)
    agent = world.api.get(f"/api/v1/agents/{world.agent}").json["agent"]
    assert (agent["name"], agent["activeSubmissionId"]) == ("target", world.submission)


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
