"""What DATABASE_URL's TLS parameters (libpq's `sslmode` and `sslrootcert`) ask for.

Pure: the settings check them at start-up, `rlarena.adapters.db.pg_tls` connects by them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rlarena.errors import ConfigurationError

MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_MODE = "prefer"


@dataclass(frozen=True)
class TlsPolicy:
    mode: str = DEFAULT_MODE
    root_cert: str | None = None


def policy_from(query: Mapping[str, str | tuple[str, ...]]) -> TlsPolicy:
    """The policy a URL's query names. A value the platform cannot honour is a ConfigurationError
    saying what to write instead (the settings check it at start-up)."""
    mode = _single(query.get("sslmode", DEFAULT_MODE), "sslmode")
    root_cert = query.get("sslrootcert")
    if mode not in MODES:
        raise ConfigurationError(f"DATABASE_URL has sslmode={mode!r}: use one of {', '.join(MODES)}")
    if root_cert is None:
        return TlsPolicy(mode)
    root_cert = _single(root_cert, "sslrootcert")
    if mode not in ("verify-ca", "verify-full"):
        raise ConfigurationError(
            "DATABASE_URL has sslrootcert but no verification: add sslmode=verify-full (or verify-ca)"
        )
    if not Path(root_cert).is_file():
        raise ConfigurationError(f"DATABASE_URL's sslrootcert {root_cert!r} is not a file: give the CA's PEM file")
    return TlsPolicy(mode, root_cert)


def _single(value: str | tuple[str, ...], name: str) -> str:
    if isinstance(value, tuple):
        raise ConfigurationError(f"DATABASE_URL has {name} more than once: give it once")
    return value
