"""VALIDATE_RESPONSES: an answer that does not match its route's model is a logged 500, not a silent drift."""

from __future__ import annotations

import json
from typing import Any

import flask
import pytest

from rlarena.config import Settings
from rlarena.http.api import Context, HttpApi, Reply
from rlarena.http.schemas.base import Schema


class Thing(Schema):
    thing_id: str
    size: int | None


class Settled:
    cors_allowed_origins: list[str] = []
    max_body_bytes = 1024
    trust_forwarded_for = False

    def __init__(self, checks: bool) -> None:
        self.checks_responses = checks


def make_api(body: dict[str, Any], *, checks: bool = True, status: int = 200) -> HttpApi:
    class Platform:
        settings = Settled(checks)

    api = HttpApi("fake", Platform)  # type: ignore[arg-type]

    @api.route("/thing", "GET", summary="A thing", responses={200: Thing})
    def get_thing(ctx: Context) -> Reply:
        return Reply(body, status)

    return api


def call(api: HttpApi) -> flask.Response:
    with flask.Flask("unit").test_request_context("/thing", method="GET"):
        return api.handle(flask.request._get_current_object())  # type: ignore[attr-defined]


def test_an_answer_matching_its_model_goes_out_unchanged() -> None:
    response = call(make_api({"thingId": "a", "size": None}))
    assert response.status_code == 200
    assert json.loads(response.get_data()) == {"thingId": "a", "size": None}


@pytest.mark.parametrize(
    "body",
    [
        {"thingId": "a"},  # a field the model requires is missing
        {"thingId": "a", "size": "3"},  # a number sent as text
        {"thingId": "a", "size": 3, "colour": "crimson-secret"},  # a field the model does not know
        {"thing_id": "a", "size": 3},  # snake_case instead of the wire's camelCase
    ],
)
def test_an_answer_that_drifted_from_its_model_is_a_logged_500(
    body: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    response = call(make_api(body))
    assert response.status_code == 500
    assert json.loads(response.get_data())["code"] == "response_schema_mismatch"
    assert "response_schema_mismatch: get_thing 200 does not match Thing" in caplog.text
    assert "crimson-secret" not in caplog.text  # field paths only, never the values


def test_an_undeclared_status_is_a_mismatch_too(caplog: pytest.LogCaptureFixture) -> None:
    response = call(make_api({"thingId": "a", "size": 1}, status=201))
    assert response.status_code == 500
    assert "get_thing declares no 201 answer" in caplog.text


def test_nothing_is_checked_when_the_setting_is_off() -> None:
    response = call(make_api({"whatever": True}, checks=False))
    assert response.status_code == 200


def test_answers_are_checked_by_default_outside_production_only() -> None:
    assert Settings(ENV="development").checks_responses
    assert Settings(ENV="test").checks_responses
    production = Settings.model_construct(env="production", validate_responses=None)
    assert not production.checks_responses
    assert Settings(ENV="development", VALIDATE_RESPONSES=False).checks_responses is False


def test_an_empty_setting_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VALIDATE_RESPONSES", "")
    assert Settings(ENV="development").validate_responses is None
    assert Settings(ENV="development").checks_responses


def make_ready_api(text: str, mimetype: str) -> HttpApi:
    """A route answering a ready flask.Response, as the leaderboard does with its rendered bytes."""

    class Platform:
        settings = Settled(True)

    api = HttpApi("fake", Platform)  # type: ignore[arg-type]

    @api.route("/thing", "GET", summary="A thing", responses={200: Thing})
    def get_thing(ctx: Context) -> flask.Response:
        return flask.Response(text, status=200, mimetype=mimetype)

    return api


def test_a_ready_json_answer_is_checked_too(caplog: pytest.LogCaptureFixture) -> None:
    good = call(make_ready_api('{"thingId":"a","size":2}', "application/json"))
    assert good.status_code == 200
    assert json.loads(good.get_data()) == {"thingId": "a", "size": 2}
    drifted = call(make_ready_api('{"thingId":"a"}', "application/json"))
    assert drifted.status_code == 500
    assert "get_thing 200 does not match Thing" in caplog.text


def test_a_ready_answer_that_is_not_json_is_left_alone() -> None:
    response = call(make_ready_api("raw agent bytes", "application/octet-stream"))
    assert response.status_code == 200
    assert response.get_data() == b"raw agent bytes"
