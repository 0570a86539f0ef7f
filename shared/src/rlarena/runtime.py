"""The process's one Platform, built on first use (not at import: cold start matters).

Shared by every process kind: the HTTP and event functions (`entrypoints/`), the relay and the
local platform. `settings()` reads the settings alone (and sets up logging), for what answers
before the platform's machinery is imported (`rlarena.http.deferred`: /health).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rlarena.bootstrap import Platform
    from rlarena.config import Settings

_lock = threading.RLock()
_settings: Settings | None = None
_platform: Platform | None = None


def settings() -> Settings:
    """The process's settings, read once; logging is configured the first time."""
    global _settings  # noqa: PLW0603 - the one per-process instance, guarded by the lock
    if _platform is not None:
        return _platform.settings
    if _settings is None:
        with _lock:
            if _settings is None:
                from rlarena.config import load_settings
                from rlarena.logs import configure_logging

                loaded = load_settings()
                configure_logging(loaded.log_level, structured=loaded.is_production)
                _settings = loaded
    return _settings


def platform() -> Platform:
    global _platform  # noqa: PLW0603 - the one per-process instance, guarded by the lock
    if _platform is None:
        with _lock:
            if _platform is None:
                from rlarena.bootstrap import bootstrap  # the database machinery: not before it is needed

                _platform = bootstrap(settings())
    return _platform


def install(instance: Platform | None) -> None:
    """Use this platform in this process (the local runner, tests); None forgets it."""
    global _platform, _settings  # noqa: PLW0603 - the one per-process instance, guarded by the lock
    with _lock:
        if _platform is not None and _platform is not instance:
            _platform.close()
        _platform = instance
        _settings = None
