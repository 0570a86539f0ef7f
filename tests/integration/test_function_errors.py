"""Each HTTP function's own app (functions-framework, from its main.py): errors are the JSON body.

Unknown methods reach the function's HttpApi (functions-framework's rules take every method) and
get its JSON 405/404. What functions-framework refuses by itself, before the handler runs (a path
with an encoded line feed, /robots.txt, /favicon.ico), is Flask's HTML unless main.py hands those
errors to `HttpApi.http_error`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app
from werkzeug.exceptions import HTTPException

from rlarena.bootstrap import Platform
from tests.conftest import ROOT
from tests.support.databases import SqliteDatabases
from tests.support.routes import functions

ORIGIN = "http://localhost:3000"
FUNCTIONS = sorted(functions())
UNKNOWN_METHODS = [("TRACE", "/api/v1/agents"), ("PROPFIND", "/api/v1/submissions"), ("MKCOL", "/")]
REFUSED_BY_THE_FRAMEWORK = ["/api/v1/agents%0A", "/api/v1/agents%0a/x", "/%0A/%0A", "/robots.txt", "/favicon.ico"]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"CORS_ALLOWED_ORIGINS": ORIGIN}


@pytest.fixture
def database_url(sqlite_databases: SqliteDatabases, tmp_path: Path) -> str:
    """No database is involved here: SQLite only."""
    return sqlite_databases.create(tmp_path)


def _app(function: str) -> Any:
    return create_app(functions()[function].target, str(ROOT / "functions" / function / "main.py"))  # type: ignore[no-untyped-call]


def _assert_json_error(response: Any, status: int, code: str) -> None:
    assert (response.status_code, response.mimetype) == (status, "application/json"), response.get_data()[:200]
    assert response.json["code"] == code and response.json["error"], response.json
    assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN


@pytest.mark.parametrize("function", FUNCTIONS)
def test_unknown_methods_are_json(platform: Platform, function: str) -> None:
    client = _app(function).test_client()
    for method, path in UNKNOWN_METHODS:
        response = client.open(path, method=method, headers={"Origin": ORIGIN})
        assert response.status_code in (404, 405)
        _assert_json_error(response, response.status_code, response.json["code"])


@pytest.mark.parametrize("function", FUNCTIONS)
def test_http_error_answers_what_the_framework_refuses_in_json(platform: Platform, function: str) -> None:
    """`functions_framework.errorhandler(HTTPException)(api.http_error)`, as main.py would register it."""
    app = _app(function)
    app.register_error_handler(HTTPException, functions()[function].api.http_error)
    client = app.test_client()
    for path in REFUSED_BY_THE_FRAMEWORK:
        _assert_json_error(client.get(path, headers={"Origin": ORIGIN}), 404, "not_found")


@pytest.mark.parametrize("function", FUNCTIONS)
def test_what_the_framework_refuses_is_json(platform: Platform, function: str) -> None:
    client = _app(function).test_client()
    for path in REFUSED_BY_THE_FRAMEWORK:
        _assert_json_error(client.get(path, headers={"Origin": ORIGIN}), 404, "not_found")
