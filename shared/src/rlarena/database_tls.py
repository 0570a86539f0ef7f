"""What DATABASE_URL's TLS parameters (libpq's `sslmode` and `sslrootcert`) ask for, and the TLS
context that honours them.

Pure (no SQLAlchemy): the settings check a URL with it at start-up, `rlarena.adapters.db.pg_tls`
connects by it. As libpq: `prefer` (the default: TLS if the server offers it, unverified),
`disable`, `require` (TLS or nothing, unverified), `verify-ca` (the certificate signed by
`sslrootcert`'s CA) and `verify-full` (that, and the certificate names the host; with
`sslrootcert=system`, the system's CAs). Unlike libpq, what the platform cannot honour is refused
with what to write instead, never ignored: `verify-ca` without a CA file (any publicly trusted
certificate for any name would pass), TLS required over a unix socket (the server never offers it
there), and libpq parameters pg8000 has no equivalent for.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from rlarena.errors import ConfigurationError

MODES = ("disable", "prefer", "require", "verify-ca", "verify-full")
DEFAULT_MODE = "prefer"
VERIFYING = ("verify-ca", "verify-full")
SYSTEM_CAS = "system"
# The URL parameters this module reads: the engine takes them out before pg8000 sees the rest.
TLS_PARAMETERS = ("sslmode", "sslrootcert")
# libpq parameters pg8000 does not take (it would fail at the first connection with a TypeError).
_NOT_SUPPORTED = {
    "sslcert": "client certificates are not supported: authenticate with a password",
    "sslkey": "client certificates are not supported: authenticate with a password",
    "sslpassword": "client certificates are not supported: authenticate with a password",
    "sslcrl": "certificate revocation lists are not supported: remove it",
    "sslcrldir": "certificate revocation lists are not supported: remove it",
    "sslnegotiation": "only the standard TLS negotiation is supported: remove it",
    "channel_binding": "remove it: SCRAM channel binding is used whenever the connection is TLS",
    "connect_timeout": "use timeout=SECONDS (pg8000's name; it bounds every socket wait)",
    "target_session_attrs": "name one server: remove it",
    "gssencmode": "GSSAPI is not supported: remove it",
    "sslsni": "the host is always sent: remove it",
}


@dataclass(frozen=True)
class TlsPolicy:
    mode: str = DEFAULT_MODE
    root_cert: str | None = None

    @property
    def verifies(self) -> bool:
        return self.mode in VERIFYING


def policy_from(query: Mapping[str, str | tuple[str, ...]]) -> TlsPolicy:
    """The policy a URL's query names. A value the platform cannot honour is a ConfigurationError
    saying what to write instead."""
    for name, advice in _NOT_SUPPORTED.items():
        if name in query:
            raise ConfigurationError(f"DATABASE_URL has {name}, which the database driver does not take: {advice}")
    mode = _single(query.get("sslmode", DEFAULT_MODE), "sslmode")
    if mode not in MODES:
        raise ConfigurationError(f"DATABASE_URL has sslmode={mode!r}: use one of {', '.join(MODES)}")
    if "unix_sock" in query and mode in ("require", *VERIFYING):
        raise ConfigurationError(
            f"DATABASE_URL connects through unix_sock with sslmode={mode}: PostgreSQL never offers TLS "
            "on a unix socket; use sslmode=disable, or connect by host and port"
        )
    root_cert = query.get("sslrootcert")
    if root_cert is None:
        if mode == "verify-ca":
            raise ConfigurationError(
                "DATABASE_URL has sslmode=verify-ca but no sslrootcert: give the CA's PEM file "
                "(sslrootcert=/path/ca.pem), or use sslmode=verify-full, which also checks the host name"
            )
        return TlsPolicy(mode)
    root_cert = _single(root_cert, "sslrootcert")
    if mode not in VERIFYING:
        raise ConfigurationError(
            "DATABASE_URL has sslrootcert but no verification: add sslmode=verify-full (or verify-ca)"
        )
    if root_cert == SYSTEM_CAS:
        if mode != "verify-full":
            raise ConfigurationError(
                "DATABASE_URL has sslrootcert=system with verify-ca: any publicly trusted certificate "
                "would pass; use sslmode=verify-full"
            )
        return TlsPolicy(mode)  # the system's CAs: create_default_context's own
    if not Path(root_cert).is_file():
        raise ConfigurationError(
            f"DATABASE_URL's sslrootcert {root_cert!r} is not a file: give the CA's PEM file "
            "(or sslrootcert=system with verify-full)"
        )
    return TlsPolicy(mode, root_cert)


def query_of(url: str) -> dict[str, str | tuple[str, ...]]:
    """A URL's query parameters as SQLAlchemy's URL holds them (so the settings check what the
    engine will use): one value as text, several as a tuple, blank ones left out."""
    from urllib.parse import parse_qs, urlsplit

    parsed = parse_qs(urlsplit(url).query)
    return {name: values[0] if len(values) == 1 else tuple(values) for name, values in parsed.items()}


def checked_at_start_up(query: Mapping[str, str | tuple[str, ...]]) -> TlsPolicy:
    """`policy_from`, plus what would otherwise fail only at the first connection: the CA file
    read as PEM, and pg8000's `timeout` a number of seconds."""
    policy = policy_from(query)
    if policy.root_cert is not None:
        context_for(policy)
    if "timeout" in query:
        timeout = _single(query["timeout"], "timeout")
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = 0.0
        if not seconds > 0:
            raise ConfigurationError(f"DATABASE_URL has timeout={timeout!r}: give a number of seconds above 0")
    return policy


def _single(value: str | tuple[str, ...], name: str) -> str:
    if isinstance(value, tuple):
        raise ConfigurationError(f"DATABASE_URL has {name} more than once: give it once")
    return value


def context_for(policy: TlsPolicy) -> ssl.SSLContext | None:
    """The one TLS context of an engine under `policy` (None: no TLS at all). The CA file is read
    here, once: a new CA needs the process restarted."""
    if policy.mode == "disable":
        return None
    if not policy.verifies:
        # Unverified, as pg8000's own and libpq's: no CA bundle to load.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    try:
        context = ssl.create_default_context(cafile=policy.root_cert)
    except (OSError, ssl.SSLError) as error:
        raise ConfigurationError(
            f"DATABASE_URL's sslrootcert could not be read as PEM certificates: {error.strerror or error}"
        ) from None
    context.check_hostname = policy.mode == "verify-full"
    return context
