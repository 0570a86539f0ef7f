"""Events in, messages out, each event once and never older news after newer.

Delivery is at least once and in any order (the local broker even delivers one Trigger's events on
several threads), so the router remembers recent event ids (a redelivery is dropped) and, per
submission or match, the time of the newest event relayed: an event older than that is stale
(`building` arriving after `active`) and is dropped rather than shown as a step backwards.
Both memories are bounded; an event without a readable `time` is never judged stale.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from cloudevents.http import CloudEvent

from rlarena.relay.lru import Lru
from rlarena.relay.messages import Directory, Outbound, messages_for, read, subject_of

log = logging.getLogger(__name__)

MEMORY = 8192


class Router:
    def __init__(self, directory: Directory, *, memory: int = MEMORY) -> None:
        self._directory = directory
        self._lock = threading.Lock()
        self._seen: Lru[tuple[str, str], bool] = Lru(memory)
        self._newest: Lru[str, datetime] = Lru(memory)

    def route(self, event: CloudEvent) -> list[Outbound]:
        """The messages for `event`; none for a duplicate or a stale event. Thread-safe.

        Raises EventRejected for an event the relay can never use, ServiceUnavailable when the
        database is down (the broker retries); nothing is remembered about an event that raised.
        """
        payload = read(event)
        key = (str(event["source"]), str(event["id"]))
        subject = subject_of(payload)
        when = _time_of(event)
        with self._lock:
            if not self._fresh(key, subject, when, event):
                return []
        messages = messages_for(payload, self._directory)  # may query the database: outside the lock
        with self._lock:
            # A twin delivered on another thread may have got here first.
            if not self._fresh(key, subject, when, event):
                return []
            self._seen.put(key, True)
            if when is not None:
                self._newest.put(subject, when)
        return messages

    def _fresh(self, key: tuple[str, str], subject: str, when: datetime | None, event: CloudEvent) -> bool:
        if key in self._seen:
            log.debug("dropping %s event %s: already relayed", event["type"], event["id"])
            return False
        newest = self._newest.get(subject)
        if when is not None and newest is not None and when < newest:
            log.debug("dropping %s event %s: %s has newer news", event["type"], event["id"], subject)
            return False
        return True


def _time_of(event: CloudEvent) -> datetime | None:
    value = event.get("time")
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
