"""WebSocket tickets against the relay served by uvicorn on a real port: minted by
`POST /api/v1/ws/ticket` with a bearer token, accepted by the handshake's `?ticket=` only, refused
there once expired or when a bearer token is sent in their place (4401)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete
from websockets.asyncio.client import connect

from rlarena.adapters.db.models import User
from rlarena.bootstrap import Platform
from rlarena.relay.app import Relay
from tests.integration.test_ws_relay import TOKENS, WAIT, Served, closed, make_relay, receive, serving, token_for

pytestmark = pytest.mark.asyncio


async def ticket_from(served: Served, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(timeout=WAIT) as http:
        return await http.post(served.http_url + "/api/v1/ws/ticket", headers=headers)


async def test_a_ticket_minted_with_a_bearer_token_opens_the_websocket_as_its_user() -> None:
    user = uuid.uuid4()
    async with serving(make_relay()) as served:
        reply = await ticket_from(served, token_for(user))
        assert reply.status_code == 201
        body = reply.json()
        assert body["expiresAt"].endswith("Z")
        expires = datetime.fromisoformat(body["expiresAt"])
        assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(seconds=65)
        async with connect(f"{served.ws_url}?ticket={body['ticket']}", open_timeout=WAIT) as websocket:
            hello = await receive(websocket)

    assert hello == {"type": "connected", "payload": {"userId": str(user), "anonymous": False}}


async def test_no_ticket_without_a_valid_bearer_token_and_a_ticket_is_no_bearer_token() -> None:
    ticket, _ = TOKENS.issue_ticket(uuid.uuid4(), datetime.now(UTC))
    async with serving(make_relay()) as served:
        anonymous = await ticket_from(served, None)
        with_ticket = await ticket_from(served, ticket)

    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthenticated"
    assert with_ticket.status_code == 401 and with_ticket.json()["code"] == "invalid_token"


@pytest.mark.parametrize(
    ("ticket", "reason_starts"),
    [
        (TOKENS.issue_ticket(uuid.uuid4(), datetime.now(UTC) - timedelta(minutes=5))[0], "ticket_expired: "),
        (token_for(uuid.uuid4()), "invalid_ticket: "),
        ("not-a-ticket", "invalid_ticket: "),
    ],
    ids=["expired", "a-bearer-token", "garbage"],
)
async def test_an_expired_ticket_or_a_bearer_token_sent_as_one_is_closed_with_4401(
    ticket: str, reason_starts: str
) -> None:
    async with (
        serving(make_relay()) as served,
        connect(f"{served.ws_url}?ticket={ticket}", open_timeout=WAIT) as websocket,
    ):
        code, reason = await closed(websocket)

    assert code == 4401
    assert reason.startswith(reason_starts)


async def test_the_query_token_still_works_for_the_clients_that_use_it() -> None:
    user = uuid.uuid4()
    async with (
        serving(make_relay()) as served,
        connect(f"{served.ws_url}?token={token_for(user)}", open_timeout=WAIT) as websocket,
    ):
        assert (await receive(websocket))["payload"]["userId"] == str(user)


async def test_the_platforms_relay_mints_tickets_for_living_accounts_only(platform: Platform) -> None:
    with platform.uow() as uow:
        ghost = User(username="ghost", email="ghost@example.com", password_hash="x")
        uow.session.add(ghost)
        uow.commit()
    now = datetime.now(UTC)
    token = platform.tokens.issue(ghost.id, "ghost", now)
    async with serving(Relay.for_platform(platform)) as served:
        minted = await ticket_from(served, token)
        assert minted.status_code == 201
        ticket = minted.json()["ticket"]
        with platform.uow() as uow:
            uow.session.execute(delete(User).where(User.id == ghost.id))
            uow.commit()
        gone = await ticket_from(served, token)
        async with connect(f"{served.ws_url}?ticket={ticket}", open_timeout=WAIT) as websocket:
            code, reason = await closed(websocket)

    assert gone.status_code == 401 and gone.json()["code"] == "unknown_user"
    assert code == 4401 and reason.startswith("unknown_user: ")
