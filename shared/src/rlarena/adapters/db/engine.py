"""Engines with small pools (scale-to-zero means many pods) and no connection until first use."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def normalise_url(url: str) -> str:
    """Accept the old backend's postgres:// URLs; PostgreSQL always goes through pg8000."""
    parsed = make_url(url)
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+pg8000")
    return parsed.render_as_string(hide_password=False)


TIMESTAMPTZ_OID = 1184


def make_engine(url: str, *, pool_size: int = 2, max_overflow: int = 2) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=300,
        pool_timeout=10,
    )
    if engine.dialect.driver == "pg8000":
        event.listen(engine, "connect", _fast_timestamps)
    return engine


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

        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
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
