"""A PostgreSQL outage: every route answers 503 with Retry-After and the JSON error body, never a
500, and the platform serves again by itself once the database is back.

The server is this module's own (stopped and started on the same data directory and port), so
the session's shared PostgreSQL is never disturbed. The routes come from the routers, as in
tests/integration/test_bad_input.py: a route added later is covered without touching this file.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from rlarena import runtime
from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.outage import is_database_outage
from rlarena.adapters.passwords import PasswordHasher
from rlarena.bootstrap import Platform, bootstrap
from rlarena.events.publisher import RecordingPublisher
from tests.conftest import ROOT, make_settings
from tests.support.api import ApiClient, User
from tests.support.databases import PostgresDatabases
from tests.support.postgres import RestartablePostgres, free_port
from tests.support.routes import PARAMS, ROUTES, Access, Takes, functions, served_routes
from tests.support.seed import activate, insert_match

WEBHOOK_TOKEN = "storage-webhook-token-for-the-outage-suite"
# Routes that never touch the database (GET /health by design; the relay's plain-HTTP side; the
# storage webhook only publishes). They must still answer, and never with a 500.
DATABASE_FREE = {
    ("agents", "GET", "/health"),
    ("auth", "GET", "/health"),
    ("matchmaker", "GET", "/health"),
    ("submissions", "GET", "/health"),
    ("ws-relay", "GET", "/health"),
    *((name, "GET", "/api/v1/openapi.json") for name in ("agents", "auth", "matchmaker", "submissions", "ws-relay")),
    ("ws-relay", "GET", "/api/v1/ws"),
    ("submissions", "POST", "/internal/storage-events"),
}
RETRY_AFTER_SECONDS = 5


@pytest.fixture(scope="module")
def server() -> Iterator[RestartablePostgres]:
    running = RestartablePostgres()
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def databases(server: RestartablePostgres) -> Iterator[PostgresDatabases]:
    made = PostgresDatabases(server.url)
    yield made
    made.close()


@pytest.fixture
def platform(databases: PostgresDatabases, server: RestartablePostgres, tmp_path: Path) -> Iterator[Platform]:
    url = databases.create(tmp_path)
    settings = make_settings(tmp_path / "data", url, STORAGE_WEBHOOK_TOKEN=WEBHOOK_TOKEN)
    instance = bootstrap(settings, publisher=RecordingPublisher())
    instance.passwords = PasswordHasher(time_cost=1, memory_cost_kib=8)
    runtime.install(instance)
    yield instance
    runtime.install(None)
    instance.close()
    if not _listening(server.port):  # a failed test leaves the server up for the next one
        server.start()


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@cache
def _client(function: str) -> Any:
    main = ROOT / "functions" / function / "main.py"
    return create_app(functions()[function].target, str(main)).test_client()  # type: ignore[no-untyped-call]


def _api() -> ApiClient:
    return ApiClient(
        auth=_client("auth"),
        agents=_client("agents"),
        submissions=_client("submissions"),
        matchmaker=_client("matchmaker"),
    )


@dataclass
class World:
    owner: User
    agent: str
    submission: str
    match: str

    def path(self, rule: str) -> str:
        values = {"agent": self.agent, "submission": self.submission, "match": self.match, "text": "tic-tac-toe"}
        for part in rule.split("/"):
            if part.startswith("<") and part.endswith(">"):
                rule = rule.replace(part, values[PARAMS[part[1:-1]]])
        return rule

    def call(self, function: str, method: str, rule: str) -> Any:
        """The route with the caller's own ids and a body it would accept, so it reaches the database."""
        route = ROUTES[function, method, rule]
        headers = dict(self.owner.headers)
        if route.access is Access.WEBHOOK:
            headers = {"Authorization": f"Bearer {WEBHOOK_TOKEN}"}
        body: dict[str, Any] | None = {"name": "x"} if route.takes is not Takes.NOTHING else None
        if rule == "/api/v1/auth/register":
            name = f"new{uuid.uuid4().hex[:8]}"
            body = {"username": name, "email": f"{name}@example.com", "password": "correct horse battery"}
        elif rule == "/api/v1/auth/login":
            body = {"email": self.owner.username, "password": self.owner.password}
        query = {"agentId": self.agent} if rule == "/api/v1/matches/replays" else {}
        return _client(function).open(self.path(rule), method=method, json=body, headers=headers, query_string=query)


@pytest.fixture
def world(platform: Platform) -> World:
    api = _api()
    owner = api.register(f"owner{uuid.uuid4().hex[:6]}")
    agent = str(api.create_agent(owner, "target")["id"])
    rival = str(api.create_agent(owner, "rival")["id"])
    submission = activate(platform, agent)
    activate(platform, rival)
    return World(owner, agent, submission, insert_match(platform, agent, rival))


def _every_route() -> list[tuple[str, str, str]]:
    routes = served_routes()
    assert set(DATABASE_FREE) <= set(routes), sorted(set(DATABASE_FREE) - set(routes))
    return routes


