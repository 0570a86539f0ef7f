"""A valid token of a user who no longer exists is 401 on every authenticated route (both databases).

Before, PostgreSQL answered POST /api/v1/agents with a 500 (pg8000 reports the foreign-key
violation as ProgrammingError) and SQLite with a 409. The routes come from the routers, as in
tests/integration/test_bad_input.py.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import pytest
from functions_framework import create_app
from sqlalchemy import delete, func, select

from rlarena.adapters.db.models import Agent, User
from rlarena.bootstrap import Platform
from tests.conftest import ROOT
from tests.support.api import ApiClient
from tests.support.routes import PARAMS, ROUTES, Access, functions, served_routes
from tests.support.seed import activate, insert_match

AUTHENTICATED = [
    pytest.param(function, method, rule, id=f"{method} {rule} ({function})")
    for function, method, rule in served_routes()
    if (route := ROUTES.get((function, method, rule))) and route.access in (Access.USER, Access.OWNER)
]


@cache
def _function_client(function: str) -> Any:
    """The function that serves the route, from its main.py (the relay's too, which ApiClient has not)."""
    main = ROOT / "functions" / function / "main.py"
    return create_app(functions()[function].target, str(main)).test_client()  # type: ignore[no-untyped-call]


def test_every_authenticated_route_answers_401_for_a_deleted_user(api: ApiClient, platform: Platform) -> None:
    owner = api.register("owner")
    agent = str(api.create_agent(owner, "target")["id"])
    rival = str(api.create_agent(owner, "rival")["id"])
    ids = {"agent": agent, "submission": activate(platform, agent), "match": insert_match(platform, agent, rival)}
    ids["text"] = "tic-tac-toe"
    ghost = api.register("ghost")
    api.create_agent(ghost, "bot")  # as in the report: the name "bot" was the ghost's
    with platform.uow() as uow:
        uow.session.execute(delete(User).where(User.username == "ghost"))  # its agent goes with it (CASCADE)
        uow.commit()

    assert len(AUTHENTICATED) >= 20, AUTHENTICATED
    wrong = []
    for parameters in AUTHENTICATED:
        function, method, rule = parameters.values
        path = str(rule)
        for name, kind in PARAMS.items():
            path = path.replace(f"<{name}>", ids[kind])
        body: Any = {"name": "bot", "environmentId": "tic-tac-toe", "agentId": agent, "agent1Id": agent}
        response = _function_client(str(function)).open(path, method=str(method), json=body, headers=ghost.headers)
        reply = response.json if response.mimetype == "application/json" else None
        if response.status_code != 401 or not reply or reply.get("code") != "unknown_user":
            wrong.append(f"{method} {rule}: {response.status_code} {response.get_data(as_text=True)[:200]}")
        elif "no longer exists" not in reply["error"]:
            wrong.append(f"{method} {rule}: unclear message {reply['error']!r}")
    assert not wrong, "\n".join(wrong)

    with platform.uow() as uow:  # nothing was written for the ghost
        assert uow.session.scalar(select(func.count()).select_from(Agent)) == 2


def test_a_live_users_token_still_works_after_another_user_is_deleted(api: ApiClient, platform: Platform) -> None:
    alive, gone = api.register("alive"), api.register("gone")
    with platform.uow() as uow:
        uow.session.execute(delete(User).where(User.username == "gone"))
        uow.commit()
    assert (
        api.post("/api/v1/agents", json={"name": "bot", "environmentId": "pong"}, headers=alive.headers).status_code
        == 201
    )
    me = api.get("/api/v1/users/me", headers=gone.headers)
    assert (me.status_code, me.json["code"]) == (401, "unknown_user")
    assert me.json["error"] == "this account no longer exists; sign up again"
