"""TLS to PostgreSQL as libpq's `sslmode` says, with each engine's TLS context built once.

pg8000's default (no `ssl_context`) asks the server for TLS on every new connection and, to be
ready for a yes, first builds `ssl.create_default_context()`: loading the system's CA bundle, ~20 ms
of CPU per connection on a small CPU (a cold start's first request, every pool refill and recycle),
for a context that then verifies nothing. DATABASE_URL takes libpq's parameters instead, and the
context is made once per engine:

- `sslmode=prefer` (the default, as libpq and pg8000): TLS if the server offers it, unverified,
  else plain.
- `sslmode=disable`: never TLS. `require`: TLS or no connection, unverified.
- `verify-ca` / `verify-full`: TLS with the server's certificate checked against `sslrootcert` (a
  PEM file; the system's CAs if absent), and for `verify-full` its name against the URL's host.

The platform sends the SSLRequest itself and hands pg8000 the finished socket, so a refusal or a
failed handshake is pg8000's InterfaceError ("communication error"), which the outage rules turn
into a 503 with the cause in the log, never a 500.

A unix socket (`?unix_sock=`) never negotiates TLS under `prefer` (libpq does not either).
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL

from rlarena.database_tls import TlsPolicy, policy_from
from rlarena.errors import ConfigurationError

# The SSLRequest message: its length (8) and the request code 1234.5679 (PostgreSQL protocol).
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def split_tls(url: URL) -> tuple[URL, TlsPolicy]:
    """The URL without its `sslmode` and `sslrootcert` (pg8000 would refuse them), and the policy
    they name."""
    query = dict(url.query)
    policy = policy_from(query)
    query.pop("sslmode", None)
    query.pop("sslrootcert", None)
    return url.set(query=query), policy


def context_for(policy: TlsPolicy) -> ssl.SSLContext | None:
    """The one TLS context of an engine under `policy` (None: no TLS at all)."""
    if policy.mode == "disable":
        return None
    if policy.mode in ("prefer", "require"):
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


def install(engine: Engine, policy: TlsPolicy) -> None:
    """Connect `engine`'s new pg8000 connections under `policy`, with one context for all of them."""
    context = context_for(policy)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, args: list[Any], params: dict[str, Any]) -> Any:
        if context is None or (policy.mode == "prefer" and params.get("unix_sock")):
            params["ssl_context"] = False
            return None  # SQLAlchemy calls pg8000's connect() with these parameters
        if params.get("unix_sock"):
            params["ssl_context"] = context  # pg8000's own negotiation, over the unix socket
            return None
        # pg8000's connect() takes no socket; its Connection does. The socket is ready (TLS or
        # plain), so pg8000 asks nothing more.
        sock = negotiated_socket(params, context, required=policy.mode != "prefer")
        try:
            return dialect.loaded_dbapi.Connection(*args, **params, sock=sock, ssl_context=False)
        except BaseException:
            sock.close()
            raise


def negotiated_socket(params: dict[str, Any], context: ssl.SSLContext, *, required: bool) -> socket.socket:
    """A socket to the server, wrapped in TLS if the server accepts the SSLRequest (the certificate
    checked as `context` says), else plain unless `required`. Every failure is pg8000's own
    InterfaceError, as if pg8000 had connected: the outage rules (a 503) and the logs see it."""
    from pg8000.exceptions import InterfaceError

    host, port = params.get("host", "localhost"), int(params.get("port", 5432))
    timeout = params.get("timeout")
    try:
        sock = socket.create_connection((host, port), timeout, params.get("source_address"))
    except OSError as error:
        raise InterfaceError(
            f"Can't create a connection to host {host} and port {port} (timeout is {timeout})."
        ) from error
    try:
        if params.get("tcp_keepalive", True):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.sendall(_SSL_REQUEST)
        answer = sock.recv(1)
        if answer == b"S":
            return context.wrap_socket(sock, server_hostname=host)
        if answer == b"N" and not required:
            return sock
        if answer == b"N":
            raise InterfaceError("communication error: the server refuses TLS, which sslmode requires")
        raise InterfaceError(f"communication error: the server answered the SSLRequest with {answer!r}")
    except ssl.SSLError as error:
        sock.close()
        raise InterfaceError(f"communication error: TLS with the server failed: {error}") from error
    except OSError as error:
        sock.close()
        raise InterfaceError("communication error while asking the server for TLS") from error
    except BaseException:
        sock.close()
        raise
