"""WebSocket tickets, so a web page never holds the session token.

`POST /api/v1/ws/ticket` with a bearer token answers `{ticket, expiresAt}`: a JWT for the relay's
handshake only (`/api/v1/ws?ticket=`, about a minute's life; see adapters/tokens.py), which every
API refuses as a bearer token. The web server asks for one per live page it renders. The route is
served by the relay's ASGI app (relay/app.py) and by its HttpApi (relay/ticket_route.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol

TICKET_PATH = "/api/v1/ws/ticket"


class TicketIssuer(Protocol):
    def issue_ticket(self, user_id: uuid.UUID, now: datetime) -> tuple[str, datetime]: ...


def ticket_answer(issuer: TicketIssuer, user_id: uuid.UUID) -> dict[str, str]:
    ticket, expires = issuer.issue_ticket(user_id, datetime.now(UTC))
    return {"ticket": ticket, "expiresAt": expires.isoformat().replace("+00:00", "Z")}
