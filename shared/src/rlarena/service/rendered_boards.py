"""Leaderboards rendered once per change: each process keeps the JSON bytes of the pages it
served, under the leaderboard stamp they were read at, and serves them while the stamp holds.

The stamp changes in the very transaction that changes a board (database triggers), and a page is
stored under a stamp read before the page itself, so a stored page is never older than its stamp:
a reader sees a committed change at once, on every replica.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

Stamp = tuple[tuple[str, int], ...]


class RenderedBoards:
    """A bounded, thread-safe store of rendered pages: (page key, stamp) -> bytes."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._pages: OrderedDict[Hashable, tuple[Stamp, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, stamp: Stamp) -> bytes | None:
        """The page rendered at exactly `stamp`, or None."""
        with self._lock:
            found = self._pages.get(key)
            if found is None or found[0] != stamp:
                return None
            self._pages.move_to_end(key)
            return found[1]

    def put(self, key: Hashable, stamp: Stamp, body: bytes) -> None:
        with self._lock:
            self._pages[key] = (stamp, body)
            self._pages.move_to_end(key)
            while len(self._pages) > self._capacity:
                self._pages.popitem(last=False)
