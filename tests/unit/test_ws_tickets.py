"""WebSocket tickets: a JWT for the relay's handshake only, refused as an access token and vice versa."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from rlarena.adapters.tokens import TokenService
from rlarena.errors import Unauthenticated

SECRET = "unit-test-secret-0123456789abcdef0123456789"


@pytest.fixture
def tokens() -> TokenService:
    return TokenService(SECRET, timedelta(hours=1))


def test_a_websocket_ticket_names_its_user_and_lives_about_a_minute(tokens: TokenService) -> None:
    user_id, now = uuid.uuid4(), datetime.now(UTC)
    ticket, expires = tokens.issue_ticket(user_id, now)
    assert tokens.verify_ticket(ticket) == user_id
    assert timedelta(seconds=30) <= expires - now <= timedelta(seconds=120)
    assert jwt.decode(ticket, options={"verify_signature": False})["aud"] == "rlarena:ws-ticket"


def test_a_ticket_is_no_access_token_and_an_access_token_no_ticket(tokens: TokenService) -> None:
    user_id, now = uuid.uuid4(), datetime.now(UTC)
    ticket, _ = tokens.issue_ticket(user_id, now)
    with pytest.raises(Unauthenticated) as as_token:
        tokens.verify(ticket)
    assert as_token.value.code == "invalid_token"
    with pytest.raises(Unauthenticated) as as_ticket:
        tokens.verify_ticket(tokens.issue(user_id, "ada", now))
    assert as_ticket.value.code == "invalid_ticket"


def test_an_expired_ticket_says_so(tokens: TokenService) -> None:
    ticket, _ = tokens.issue_ticket(uuid.uuid4(), datetime.now(UTC) - timedelta(minutes=5))
    with pytest.raises(Unauthenticated) as caught:
        tokens.verify_ticket(ticket)
    assert caught.value.code == "ticket_expired"


def test_a_ticket_with_another_audience_is_refused(tokens: TokenService) -> None:
    now = datetime.now(UTC)
    claims = {"sub": str(uuid.uuid4()), "iss": "rlarena", "aud": "elsewhere", "iat": now, "nbf": now}
    forged = jwt.encode({**claims, "exp": now + timedelta(minutes=1)}, SECRET, algorithm="HS256")
    for check in (tokens.verify, tokens.verify_ticket):
        with pytest.raises(Unauthenticated):
            check(forged)
