"""The local platform's stand-in for the Knative Broker, routing by the cluster's own Triggers.

`publish()` returns at once; every Trigger whose filter matches gets its own delivery on a small
thread pool, retried with the Trigger's backoff and, when it finally fails, appended as one JSON
line to the dead-letter file. A subscriber signals "never deliverable" by raising EventRejected
(the consumer's 4xx), which is dead-lettered without retrying.

Delivery is at-least-once only while the process lives: events queued or in flight are held in
memory and are lost if the process dies. The cluster's Broker persists them; do not rely on this
one for durability.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudevents.http import CloudEvent

from rlarena.errors import EventRejected
from rlarena.platform.manifests import Trigger
from rlarena.private_files import make_private_dirs, open_private

log = logging.getLogger(__name__)

Subscriber = Callable[[CloudEvent], None]


class InProcessBroker:
    """A Publisher that fans events out to in-process subscribers by Trigger, with retries and dead letters."""

    def __init__(
        self,
        triggers: Sequence[Trigger],
        subscribers: Mapping[str, Subscriber],
        *,
        dead_letter_path: Path,
        max_workers: int = 4,
        sleep: Callable[[float], None] = time.sleep,
        max_backoff: float = 30.0,
        faults: random.Random | None = None,
    ) -> None:
        self._triggers = tuple(triggers)
        self._subscribers = dict(subscribers)
        self._dead_letter_path = dead_letter_path
        self._sleep = sleep
        self._max_backoff = max_backoff
        # LOCAL_BROKER_FAULTS=duplicate-shuffle (tests): every delivery twice, each after a random
        # delay, so consumers meet duplicates and any order, as a real Broker may give them.
        self._faults = faults
        self._executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="rlarena-broker")
        self._lock = threading.Lock()
        self._finished = threading.Condition(self._lock)
        self._dead_letter_lock = threading.Lock()
        # Sequence numbers of unfinished deliveries, so drain() can wait for exactly those queued before it.
        self._unfinished: set[int] = set()
        self._sequence = itertools.count(1)
        self._closed = False
        for trigger in self._triggers:
            if trigger.subscriber not in self._subscribers:
                log.warning(
                    "trigger %s: subscriber %r is not running locally; its events will be dead-lettered to %s",
                    trigger.name,
                    trigger.subscriber,
                    dead_letter_path,
                )

    def publish(self, event: CloudEvent) -> None:
        # Copy now, so a publisher that reuses or mutates its event cannot change what is delivered.
        snapshot = _copy(event)
        with self._lock:
            if self._closed:
                raise RuntimeError("the in-process broker is closed")
            matched = [trigger for trigger in self._triggers if trigger.matches(snapshot)]
            if not matched:
                log.debug("no trigger matches %s event %s", snapshot["type"], snapshot["id"])
                return
            copies = 2 if self._faults is not None else 1
            for trigger in matched:
                for _ in range(copies):
                    sequence = next(self._sequence)
                    self._unfinished.add(sequence)
                    delay = self._faults.uniform(0, 0.3) if self._faults is not None else 0.0
                    self._executor.submit(self._run, sequence, trigger, snapshot, delay)

    def pending(self) -> int:
        """Deliveries queued or in progress (retries included)."""
        with self._lock:
            return len(self._unfinished)

    def drain(self, timeout: float) -> bool:
        """Wait until every delivery queued before this call has finished; False if `timeout` ran out first."""
        with self._lock:
            mark = max(self._unfinished, default=0)
            return self._finished.wait_for(lambda: min(self._unfinished, default=mark + 1) > mark, timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Refuse new events, wait for those queued (up to `timeout`), stop the workers; True if all finished."""
        with self._lock:
            self._closed = True
            drained = self._finished.wait_for(lambda: not self._unfinished, timeout)
            left = len(self._unfinished)
        if not drained:
            log.warning("closing the in-process broker with %d deliveries unfinished; they may be lost", left)
        self._executor.shutdown(wait=drained)
        return drained

    def _run(self, sequence: int, trigger: Trigger, event: CloudEvent, delay: float = 0.0) -> None:
        try:
            if delay:
                self._sleep(delay)
            self._deliver(trigger, event)
        except Exception:  # a bug here must not leave drain() waiting forever
            log.exception("delivery of %s event %s for trigger %s crashed", event["type"], event["id"], trigger.name)
        finally:
            with self._lock:
                self._unfinished.discard(sequence)
                self._finished.notify_all()

    def _deliver(self, trigger: Trigger, event: CloudEvent) -> None:
        subscriber = self._subscribers.get(trigger.subscriber)
        if subscriber is None:
            self._dead_letter(trigger, event, 0, "NoSubscriber", f"no subscriber {trigger.subscriber!r} is running")
            return
        attempts = 0
        while True:
            attempts += 1
            try:
                subscriber(_copy(event))
                return
            except EventRejected as error:
                self._dead_letter(trigger, event, attempts, type(error).__name__, str(error))
                return
            except Exception as error:
                if attempts > trigger.retry:
                    self._dead_letter(trigger, event, attempts, type(error).__name__, str(error))
                    return
                delay = self._backoff(trigger, attempts - 1)
                log.info(
                    "trigger %s: %s event %s failed (%s), retry %d of %d in %.2fs",
                    trigger.name,
                    event["type"],
                    event["id"],
                    type(error).__name__,
                    attempts,
                    trigger.retry,
                    delay,
                )
                self._sleep(delay)

    def _backoff(self, trigger: Trigger, retry: int) -> float:
        """Seconds before retry number `retry` (0 for the first), as Knative spaces them, capped."""
        delay = trigger.backoff_delay.total_seconds()
        if trigger.backoff_policy == "linear":
            return float(min(delay * (retry + 1), self._max_backoff))
        return float(min(delay * 2**retry, self._max_backoff))

    def _dead_letter(self, trigger: Trigger, event: CloudEvent, attempts: int, error_type: str, message: str) -> None:
        record = {
            "deadLetteredAt": datetime.now(UTC).isoformat(),
            "trigger": trigger.name,
            "subscriber": trigger.subscriber,
            "attempts": attempts,
            "error": {"type": error_type, "message": message},
            "event": _event_record(event),
        }
        # Only the event's identity goes to the log; its data (and the error text) stay in the file.
        log.error(
            "trigger %s: %s event %s dead-lettered to %s after %d attempt(s) (%s)",
            trigger.name,
            event["type"],
            event["id"],
            self._dead_letter_path,
            attempts,
            error_type,
        )
        line = json.dumps(record, default=str, ensure_ascii=False)
        try:
            with self._dead_letter_lock:
                # Events carry users' data: the file is private (0600) to the platform's user.
                make_private_dirs(self._dead_letter_path.parent)
                fd = open_private(self._dead_letter_path, os.O_WRONLY | os.O_APPEND)
                with os.fdopen(fd, "a", encoding="utf-8") as file:
                    file.write(line + "\n")
        except OSError as error:
            log.error(
                "could not write to the dead-letter file %s (%s): event %s is lost",
                self._dead_letter_path,
                error.strerror or type(error).__name__,
                event["id"],
            )


def _copy(event: CloudEvent) -> CloudEvent:
    return CloudEvent(dict(event.get_attributes()), copy.deepcopy(event.get_data()))


def _event_record(event: CloudEvent) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": dict(event.get_attributes())}
    data = event.get_data()
    if isinstance(data, bytes | bytearray):
        try:
            record["data"] = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            record["data_base64"] = base64.b64encode(data).decode("ascii")
    else:
        record["data"] = data
    return record
