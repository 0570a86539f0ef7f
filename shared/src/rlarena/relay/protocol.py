"""What relay and browser say to each other: close codes, channels, client commands, server messages.

Every message either way is a JSON text frame `{"type": ..., "payload": {...}}`. A client may
send `subscribe` / `unsubscribe` (with `channel`, at the top level or in `payload`) and `ping`;
anything else gets an `error` message and the connection stays open.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Literal

from rlarena.environments.registry import spec_of
from rlarena.errors import InvalidInput, RLArenaError, error_body

WS_PATH = "/api/v1/ws"
# Client commands are a few dozen bytes; anything this large is a mistake, answered with an error.
MAX_COMMAND_BYTES = 4096
# RFC 6455: a close frame's reason is at most 123 bytes of UTF-8.
MAX_CLOSE_REASON_BYTES = 123

UPGRADE_REQUIRED = {
    "error": f"{WS_PATH} is a WebSocket: connect with ws:// or wss:// (Upgrade: websocket)",
    "code": "upgrade_required",
}


class Close(IntEnum):
    """Close codes the relay uses; the reason beside each says what happened and what to do."""

    NORMAL = 1000
    RESTARTING = 1012  # sent by uvicorn on shutdown: reconnect
    TRY_AGAIN_LATER = 1013  # the relay holds as many connections as it may
    TOO_SLOW = 4008  # the client's outbox overflowed: reconnect and refetch
    UNAUTHENTICATED = 4401  # no, bad or expired token (the reason starts with the error code)
    TOO_MANY_CONNECTIONS = 4429  # this user already has as many connections as allowed


class ConnectionRefused(RLArenaError):
    """A connection the relay will not serve; sent to the client as a close code and reason."""

    code = "connection_refused"

    def __init__(self, close_code: Close, message: str) -> None:
        super().__init__(message)
        self.close_code = close_code


def close_reason(text: str) -> str:
    """`text` cut to what a close frame can carry, never splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= MAX_CLOSE_REASON_BYTES:
        return text
    return encoded[: MAX_CLOSE_REASON_BYTES - 3].decode("utf-8", errors="ignore") + "..."


# -- channels ------------------------------------------------------------------------------------

LEADERBOARD = "leaderboard"
AGENT = "agent"


def leaderboard_channel(environment_id: str) -> str:
    return f"{LEADERBOARD}:{environment_id}"


def agent_channel(agent_id: uuid.UUID) -> str:
    return f"{AGENT}:{agent_id}"


def parse_channel(value: object) -> str:
    """The canonical name of a public channel; InvalidInput saying what is allowed otherwise."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(
            "channel must be a string such as 'leaderboard:pong' or 'agent:<agentId>'", code="invalid_channel"
        )
    kind, _, key = value.partition(":")
    if kind == LEADERBOARD and key:
        return leaderboard_channel(spec_of(key).id)
    if kind == AGENT and key:
        try:
            return agent_channel(uuid.UUID(key))
        except ValueError:
            raise InvalidInput(
                f"agent channel needs an agent id (UUID), got {key[:64]!r}", code="invalid_channel"
            ) from None
    raise InvalidInput(
        f"unknown channel {value[:64]!r}: public channels are 'leaderboard:<environmentId>' and 'agent:<agentId>'",
        code="unknown_channel",
    )


# -- client commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    kind: Literal["subscribe", "unsubscribe", "ping"]
    channel: str = ""


def parse_command(text: str) -> Command:
    """A client's text frame as a command; InvalidInput (sent back as an error message) otherwise."""
    if len(text) > MAX_COMMAND_BYTES or len(text.encode("utf-8")) > MAX_COMMAND_BYTES:
        raise InvalidInput(f"message too large: commands are at most {MAX_COMMAND_BYTES} bytes", code="too_large")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise InvalidInput("message is not valid JSON", code="invalid_message") from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise InvalidInput('send a JSON object with a "type", e.g. {"type":"ping"}', code="invalid_message")
    kind = data["type"]
    if kind == "ping":
        return Command("ping")
    if kind in ("subscribe", "unsubscribe"):
        payload = data.get("payload")
        channel = data.get("channel", payload.get("channel") if isinstance(payload, dict) else None)
        return Command(kind, parse_channel(channel))
    raise InvalidInput(
        f"unknown message type {kind[:64]!r}: send subscribe, unsubscribe or ping", code="unknown_message_type"
    )


# -- server messages -----------------------------------------------------------------------------


def encode(kind: str, payload: dict[str, Any]) -> str:
    return json.dumps({"type": kind, "payload": payload}, ensure_ascii=False, separators=(",", ":"))


def error_message(error: RLArenaError) -> str:
    return encode("error", error_body(error))


def connected_message(user_id: uuid.UUID | None) -> str:
    return encode("connected", {"userId": str(user_id) if user_id else None, "anonymous": user_id is None})
