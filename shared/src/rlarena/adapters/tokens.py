"""JWT access tokens: HS256 only, with exp, iat, nbf and the user id in `sub`.

A WebSocket ticket is a JWT too, signed with the same key but for one purpose: it carries the
audience `rlarena:ws-ticket` and lives about a minute. `verify` refuses it (an API takes no token
with an audience) and `verify_ticket` refuses anything else, so a page can carry a ticket where it
must never carry the session token.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import jwt

from rlarena.errors import Unauthenticated

ALGORITHM = "HS256"
ISSUER = "rlarena"
TICKET_AUDIENCE = "rlarena:ws-ticket"
TICKET_LIFETIME = timedelta(seconds=60)


class TokenService:
    def __init__(self, secret: str, expiry: timedelta) -> None:
        self._secret = secret
        self._expiry = expiry

    @property
    def expiry(self) -> timedelta:
        return self._expiry

    def issue(self, user_id: uuid.UUID, username: str, now: datetime) -> str:
        claims = {
            "sub": str(user_id),
            "username": username,
            "iss": ISSUER,
            "iat": now,
            "nbf": now,
            "exp": now + self._expiry,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def issue_ticket(self, user_id: uuid.UUID, now: datetime) -> tuple[str, datetime]:
        """A WebSocket ticket for `user_id` and when it expires."""
        expires = now + TICKET_LIFETIME
        claims = {"sub": str(user_id), "aud": TICKET_AUDIENCE, "iss": ISSUER, "iat": now, "nbf": now, "exp": expires}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM), expires

    def verify(self, token: str) -> uuid.UUID:
        """The user id in a valid access token; Unauthenticated (with the reason) for anything else,
        a ticket included."""
        claims = self._decode(token, None, "token has expired: log in again", "token_expired", "invalid_token")
        if "aud" in claims:  # PyJWT refuses it already; a ticket must never pass for a token
            raise Unauthenticated("invalid token", code="invalid_token")
        return _user_of(claims, "invalid_token")

    def verify_ticket(self, ticket: str) -> uuid.UUID:
        """The user id in a valid WebSocket ticket; an access token or an expired ticket is refused."""
        claims = self._decode(
            ticket, TICKET_AUDIENCE, "ticket has expired: ask for a new one", "ticket_expired", "invalid_ticket"
        )
        return _user_of(claims, "invalid_ticket")

    def _decode(self, token: str, audience: str | None, expired: str, expired_code: str, code: str) -> dict[str, Any]:
        required = ["exp", "iat", "nbf", "sub", "iss"] + (["aud"] if audience else [])
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                audience=audience,
                options={"require": required},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated(expired, code=expired_code) from None
        except jwt.PyJWTError:
            raise Unauthenticated(code.replace("_", " "), code=code) from None
        return claims


def _user_of(claims: dict[str, Any], code: str) -> uuid.UUID:
    try:
        return uuid.UUID(claims["sub"])
    except (ValueError, TypeError, AttributeError):
        raise Unauthenticated(code.replace("_", " "), code=code) from None
