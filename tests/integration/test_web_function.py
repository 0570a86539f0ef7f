"""functions/web/main.py loaded as its container loads it (functions-framework's create_app)."""

from __future__ import annotations

from typing import Any

import pytest
from functions_framework import create_app

from tests.conftest import ROOT


@pytest.fixture
def client() -> Any:
    return create_app("web_http", str(ROOT / "functions" / "web" / "main.py")).test_client()  # type: ignore[no-untyped-call]


def test_the_web_target_answers_its_probe_without_the_api(client: Any) -> None:
    reply = client.get("/health")
    assert reply.status_code == 200 and reply.json["service"] == "web"


def test_its_assets_are_served_with_their_types(client: Any) -> None:
    assert client.get("/assets/style.css").mimetype == "text/css"
    player = client.get("/assets/player.js")
    assert player.mimetype == "text/javascript" and b"RLArenaReplay" in player.data


def test_what_the_framework_or_no_browser_sends_is_the_platforms_json_error(client: Any) -> None:
    for reply in (client.get("/robots.txt"), client.open("/", method="TRACE")):
        assert (reply.status_code, reply.mimetype) == (404, "application/json")
        assert reply.json["code"] == "not_found"


def test_an_unreachable_api_is_an_html_error_page_not_a_traceback(client: Any) -> None:
    reply = client.get("/", base_url="http://127.0.0.1:9")  # nothing listens on port 9
    assert (reply.status_code, reply.mimetype) == (503, "text/html")
    assert b"did not answer" in reply.data and b"Traceback" not in reply.data
