"""The relay's plain-HTTP side as an HttpApi: what functions-framework and the local router serve.

The WebSocket itself needs the ASGI app (`rlarena.relay.app`); a GET without the upgrade reaching
the relay answers 426 saying so, and /health answers like every function's.
"""

from __future__ import annotations

from rlarena import runtime
from rlarena.http.api import Context, HttpApi, Reply
from rlarena.http.health import add_health
from rlarena.http.operation import schemas
from rlarena.http.self_description import add_openapi
from rlarena.relay.protocol import UPGRADE_REQUIRED, WS_PATH
from rlarena.relay.ticket_route import add_ticket_route

api = HttpApi("ws-relay", runtime.platform)
add_health(api)
add_openapi(api)
add_ticket_route(api)

model = schemas("base")


@api.route(
    WS_PATH,
    "GET",
    summary="Live updates over a WebSocket",
    description="Connect with ws:// or wss:// and `?ticket=` (POST /api/v1/ws/ticket) or a bearer token, then "
    "subscribe to channels (leaderboard:<environment>, match:<id>, agent:<id>, user). A plain GET "
    "without the upgrade answers 426.",
    tags=("live",),
    database=False,
    responses={101: None, 426: model("ErrorBody")},
    headers={426: {"Upgrade": "websocket"}},
)
def upgrade_required(ctx: Context) -> Reply:
    return Reply(dict(UPGRADE_REQUIRED), 426, {"Upgrade": "websocket"})
