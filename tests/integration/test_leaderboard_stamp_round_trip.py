"""The stamp read that starts every leaderboard request is one round trip to PostgreSQL (one
simple query), and no request input reaches its SQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pg8000.core
import pytest
from sqlalchemy import text

from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.leaderboard_stamps import StampReader
from tests.support.databases import PostgresDatabases


def stamped(url: str) -> Any:
    """An engine on a database whose boards have a stamp each (as after their first changes)."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    with engine.begin() as connection:
        connection.execute(
            text("INSERT INTO leaderboard_stamps (environment_id, version) VALUES ('pong', 7), ('tic-tac-toe', 11)")
        )
    return engine


def test_a_stamp_read_is_one_message_and_one_answer_on_postgresql(
    postgres_databases: PostgresDatabases, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres_databases.create(tmp_path)
    engine = stamped(url)
    reader = StampReader(engine, pool_size=2, max_overflow=0)
    try:
        every = reader.read(None)  # connects (the handshake is not the read's)
        assert every == (("pong", 7), ("tic-tac-toe", 11))
        sent: list[Any] = []
        flush = pg8000.core._flush

        def counted(sock: Any) -> None:
            sent.append(sock)
            flush(sock)

        monkeypatch.setattr(pg8000.core, "_flush", counted)
        one = reader.read("tic-tac-toe")
        assert len(sent) == 1  # one write: the Query; the answer ends with ReadyForQuery
        assert one == (("tic-tac-toe", 11),)
        assert reader.read(None) == every
        assert len(sent) == 2
    finally:
        reader.close()
        engine.dispose()


def test_an_unknown_or_hostile_environment_reads_no_stamp_and_touches_nothing_on_postgresql(
    postgres_databases: PostgresDatabases, tmp_path: Path
) -> None:
    url = postgres_databases.create(tmp_path)
    engine = stamped(url)
    reader = StampReader(engine, pool_size=1, max_overflow=0)
    try:
        before = reader.read(None)
        assert len(before) == 2
        assert reader.read("nope") == ()
        assert reader.read("x'; DELETE FROM leaderboard_stamps; --") == ()
        assert reader.read(None) == before
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM leaderboard_stamps")).scalar_one() == len(before)
    finally:
        reader.close()
        engine.dispose()
