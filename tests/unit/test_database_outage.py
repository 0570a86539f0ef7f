"""Which exceptions are a database outage (adapters/db/outage.py) and how HTTP answers them: 503,
Retry-After and the JSON error body wherever the outage struck; a bug stays a 500.

Real SQLite errors and pg8000's own exception classes; the PostgreSQL errors raised by a real
server going down are classified in tests/integration/test_database_outage.py.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import flask
import pytest
from pg8000 import core as pg8000_core
from pg8000 import dbapi as pg8000
from sqlalchemy import exc as sa
from werkzeug.exceptions import InternalServerError, MethodNotAllowed, NotFound, RequestURITooLarge

from rlarena import errors
from rlarena.adapters.db.outage import database_unavailable, describe, is_database_outage
from rlarena.http.api import Context, HttpApi, Reply, http_exception_response


def wrapped(kind: type[sa.DBAPIError], orig: BaseException, *, invalidated: bool = False) -> sa.DBAPIError:
    """What SQLAlchemy raises: the driver's error as `.orig` and as `__cause__`."""
    error = kind("SELECT 1", {}, orig, connection_invalidated=invalidated)
    error.__cause__ = orig
    return error


def caused(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


def refused() -> BaseException:
    return caused(
        pg8000.InterfaceError("Can't create a connection to host 127.0.0.1 and port 5432"),
        ConnectionRefusedError(111, "Connection refused"),
    )


def server_error(sqlstate: str) -> BaseException:
    error: BaseException = pg8000.ProgrammingError({"S": "FATAL", "C": sqlstate, "M": "..."})
    return error


@pytest.fixture
def sqlite_errors(tmp_path: Path) -> Iterator[dict[str, sqlite3.Error]]:
    """Real sqlite3 errors: a locked database, a missing table, a syntax error."""
    found: dict[str, sqlite3.Error] = {}
    holder = sqlite3.connect(tmp_path / "db", isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    other = sqlite3.connect(tmp_path / "db", timeout=0, isolation_level=None)
    for name, statement in [
        ("locked", "BEGIN IMMEDIATE"),
        ("missing table", "SELECT * FROM nope"),
        ("syntax", "SELEC 1"),
    ]:
        try:
            other.execute(statement)
        except sqlite3.Error as error:
            found[name] = error
    yield found
    other.close()
    holder.close()


def reset_in_pg8000() -> BaseException:
    """The bare ConnectionResetError pg8000 lets escape when the server resets the socket it reads."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        accepted, _ = server.accept()
        accepted.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        accepted.close()  # RST, as a killed backend's socket
        try:
            pg8000_core._read(client.makefile("rb"), 5)
        except ConnectionResetError as error:
            return error
        finally:
            client.close()
    raise AssertionError("no reset")


def test_a_reset_that_pg8000_lets_escape_bare_is_an_outage_and_anyone_elses_is_not() -> None:
    error = reset_in_pg8000()
    assert is_database_outage(error)
    assert describe(error).startswith("ConnectionResetError")
    try:
        raise ConnectionResetError(104, "Connection reset by peer")  # e.g. the object store's socket
    except ConnectionResetError as elsewhere:
        assert not is_database_outage(elsewhere)


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("connection refused (pg8000 connect)", wrapped(sa.InterfaceError, refused())),
        ("the bare pg8000 error", refused()),
        ("a reset socket", wrapped(sa.InterfaceError, pg8000.InterfaceError("network error"), invalidated=True)),
        ("a closed connection", wrapped(sa.InterfaceError, pg8000.InterfaceError("connection is closed"))),
        ("admin shutdown 57P01", wrapped(sa.ProgrammingError, server_error("57P01"))),
        ("starting up 57P03", wrapped(sa.ProgrammingError, server_error("57P03"))),
        ("too many connections 53300", wrapped(sa.ProgrammingError, server_error("53300"))),
        ("connection failure 08006", wrapped(sa.ProgrammingError, server_error("08006"))),
        ("any invalidated connection", wrapped(sa.ProgrammingError, server_error("XX000"), invalidated=True)),
        ("another driver's OperationalError", wrapped(sa.OperationalError, Exception("could not connect"))),
        ("a reset under a driver error", caused(pg8000.InterfaceError("oops"), ConnectionResetError(104, "reset"))),
        ("a timeout under a driver error", caused(pg8000.InterfaceError("oops"), TimeoutError("timed out"))),
        ("the pool timed out", sa.TimeoutError("QueuePool limit of size 2 overflow 2 reached")),
        ("a disconnection", sa.DisconnectionError("gone")),
        ("raised from an outage", caused(KeyError("x"), wrapped(sa.InterfaceError, refused()))),
    ],
)
def test_outages(name: str, error: BaseException) -> None:
    assert is_database_outage(error), name


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("a foreign-key violation (pg8000 ProgrammingError)", wrapped(sa.ProgrammingError, server_error("23503"))),
        ("a unique violation", wrapped(sa.IntegrityError, pg8000.IntegrityError({"C": "23505"}))),
        ("a syntax error", wrapped(sa.ProgrammingError, server_error("42601"))),
        ("a misused driver", wrapped(sa.InterfaceError, pg8000.InterfaceError("The parameter x can't be of type"))),
        ("a bad password (28P01)", wrapped(sa.ProgrammingError, server_error("28P01"))),
        ("a refused socket that is not the database's (S3)", caused(OSError("S3"), ConnectionRefusedError(111, "no"))),
        ("a bare ConnectionResetError", ConnectionResetError(104, "reset")),
        ("a bug", RuntimeError("boom")),
        ("the platform's own 503", caused(errors.ServiceUnavailable("x"), wrapped(sa.InterfaceError, refused()))),
    ],
)
def test_not_outages(name: str, error: BaseException) -> None:
    assert not is_database_outage(error), name


def test_sqlite_a_locked_file_is_an_outage_a_missing_table_is_a_bug(sqlite_errors: dict[str, sqlite3.Error]) -> None:
    assert set(sqlite_errors) == {"locked", "missing table", "syntax"}
    verdicts = {name: is_database_outage(wrapped(sa.OperationalError, error)) for name, error in sqlite_errors.items()}
    assert verdicts == {"locked": True, "missing table": False, "syntax": False}


def test_what_was_being_handled_does_not_make_a_bug_an_outage() -> None:
    bug = wrapped(sa.ProgrammingError, server_error("42601"))
    bug.__context__ = ConnectionRefusedError(111, "an S3 call failed just before")
    assert not is_database_outage(bug)
    suppressed = KeyError("x")
    suppressed.__context__ = wrapped(sa.InterfaceError, refused())
    suppressed.__suppress_context__ = True
    assert not is_database_outage(suppressed)
    handled = KeyError("x")
    handled.__context__ = wrapped(sa.InterfaceError, refused())
    assert is_database_outage(handled)


def test_a_cycle_in_the_chain_ends() -> None:
    first, second = RuntimeError("a"), RuntimeError("b")
    first.__cause__, second.__cause__ = second, first
    assert not is_database_outage(first)
    assert describe(first) in ("RuntimeError: a", "RuntimeError: b")


def test_describe_names_the_root_cause() -> None:
    assert describe(wrapped(sa.InterfaceError, refused())) == "ConnectionRefusedError: [Errno 111] Connection refused"


# -- HTTP ------------------------------------------------------------------------------------------
class FakeSettings:
    cors_allowed_origins = ["http://allowed.example"]
    max_body_bytes = 1024
    trust_forwarded_for = False
    checks_responses = False  # these tiny apps declare no response models


class FakePlatform:
    settings = FakeSettings()


def make_api(raise_: BaseException) -> HttpApi:
    api = HttpApi("fake", FakePlatform)  # type: ignore[arg-type]

    @api.route("/thing", "GET", "POST")
    def thing(ctx: Context) -> Reply:
        raise raise_

    return api


def call(api: HttpApi, method: str = "GET", path: str = "/thing", **kwargs: Any) -> flask.Response:
    app = flask.Flask("unit")
    with app.test_request_context(path, method=method, headers={"Origin": "http://allowed.example"}, **kwargs):
        return api.handle(flask.request._get_current_object())  # type: ignore[attr-defined]


def assert_unavailable(response: flask.Response) -> None:
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == {
        "error": "the database is unavailable; try again shortly",
        "code": "service_unavailable",
        "details": {"retryAfterSeconds": 5},
    }
    assert response.headers["Access-Control-Allow-Origin"] == "http://allowed.example"


@pytest.mark.parametrize(
    "error",
    [
        wrapped(sa.InterfaceError, refused()),  # e.g. the rate limiter's engine.begin()
        wrapped(sa.InterfaceError, pg8000.InterfaceError("network error"), invalidated=True),
        wrapped(sa.ProgrammingError, server_error("57P01")),
        sa.TimeoutError("QueuePool limit reached"),
        reset_in_pg8000(),
    ],
)
def test_an_outage_anywhere_in_a_route_is_503_with_retry_after(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    response = call(make_api(error))
    assert_unavailable(response)
    assert "the database is unavailable" in caplog.text
    assert "Traceback" not in caplog.text  # an outage is not a bug: one line, no stack trace


def test_every_503_says_when_to_retry() -> None:
    assert_unavailable(call(make_api(database_unavailable())))
    other = call(make_api(errors.ServiceUnavailable("the broker is down", details={"broker": "x"})))
    assert (other.status_code, other.headers["Retry-After"]) == (503, "5")
    assert json.loads(other.get_data())["details"] == {"broker": "x"}


def test_a_database_bug_is_still_a_500(caplog: pytest.LogCaptureFixture) -> None:
    response = call(make_api(wrapped(sa.ProgrammingError, server_error("23503"))))
    assert response.status_code == 500
    assert "Retry-After" not in response.headers
    assert json.loads(response.get_data()) == {"error": "internal error", "code": "internal_error"}
    assert "unhandled error in GET /thing" in caplog.text


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (NotFound(), 404, "not_found"),
        (MethodNotAllowed(valid_methods=["GET", "POST"]), 405, "method_not_allowed"),
        (RequestURITooLarge(), 414, "request_uri_too_long"),
        (InternalServerError(original_exception=RuntimeError("secret")), 500, "internal_error"),
    ],
)
def test_werkzeug_errors_become_the_json_error_body(error: Any, status: int, code: str) -> None:
    app = flask.Flask("unit")
    with app.test_request_context("/a%0Ab", method="TRACE", headers={"Origin": "http://allowed.example"}):
        request = flask.request._get_current_object()  # type: ignore[attr-defined]
        response = http_exception_response(request, error, ["http://allowed.example"], "unit")
    body = json.loads(response.get_data())
    assert (response.status_code, response.mimetype, body["code"]) == (status, "application/json", code)
    assert body["error"] and "secret" not in body["error"]
    assert response.headers["Access-Control-Allow-Origin"] == "http://allowed.example"
    if status == 405:
        assert body["error"] == "TRACE is not allowed here; use GET, POST"
