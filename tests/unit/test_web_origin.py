"""Where the web server reads the API: WEB_API_URL, or the request's own origin (the forwarded one
only behind a trusted gateway), and never a host that is not one."""

from __future__ import annotations

import flask
import pytest
from werkzeug.test import EnvironBuilder

from rlarena.config import Settings
from rlarena.errors import InvalidInput
from rlarena.web.origin import api_base

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "arena.example.com, proxy.internal"}


def request(host: str = "127.0.0.1:8080", headers: dict[str, str] | None = None) -> flask.Request:
    return flask.Request(
        EnvironBuilder(path="/", base_url=f"http://{host}", headers=list((headers or {}).items())).get_environ()
    )


def settings(**values: str) -> Settings:
    return Settings.model_validate(values)


def test_web_api_url_wins_when_set() -> None:
    chosen = settings(WEB_API_URL="http://api.internal:8080", TRUST_FORWARDED_FOR="true")
    assert api_base(chosen, request(headers=FORWARDED)) == "http://api.internal:8080"


def test_unset_it_is_the_origin_the_page_was_asked_at() -> None:
    assert api_base(settings(), request("localhost:8080")) == "http://localhost:8080"
    assert api_base(settings(), request("[::1]:9000")) == "http://[::1]:9000"


def test_forwarded_headers_count_only_behind_a_trusted_gateway() -> None:
    assert api_base(settings(), request(headers=FORWARDED)) == "http://127.0.0.1:8080"
    trusted = settings(TRUST_FORWARDED_FOR="true")
    assert api_base(trusted, request(headers=FORWARDED)) == "https://arena.example.com"
    assert api_base(trusted, request()) == "http://127.0.0.1:8080"  # a gateway that sends none


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-Host": "evil.example.com/path"},
        {"X-Forwarded-Host": "user@evil.example.com"},
        {"X-Forwarded-Proto": "file"},
        {"X-Forwarded-Host": "-leading-dash"},
    ],
)
def test_what_is_not_a_host_or_an_http_scheme_is_refused_as_bad_input(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        api_base(settings(TRUST_FORWARDED_FOR="true"), request(headers=headers))
