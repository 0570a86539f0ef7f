"""TLS to PostgreSQL as DATABASE_URL's libpq `sslmode` says (`rlarena.database_tls`), with each
engine's TLS context built once.

pg8000's default (no `ssl_context`) asks the server for TLS on every new connection and, to be
ready for a yes, first builds `ssl.create_default_context()`: loading the system's CA bundle, ~20 ms
of CPU per connection on a small CPU (a cold start's first request, every pool refill and recycle),
for a context that then verifies nothing. Here the context is made once per engine, and the
platform sends the SSLRequest itself and hands pg8000 the finished socket (pg8000 then authenticates
over it, SCRAM with channel binding when it is TLS). A refusal or a failed handshake is pg8000's
InterfaceError ("communication error"), which the outage rules turn into a 503 with the cause in
the log, never a 500.

The TLS parameters stay in the engine's URL (an engine rebuilt from `engine.url` through
`make_engine` keeps the policy) and are taken out of what pg8000 receives at each connect. A unix
socket (`?unix_sock=`) never negotiates TLS (libpq does not either; the settings refuse a mode that
requires it there).
"""

from __future__ import annotations

import socket
import ssl
import struct
from typing import Any

from sqlalchemy import Engine, event

from rlarena.database_tls import TLS_PARAMETERS, TlsPolicy, context_for

# The SSLRequest message: its length (8) and the request code 1234.5679 (PostgreSQL protocol).
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)
# Connecting, asking for TLS and the handshake: bounded even when the URL sets no timeout, so a
# server that accepts and then says nothing cannot hold a worker's thread for ever.
CONNECT_TIMEOUT_S = 10.0


def install(engine: Engine, policy: TlsPolicy) -> None:
    """Connect `engine`'s new pg8000 connections under `policy`, with one context for all of them."""
    context = context_for(policy)

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, _record: Any, args: list[Any], params: dict[str, Any]) -> Any:
        for name in TLS_PARAMETERS:
            params.pop(name, None)
        _coerce(params)
        if context is None or params.get("unix_sock"):
            params["ssl_context"] = False
            return None  # SQLAlchemy calls pg8000's connect() with these parameters
        # pg8000's connect() takes no socket; its Connection does. The socket is ready (TLS or
        # plain), so pg8000 asks nothing more.
        sock = negotiated_socket(params, context, required=policy.mode != "prefer")
        try:
            return dialect.loaded_dbapi.Connection(*args, **params, sock=sock, ssl_context=False)
        except BaseException:
            sock.close()
            raise


def _coerce(params: dict[str, Any]) -> None:
    """URL query values arrive as text: pg8000's `timeout` is seconds, `tcp_keepalive` a flag."""
    if isinstance(params.get("timeout"), str):
        params["timeout"] = float(params["timeout"])
    if isinstance(params.get("tcp_keepalive"), str):
        params["tcp_keepalive"] = params["tcp_keepalive"].strip().lower() not in ("0", "false", "no", "off")


def negotiated_socket(params: dict[str, Any], context: ssl.SSLContext, *, required: bool) -> socket.socket:
    """A socket to the server, wrapped in TLS if the server accepts the SSLRequest (the certificate
    checked as `context` says), else plain unless `required`. Every failure is pg8000's own
    InterfaceError, as if pg8000 had connected: the outage rules (a 503) and the logs see it."""
    from pg8000.exceptions import InterfaceError

    host, port = params.get("host", "localhost"), int(params.get("port", 5432))
    timeout = params.get("timeout")
    try:
        sock = socket.create_connection((host, port), timeout or CONNECT_TIMEOUT_S, params.get("source_address"))
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
            sock = context.wrap_socket(sock, server_hostname=host)
            sock.settimeout(timeout)  # from here on, pg8000's own (None: it waits as long as it must)
            return sock
        if answer == b"N" and not required:
            sock.settimeout(timeout)
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