def _problems_while_down(world: World) -> list[str]:
    problems = []
    for function, method, rule in _every_route():
        response = world.call(function, method, rule)
        where = f"{method} {rule} ({function}): {response.status_code} {response.get_data(as_text=True)[:200]}"
        if (function, method, rule) in DATABASE_FREE and response.status_code < 500:
            continue
        if response.status_code != 503:
            problems.append(f"not 503: {where}")
            continue
        body = response.json if response.mimetype == "application/json" else None
        if response.headers.get("Retry-After") != str(RETRY_AFTER_SECONDS):
            problems.append(f"no Retry-After: {where}")
        if not body or body.get("code") != "service_unavailable" or not isinstance(body.get("error"), str):
            problems.append(f"not the JSON error body: {where}")
        elif body.get("details") != {"retryAfterSeconds": RETRY_AFTER_SECONDS}:
            problems.append(f"no retryAfterSeconds: {where}")
        text_lower = response.get_data(as_text=True).lower()
        if any(leak in text_lower for leak in ("pg8000", "sqlalchemy", "traceback", "select ")):
            problems.append(f"leaks internals: {where}")
    return problems


def _server_errors(world: World) -> list[str]:
    return [
        f"{method} {rule} ({function}): {response.status_code} {response.get_data(as_text=True)[:200]}"
        for function, method, rule in _every_route()
        if (response := world.call(function, method, rule)).status_code >= 500
    ]


def _wait_until_served(world: World, deadline_seconds: float = 30) -> float:
    started = time.monotonic()
    while time.monotonic() - started < deadline_seconds:
        if _api().get("/api/v1/agents/my", headers=world.owner.headers).status_code == 200:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"still not served {deadline_seconds} s after the database came back")


@pytest.mark.parametrize("mode", ["immediate", "fast"])
def test_every_route_answers_503_while_the_database_is_down_and_serves_again_after(
    server: RestartablePostgres, world: World, mode: str
) -> None:
    api = _api()
    for _ in range(4):  # pooled connections that will be dead once the server stops
        assert api.get("/api/v1/agents/my", headers=world.owner.headers).status_code == 200

    server.stop(mode)
    started = time.monotonic()
    problems = _problems_while_down(world)
    sweep = time.monotonic() - started
    assert not problems, "\n".join(problems)
    assert sweep < 30, f"answering every route took {sweep:.1f} s while the database was down"

    server.start()
    recovered = _wait_until_served(world)
    assert recovered < 5, f"served again only {recovered:.1f} s after the database came back"
    assert not _server_errors(world)
    created = api.post("/api/v1/agents", json={"name": "after", "environmentId": "pong"}, headers=world.owner.headers)
    assert created.status_code == 201, created.json
    print(
        f"\n[{mode}] {len(_every_route())} routes answered in {sweep:.2f} s while down; served {recovered:.2f} s after"
    )


def test_a_restart_between_requests_goes_unnoticed(server: RestartablePostgres, world: World) -> None:
    """Every pooled connection died with the server; none is handed to a request (pre-ping)."""
    api = _api()
    for _ in range(4):
        assert api.get("/api/v1/agents/my", headers=world.owner.headers).status_code == 200
    server.stop("fast")
    server.start()
    assert not _server_errors(world)
    assert api.get("/api/v1/agents/my", headers=world.owner.headers).status_code == 200


def test_the_errors_of_a_real_outage_are_outages_and_real_bugs_are_not(server: RestartablePostgres) -> None:
    """What pg8000 and SQLAlchemy really raise, classified; a constraint violation stays a bug."""
    caught: dict[str, BaseException] = {}

    def catch(name: str, statement: str, engine: Any) -> None:
        try:
            with engine.connect() as connection:
                connection.execute(text(statement))
        except Exception as error:
            caught[name] = error

    nowhere = make_engine(f"postgresql+pg8000://postgres@127.0.0.1:{free_port()}/postgres")
    catch("connection refused", "SELECT 1", nowhere)
    nowhere.dispose()

    # A connection whose backend is terminated, and one open while the server stops (no pre-ping).
    plain = create_engine(server.url, poolclass=NullPool)
    victim = plain.connect()
    pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with plain.connect() as killer:
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    try:
        victim.execute(text("SELECT 1"))
    except Exception as error:
        caught["backend terminated"] = error
    victim.invalidate()
    open_connection = plain.connect()
    server.stop("fast")
    try:
        open_connection.execute(text("SELECT 1"))
    except Exception as error:
        caught["server stopped mid-session"] = error
    open_connection.invalidate()
    server.start()

    with plain.connect() as connection:
        for name, statement in [
            ("syntax error", "SELEC 1"),
            ("missing table", "SELECT * FROM no_such_table"),
            ("division by zero", "SELECT 1/0"),
        ]:
            try:
                connection.execute(text(statement))
            except Exception as error:
                caught[name] = error
            connection.rollback()
    plain.dispose()

    outages = ["connection refused", "backend terminated", "server stopped mid-session"]
    assert set(caught) == {*outages, "syntax error", "missing table", "division by zero"}, sorted(caught)
    assert {name: is_database_outage(caught[name]) for name in caught} == {name: name in outages for name in caught}
