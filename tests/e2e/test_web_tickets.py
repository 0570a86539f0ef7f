"""Live pages carry a WebSocket ticket, never the session token (on the local platform, over real HTTP).

The token stays in its HttpOnly cookie; the page holds a ticket the web minted for it
(`POST /api/v1/ws/ticket`), which opens the relay's WebSocket but which no API takes as a bearer
token.
"""

from __future__ import annotations

import json
import re
import uuid

from websockets.sync.client import connect

from tests.e2e.test_web_pages import Browser, sign_up
from tests.support.running_platform import RunningPlatform

TICKET = re.compile(r'data-live-ticket="([^"]+)"')


def signed_in(local_platform: RunningPlatform) -> tuple[Browser, str]:
    browser = Browser(local_platform.base_url)
    sign_up(browser, f"tix{uuid.uuid4().hex[:8]}")
    token = next(c.value for c in browser.cookies if c.name == "rlarena_token")
    assert token
    return browser, str(token)


def test_the_live_pages_hold_a_ticket_and_never_the_session_token(local_platform: RunningPlatform) -> None:
    browser, token = signed_in(local_platform)
    created = browser.open("/me/agents", {"name": "ticketed", "environmentId": "tic-tac-toe"})
    assert "/agents/" in created.url
    for page in (browser.open("/games/tic-tac-toe"), browser.open(created.url.removeprefix(browser.base_url))):
        assert page.status == 200
        assert token not in page.text
        found = TICKET.search(page.text)
        assert found is not None and found.group(1) != token
    for path in ("/", "/me", "/docs"):
        assert token not in browser.open(path).text, path


def test_a_pages_ticket_opens_the_websocket_but_is_refused_by_the_api(local_platform: RunningPlatform) -> None:
    browser, token = signed_in(local_platform)
    found = TICKET.search(browser.open("/games/tic-tac-toe").text)
    assert found is not None
    ticket = found.group(1)

    assert local_platform.request("GET", "/api/v1/users/me", token=ticket).status == 401
    assert local_platform.request("POST", "/api/v1/ws/ticket", token=ticket).status == 401
    assert local_platform.request("GET", "/api/v1/users/me", token=token).status == 200

    ws_url = local_platform.base_url.replace("http://", "ws://") + "/api/v1/ws"
    with connect(f"{ws_url}?ticket={ticket}", open_timeout=10) as websocket:
        hello = json.loads(websocket.recv(timeout=10))
    assert hello["type"] == "connected" and hello["payload"]["anonymous"] is False


def test_the_ticket_route_answers_a_bearer_token_through_the_gateway(local_platform: RunningPlatform) -> None:
    _, token = signed_in(local_platform)
    reply = local_platform.request("POST", "/api/v1/ws/ticket", token=token)
    assert reply.status == 201 and set(reply.body) == {"ticket", "expiresAt"}
    assert local_platform.request("POST", "/api/v1/ws/ticket").status == 401
