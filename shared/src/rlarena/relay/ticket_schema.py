"""The answer of `POST /api/v1/ws/ticket`, imported only when an answer is checked or the API's
document is built (`Ref`), not by the relay's cold start."""

from __future__ import annotations

from pydantic import Field

from rlarena.http.schemas.base import Schema


class WsTicket(Schema):
    """A WebSocket ticket: for `/api/v1/ws?ticket=` only, refused as a bearer token by every API."""

    ticket: str = Field(description="Send as ?ticket= on the WebSocket handshake")
    expires_at: str = Field(description="When the ticket stops opening connections (UTC, ISO 8601)")
