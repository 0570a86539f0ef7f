"""Cold start: the cyclic garbage collector held off while a fresh process imports its machinery.

Loading the settings and importing an API create a few hundred thousand objects that live as long
as the process (modules, classes, SQLAlchemy's tables and mappers, pydantic's validators). The
collector, run every 700 allocations, traverses them again and again while they are being made:
about 60 ms of a function's ~0.4 s first request on a 2-vCPU VM (bench/cold_start.py). Inside
`paused_collector()` it does not run; at the end, what the import made is frozen (`gc.freeze`:
moved to the permanent generation, never traversed again, as CPython's docs advise for state
built at start-up) and the collector runs again.

Only in a process that has not loaded the database machinery yet (a function's worker before its
first request, where nothing else has piled up): elsewhere (the test suite, the local platform)
it does nothing, since a freeze also keeps any cyclic garbage pending at that moment.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Loaded by every API that reads the database: once it is in, the process is no longer cold.
_WARM_MARKER = "sqlalchemy"

_lock = threading.Lock()
_holders = 0  # threads inside paused_collector() that paused it (or joined a pause under way)


@contextmanager
def paused_collector(first_import_of: str | None = None) -> Iterator[None]:
    """No cyclic collection inside (when the process is cold); the objects made inside frozen at the end.

    With `first_import_of`, only while that module is not imported yet: an event target's handler
    is imported on every event, and only the first one builds anything."""
    if (first_import_of is not None and first_import_of in sys.modules) or not _pause():
        yield
        return
    try:
        yield
    finally:
        _resume()


def _pause() -> bool:
    global _holders  # noqa: PLW0603 - one collector per process, guarded by the lock
    with _lock:
        if _holders == 0:
            if _WARM_MARKER in sys.modules or not gc.isenabled():  # warm, or someone else's pause
                return False
            gc.disable()
        _holders += 1
        return True


def _resume() -> None:
    global _holders  # noqa: PLW0603 - one collector per process, guarded by the lock
    with _lock:
        _holders -= 1
        if _holders == 0:
            gc.freeze()
            gc.enable()
