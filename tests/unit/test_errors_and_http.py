"""The error table and the HTTP helpers, on fakes (no database)."""

from __future__ import annotations

import json
from typing import Any

import flask
import pytest
from pydantic import BaseModel

from rlarena import errors
from rlarena.errors import error_body, http_status
from rlarena.http.api import Context, HttpApi, Reply, apply_cors, parse_uuid


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidInput("x"), 400),
        (errors.EventRejected("x"), 400),
        (errors.Unauthenticated("x"), 401),
        (errors.Forbidden("x"), 403),
        (errors.NotFound("x"), 404),
        (errors.MethodNotAllowed("x"), 405),
        (errors.Conflict("x"), 409),
        (errors.PayloadTooLarge("x"), 413),
        (errors.UnsupportedMediaType("x"), 415),
        (errors.RateLimited("x", retry_after_seconds=3), 429),
        (errors.ServiceUnavailable("x"), 503),
        (errors.EventRetry("x"), 503),
        (errors.RLArenaError("x"), 500),
    ],
)
def test_each_error_maps_to_one_status(error: errors.RLArenaError, status: int) -> None:
    assert http_status(error) == status


def test_the_error_body_has_error_code_and_optional_details() -> None:
    assert error_body(errors.NotFound("no agent")) == {"error": "no agent", "code": "not_found"}
    assert error_body(errors.Conflict("taken", details={"fields": ["email"]}))["details"] == {"fields": ["email"]}
    assert errors.Unauthenticated("x", code="token_expired").code == "token_expired"


def test_parse_uuid_names_the_parameter() -> None:
    with pytest.raises(errors.InvalidInput, match="agentId must be a UUID"):
        parse_uuid("42", "agentId")


class FakeSettings:
    cors_allowed_origins = ["http://allowed.example"]
    max_body_bytes = 1024
    trust_forwarded_for = False
    checks_responses = False  # these tiny apps declare no response models


class FakePlatform:
    settings = FakeSettings()


class Body(BaseModel):
    name: str


def make_api() -> HttpApi:
    api = HttpApi("fake", FakePlatform)  # type: ignore[arg-type]

    @api.route("/things/<thingId>", "POST")
    def post_thing(ctx: Context) -> Reply:
        return Reply({"id": str(ctx.path_uuid("thingId")), "name": ctx.body(Body).name}, 201)

    @api.route("/boom", "GET")
    def boom(ctx: Context) -> Reply:
        raise RuntimeError("secret detail from deep inside")

    return api


def call(api: HttpApi, method: str, path: str, **kwargs: Any) -> flask.Response:
    app = flask.Flask("unit")
    with app.test_request_context(path, method=method, **kwargs):
        return api.handle(flask.request._get_current_object())  # type: ignore[attr-defined]


def test_a_route_parses_its_path_and_body() -> None:
    response = call(make_api(), "POST", "/things/5a8a1c5e-57b0-4a43-9d17-5c1b0d1e7b0a", json={"name": "x"})
    assert response.status_code == 201
    assert json.loads(response.get_data())["name"] == "x"


def test_an_unexpected_exception_is_a_json_500_without_details(caplog: pytest.LogCaptureFixture) -> None:
    response = call(make_api(), "GET", "/boom")
    assert response.status_code == 500
    assert json.loads(response.get_data()) == {"error": "internal error", "code": "internal_error"}
    assert "secret detail" not in response.get_data(as_text=True)
    assert "unhandled error in GET /boom" in caplog.text


def test_wrong_method_is_405_naming_the_allowed_ones() -> None:
    response = call(make_api(), "GET", "/things/5a8a1c5e-57b0-4a43-9d17-5c1b0d1e7b0a")
    assert response.status_code == 405
    assert "POST" in json.loads(response.get_data())["error"]


def test_a_body_over_the_limit_is_413_before_it_is_parsed() -> None:
    response = call(
        make_api(),
        "POST",
        "/things/5a8a1c5e-57b0-4a43-9d17-5c1b0d1e7b0a",
        data="x" * 5000,
        content_type="application/json",
    )
    assert response.status_code == 413


def test_cors_headers_only_for_allowed_origins() -> None:
    app = flask.Flask("unit")
    with app.test_request_context("/", headers={"Origin": "http://allowed.example"}):
        response = flask.Response()
        apply_cors(flask.request, response, ["http://allowed.example"])
        assert response.headers["Access-Control-Allow-Origin"] == "http://allowed.example"
    with app.test_request_context("/", headers={"Origin": "http://other.example"}):
        response = flask.Response()
        apply_cors(flask.request, response, ["http://allowed.example"])
        assert "Access-Control-Allow-Origin" not in response.headers
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_cors_a_named_origin_is_echoed_with_credentials() -> None:
    app = flask.Flask("unit")
    with app.test_request_context("/", headers={"Origin": "http://allowed.example"}):
        response = flask.Response()
        apply_cors(flask.request, response, ["*", "http://allowed.example"])
        assert response.headers["Access-Control-Allow-Origin"] == "http://allowed.example"
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert "Origin" in response.headers.get_all("Vary")


@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_cors_a_wildcard_never_allows_credentials(method: str) -> None:
    """`*` answers `*` without credentials: never an echoed origin together with credentials."""
    app = flask.Flask("unit")
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    with app.test_request_context("/", method=method, headers=headers):
        response = flask.Response()
        response.headers["Access-Control-Allow-Credentials"] = "true"  # even if something set it before
        apply_cors(flask.request, response, ["*"])
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers
        if method == "OPTIONS":
            assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    with app.test_request_context("/", headers={"Origin": "*"}):
        response = flask.Response()
        apply_cors(flask.request, response, ["*"])
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_cors_a_wildcard_through_the_api_never_allows_credentials() -> None:
    class WildcardSettings(FakeSettings):
        cors_allowed_origins = ["*"]

    class WildcardPlatform:
        settings = WildcardSettings()

    api = HttpApi("fake", WildcardPlatform)  # type: ignore[arg-type]
    response = call(api, "OPTIONS", "/anything", headers={"Origin": "https://a.example"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in response.headers
