"""`POST /api/v1/ws/ticket` on the relay's HttpApi (the local platform's gateway, functions-framework)."""

from __future__ import annotations

from rlarena.http.api import Context, HttpApi, Reply
from rlarena.http.operation import Ref
from rlarena.relay.tickets import TICKET_PATH, ticket_answer


def add_ticket_route(api: HttpApi) -> None:
    @api.route(
        TICKET_PATH,
        "POST",
        summary="A ticket to open the WebSocket with",
        description="A short-lived ticket (about a minute) for the caller to open /api/v1/ws with "
        "(`?ticket=`), so a web page never holds the bearer token. Refused as a bearer token by every API.",
        tags=("live",),
        auth="bearer",
        responses={201: Ref("rlarena.relay.ticket_schema:WsTicket")},
    )
    def create_ws_ticket(ctx: Context) -> Reply:
        """A ticket for the caller to open the WebSocket with (`/api/v1/ws?ticket=`), valid for about a minute."""
        return Reply(ticket_answer(ctx.platform.tokens, ctx.user_id()), 201)
