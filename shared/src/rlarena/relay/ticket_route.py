"""`POST /api/v1/ws/ticket` on the relay's HttpApi (the local platform's gateway, functions-framework)."""

from __future__ import annotations

from rlarena.http.api import Context, HttpApi, Reply
from rlarena.relay.tickets import TICKET_PATH, ticket_answer


def add_ticket_route(api: HttpApi) -> None:
    @api.route(TICKET_PATH, "POST")
    def create_ws_ticket(ctx: Context) -> Reply:
        """A ticket for the caller to open the WebSocket with (`/api/v1/ws?ticket=`), valid for about a minute."""
        return Reply(ticket_answer(ctx.platform.tokens, ctx.user_id()), 201)
