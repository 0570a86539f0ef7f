"""The local platform's outbox relay: publishes what the outbox holds, every second, until stopped.

On Knative the relay runs after each commit and on every PingSource tick; the local platform also
runs it on this thread, so an event whose publication failed (the broker refused it, the process was
stopping) goes out within a second of the broker taking events again, and once more at shutdown.
"""

from __future__ import annotations

import logging
import threading

from rlarena.adapters.db.outbox import OutboxRelay

log = logging.getLogger(__name__)


class OutboxPump:
    def __init__(self, relay: OutboxRelay, *, interval: float = 1.0) -> None:
        self._relay = relay
        self._interval = interval
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="rlarena-outbox", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread, then publish once more whatever is due (the last chance before exit)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.pump()

    def pump(self) -> int:
        try:
            return self._relay.publish_due().published
        except Exception:  # the database is away: the rows wait for the next round
            log.warning("outbox: could not read the outbox; retrying", exc_info=True)
            return 0

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            self.pump()
