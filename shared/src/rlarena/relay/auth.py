"""Who is connecting: a WebSocket ticket (`?ticket=`), or the platform's own JWT, from
`Authorization: Bearer` or `?token=`.

Browsers cannot set headers on a WebSocket, hence the query parameters; the header wins when it is
sent. A web page carries a ticket (`POST /api/v1/ws/ticket`: a minute's life, good for this
handshake only) rather than the session token; `?token=` stays for the clients that use it. Either
is checked once, at the handshake, by the same TokenService as every API.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Protocol

from rlarena.errors import Unauthenticated


class TokenVerifier(Protocol):
    def verify(self, token: str) -> uuid.UUID: ...

    def verify_ticket(self, ticket: str) -> uuid.UUID: ...


def token_of(headers: Mapping[str, str], query: Mapping[str, str]) -> str | None:
    """The token the client sent, None if it sent none; Unauthenticated for a malformed header."""
    header = headers.get("authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'", code="invalid_token")
        return token.strip()
    token = query.get("token", "").strip()
    return token or None


def authenticate(
    verifier: TokenVerifier, headers: Mapping[str, str], query: Mapping[str, str], *, allow_anonymous: bool
) -> uuid.UUID | None:
    """The caller's user id, or None for an anonymous caller where allowed; Unauthenticated otherwise."""
    ticket = query.get("ticket", "").strip()
    if ticket and not headers.get("authorization"):
        return verifier.verify_ticket(ticket)
    token = token_of(headers, query)
    if token is None:
        if allow_anonymous:
            return None
        raise Unauthenticated(
            "authentication required: send 'Authorization: Bearer <token>', ?ticket=<ticket> or ?token=<token>",
            code="authentication_required",
        )
    return verifier.verify(token)
