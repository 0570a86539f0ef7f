"""The process's one Platform, built on first use (not at import: cold start matters).

Shared by every process kind: the HTTP and event functions (`entrypoints/`), the relay and the
local platform.
"""

from __future__ import annotations

import threading

from rlarena.bootstrap import Platform, bootstrap
from rlarena.config import load_settings
from rlarena.logs import configure_logging

_lock = threading.Lock()
_platform: Platform | None = None


def platform() -> Platform:
    global _platform  # noqa: PLW0603 - the one per-process instance, guarded by the lock
    if _platform is None:
        with _lock:
            if _platform is None:
                settings = load_settings()
                configure_logging(settings.log_level, structured=settings.is_production)
                _platform = bootstrap(settings)
    return _platform


def install(instance: Platform | None) -> None:
    """Use this platform in this process (the local runner, tests); None forgets it."""
    global _platform  # noqa: PLW0603 - the one per-process instance, guarded by the lock
    with _lock:
        if _platform is not None and _platform is not instance:
            _platform.close()
        _platform = instance
