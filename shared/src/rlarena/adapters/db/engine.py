"""Engines with small pools (scale-to-zero means many pods) and no connection until first use."""

from __future__ import annotations

import functools
import logging
import socket
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from rlarena.adapters.db import pg8000_pipeline, pg_tls
from rlarena.database_tls import TlsPolicy, policy_from

log = logging.getLogger(__name__)


def normalise_url(url: str) -> str:
    """Accept the old backend's postgres:// URLs; PostgreSQL always goes through pg8000."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+pg8000")
    return parsed.render_as_string(hide_password=False)


TIMESTAMPTZ_OID = 1184


def make_engine(url: str, *, pool_size: int = 2, max_overflow: int = 2, single_statements: bool = False) -> Engine:
    """`single_statements`: autocommit connections without pre-ping, for callers that run one
    statement at a time and retry a dropped connection: one round trip per statement, not four
    (pre-ping, BEGIN, the statement, ROLLBACK). PostgreSQL only."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    lean: dict[str, Any] = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None} if single_statements else {}
    parsed = make_url(url)
    tls = policy_from(parsed.query) if parsed.get_backend_name() == "postgresql" else TlsPolicy()
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=not single_statements,
        **lean,
        pool_recycle=300,
        pool_timeout=10,
    )
    if engine.dialect.driver == "pg8000":
        pg_tls.install(engine, tls)
        event.listen(engine, "connect", _fast_timestamps)
        event.listen(engine, "connect", _no_delay)
        _remember_converted_statements()
        pg8000_pipeline.install()
    return engine


_POSITIONAL = ("format", "qmark", "numeric")


def _remember_converted_statements() -> None:
    """Rewrite each SQL statement's placeholders once, not on every execution.

    pg8000 turns `%s` placeholders into `$1..$n` by scanning the statement character by character
    in Python on every execute: the largest single cost in the profile of a rating update. The
    result depends only on the paramstyle and the statement text (SQLAlchemy uses the positional
    "format" style, where the values pass through unchanged), so it is cached per statement.
    Other styles keep pg8000's own code.
    """
    from pg8000 import dbapi, legacy

    original = dbapi.convert_paramstyle
    if getattr(legacy.convert_paramstyle, "remembers", False):
        return

    @functools.lru_cache(maxsize=2048)
    def converted(style: str, query: str) -> str:
        statement, _ = original(style, query, ())
        return str(statement)

    def convert(style: str, query: str, args: Any) -> tuple[str, Any]:
        if style in _POSITIONAL and not isinstance(args, dict):
            return converted(style, query), args
        return original(style, query, args)  # type: ignore[no-any-return]

    convert.remembers = True  # type: ignore[attr-defined]
    legacy.convert_paramstyle = convert


def _no_delay(dbapi_connection: Any, _record: Any) -> None:
    # pg8000 leaves Nagle's algorithm on: a message it writes in two parts (any statement with a
    # few hundred parameters) waits for the server's delayed ACK, ~40 ms, before the second part
    # leaves. libpq turns it off too.
    sock = getattr(dbapi_connection, "_usock", None)
    if isinstance(sock, socket.socket) and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _fast_timestamps(dbapi_connection: Any, _record: Any) -> None:
    # pg8000 parses timestamptz with strptime (~11 us each, a quarter of a leaderboard request's
    # CPU); fromisoformat reads PostgreSQL's output ~70x faster. Anything else falls back.
    from pg8000.converters import timestamptz_in

    def parse(text: str) -> Any:
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return timestamptz_in(text)

    dbapi_connection.register_in_adapter(TIMESTAMPTZ_OID, parse)


def _sqlite_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:":
        from pathlib import Path

        from rlarena.private_files import create_private_file

        # Users' emails and password hashes: 0600 from the start. SQLite gives the -wal and -shm
        # files the database's own mode, so creating it here makes them private too.
        try:
            create_private_file(Path(parsed.database))
        except PermissionError as error:  # someone else's file: SQLite says whether it can open it
            log.warning("could not make the database %s private: %s", parsed.database, error.strerror)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        # Foreign keys are off by default in SQLite; WAL lets readers run beside the one writer.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # Let SQLAlchemy issue BEGIN itself so writes take the lock up front (BEGIN IMMEDIATE below).
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # One writer at a time, decided at BEGIN: no deadlocked read-then-write upgrades.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
