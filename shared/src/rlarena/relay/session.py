"""One WebSocket connection: a reader for the client's commands, a writer for its outbox.

The reader runs in the connection's own task; the writer is a second task and the only one that
sends, so messages go out in the order they were queued. When the hub drops the connection the
writer is cancelled (it may be stuck sending to a peer that stopped reading), sends the close
frame if the peer lets it within CLOSE_TIMEOUT, then stops the reader. Dead peers are found by
the server's protocol pings (uvicorn's ws_ping_interval and ws_ping_timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from starlette.websockets import WebSocket

from rlarena.errors import InvalidInput, RLArenaError
from rlarena.relay.hub import Client, Hub
from rlarena.relay.protocol import close_reason, connected_message, encode, error_message, parse_command

log = logging.getLogger(__name__)

CLOSE_TIMEOUT = 5.0


class Session:
    def __init__(self, websocket: WebSocket, hub: Hub, client: Client) -> None:
        self._websocket = websocket
        self._hub = hub
        self._client = client
        self._reader: asyncio.Task[object] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._finished = False

    async def run(self) -> None:
        """Serve an accepted connection until the peer leaves or the hub drops it."""
        client = self._client
        self._reader = asyncio.current_task()
        self._writer = asyncio.create_task(self._write())
        client.on_kick = self._stop_writer
        self._hub.send(client, connected_message(client.user_id))
        try:
            await self._read()
        except asyncio.CancelledError:
            if client.kicked is None or self._reader is None:
                raise
            self._reader.uncancel()  # stopped by our own writer, after closing: a normal end
        finally:
            self._finished = True
            self._hub.remove(client)
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    async def _read(self) -> None:
        while True:
            message = await self._websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                self._reply_error(InvalidInput('send JSON text frames such as {"type":"ping"}', code="invalid_message"))
            else:
                self._handle(text)

    def _handle(self, text: str) -> None:
        client = self._client
        try:
            command = parse_command(text)
            if command.kind == "subscribe":
                self._hub.subscribe(client, command.channel)
                self._hub.send(client, encode("subscribed", {"channel": command.channel}))
            elif command.kind == "unsubscribe":
                self._hub.unsubscribe(client, command.channel)
                self._hub.send(client, encode("unsubscribed", {"channel": command.channel}))
            else:
                self._hub.send(client, encode("pong", {}))
        except RLArenaError as error:
            self._reply_error(error)

    def _reply_error(self, error: RLArenaError) -> None:
        self._hub.send(self._client, error_message(error))

    def _stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()

    async def _write(self) -> None:
        client, websocket = self._client, self._websocket
        try:
            while True:
                text = await client.next()
                await websocket.send_text(text)
        except asyncio.CancelledError:
            if client.kicked is None:
                raise
            await self._close(*client.kicked)
        except Exception as error:  # the peer went away mid-send; the reader sees the disconnect
            log.debug("send to a connection of user %s failed: %s", client.user_id, type(error).__name__)

    async def _close(self, code: int, reason: str) -> None:
        # A peer that stopped reading may never take the close frame: give up after CLOSE_TIMEOUT.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._websocket.close(code, close_reason(reason)), CLOSE_TIMEOUT)
        if not self._finished and self._reader is not None:
            self._reader.cancel()
