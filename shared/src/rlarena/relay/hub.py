"""Connections, who they belong to, what they listen to, and their bounded outboxes.

The hub lives on the event loop and never awaits: `publish` encodes a message once and appends it
to each recipient's outbox, which that connection's own writer drains. A connection whose outbox
is full is dropped on the spot (close code 4008), so one slow reader never holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from rlarena.errors import InvalidInput
from rlarena.relay.messages import Outbound
from rlarena.relay.protocol import Close, ConnectionRefused

log = logging.getLogger(__name__)

MAX_CHANNELS = 50

K = TypeVar("K")


class Client:
    """One connection as the hub sees it. Slotted and small: a relay holds thousands."""

    __slots__ = ("_capacity", "_outbox", "_waiter", "channels", "kicked", "on_kick", "user_id")

    def __init__(self, user_id: uuid.UUID | None, capacity: int) -> None:
        self.user_id = user_id
        self.channels: set[str] = set()
        self.kicked: tuple[Close, str] | None = None
        self.on_kick: Callable[[], None] | None = None
        self._capacity = capacity
        self._outbox: deque[str] = deque()
        self._waiter: asyncio.Future[None] | None = None

    @property
    def pending(self) -> int:
        return len(self._outbox)

    def offer(self, text: str) -> bool:
        """Queue `text` for the writer; False, with nothing queued, when the outbox is full."""
        if len(self._outbox) >= self._capacity:
            return False
        self._outbox.append(text)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    async def next(self) -> str:
        """The oldest queued message, waiting for one if need be."""
        while not self._outbox:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._outbox.popleft()

    def kick(self, code: Close, reason: str) -> None:
        """Stop serving this connection: forget what is queued and tell its session to close."""
        if self.kicked is not None:
            return
        self.kicked = (code, reason)
        self._outbox.clear()
        if self.on_kick is not None:
            self.on_kick()


class Hub:
    def __init__(
        self, *, queue_size: int, max_connections: int, max_per_user: int, max_channels: int = MAX_CHANNELS
    ) -> None:
        self._queue_size = queue_size
        self._max_connections = max_connections
        self._max_per_user = max_per_user
        self._max_channels = max_channels
        self._clients: set[Client] = set()
        self._by_user: dict[uuid.UUID, set[Client]] = {}
        self._by_channel: dict[str, set[Client]] = {}

    @property
    def connections(self) -> int:
        return len(self._clients)

    @property
    def users(self) -> int:
        return len(self._by_user)

    def subscribers(self, channel: str) -> int:
        return len(self._by_channel.get(channel, ()))

    def admit(self, user_id: uuid.UUID | None) -> Client:
        """A new connection for `user_id` (None: anonymous); ConnectionRefused past the limits."""
        if len(self._clients) >= self._max_connections:
            raise ConnectionRefused(Close.TRY_AGAIN_LATER, "the relay is at its connection limit: try again later")
        if user_id is not None and len(self._by_user.get(user_id, ())) >= self._max_per_user:
            raise ConnectionRefused(
                Close.TOO_MANY_CONNECTIONS,
                f"this user already has {self._max_per_user} connections: close one (another tab?) first",
            )
        client = Client(user_id, self._queue_size)
        self._clients.add(client)
        if user_id is not None:
            self._by_user.setdefault(user_id, set()).add(client)
        return client

    def remove(self, client: Client) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        if client.user_id is not None:
            _discard(self._by_user, client.user_id, client)
        for channel in client.channels:
            _discard(self._by_channel, channel, client)
        client.channels.clear()

    def subscribe(self, client: Client, channel: str) -> None:
        if client not in self._clients or channel in client.channels:
            return
        if len(client.channels) >= self._max_channels:
            raise InvalidInput(
                f"at most {self._max_channels} subscriptions per connection: unsubscribe from one first",
                code="too_many_subscriptions",
            )
        client.channels.add(channel)
        self._by_channel.setdefault(channel, set()).add(client)

    def unsubscribe(self, client: Client, channel: str) -> None:
        if channel in client.channels:
            client.channels.discard(channel)
            _discard(self._by_channel, channel, client)

    def send(self, client: Client, text: str) -> None:
        """A message for one connection (a reply to its command)."""
        if client in self._clients and not client.offer(text):
            self._drop(client)

    def publish(self, message: Outbound) -> int:
        """Queue `message` for every connection of its users and every subscriber of its channels, once each."""
        targets: set[Client] = set()
        for user_id in message.users:
            targets.update(self._by_user.get(user_id, ()))
        for channel in message.channels:
            targets.update(self._by_channel.get(channel, ()))
        if not targets:
            return 0
        text = message.encode()
        for client in targets:
            if not client.offer(text):
                self._drop(client)
        return len(targets)

    def kick_all(self, code: Close, reason: str) -> None:
        for client in list(self._clients):
            self.remove(client)
            client.kick(code, reason)

    def _drop(self, client: Client) -> None:
        self.remove(client)
        log.warning("dropping a connection of user %s: %d messages waiting", client.user_id, client.pending)
        client.kick(Close.TOO_SLOW, f"too slow: {client.pending} messages were waiting; reconnect and refetch")


def _discard(index: dict[K, set[Client]], key: K, client: Client) -> None:
    members = index.get(key)
    if members is None:
        return
    members.discard(client)
    if not members:
        del index[key]
