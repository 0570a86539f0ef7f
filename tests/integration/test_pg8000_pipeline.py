"""pg8000 through the pipeline (adapters/db/pg8000_pipeline.py) on real PostgreSQL: one write and
one answer per statement, the transaction's BEGIN sent with its first statement, and results,
errors and transactions exactly as before."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from rlarena.adapters.db.engine import make_engine
from tests.support.databases import PostgresDatabases


class CountingSocket:
    """Wraps pg8000's buffered socket and counts the writes it sends (one flush, one round trip)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        self.inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def engine(postgres_databases: PostgresDatabases, tmp_path: Path) -> Iterator[Engine]:
    url = postgres_databases.create(tmp_path)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE pipeline_t (id uuid PRIMARY KEY, n integer, at timestamptz, s text)"))
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE pipeline_t"))
    engine.dispose()
    postgres_databases.drop(url)


def counting(connection: Any) -> CountingSocket:
    raw = connection.connection.dbapi_connection
    sock = CountingSocket(raw._sock)
    raw._sock = sock
    return sock


def test_each_statement_is_one_round_trip_and_begin_travels_with_the_first(engine: Engine) -> None:
    now = datetime.now(UTC)
    with engine.connect() as connection:
        sock = counting(connection)
        first = uuid.uuid4()
        connection.execute(
            text("INSERT INTO pipeline_t VALUES (:id, :n, :at, :s)"), {"id": first, "n": 7, "at": now, "s": "é"}
        )
        assert sock.flushes == 1  # BEGIN and the INSERT in one write
        rows = connection.execute(text("SELECT id, n, at, s FROM pipeline_t WHERE n = :n"), {"n": 7}).all()
        assert rows == [(first, 7, now, "é")]
        connection.commit()
        assert sock.flushes == 3  # the SELECT, the COMMIT
        connection.execute(text("UPDATE pipeline_t SET n = n + :by"), {"by": 1})
        connection.rollback()
        assert sock.flushes == 5
        assert connection.execute(text("SELECT n FROM pipeline_t")).scalar() == 7  # the rollback held
        connection.rollback()


def test_errors_are_raised_and_the_connection_goes_on(engine: Engine) -> None:
    for bad in ("SELEC 1", "SELECT 1 / :zero", "SELECT * FROM no_such_table WHERE 1 = :one"):
        with pytest.raises(DBAPIError), engine.begin() as connection:
            connection.execute(text(bad), {"zero": 0, "one": 1})
    key = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO pipeline_t (id, n) VALUES (:id, 1)"), {"id": key})
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO pipeline_t (id, n) VALUES (:id, 2)"), {"id": uuid.uuid4()})
        connection.execute(text("INSERT INTO pipeline_t (id, n) VALUES (:id, 3)"), {"id": key})
    with engine.connect() as connection:  # the failed transaction left nothing behind
        assert connection.execute(text("SELECT n FROM pipeline_t ORDER BY n")).scalars().all() == [1]


def test_an_uncommitted_write_stays_invisible_to_others_until_commit(engine: Engine) -> None:
    other = make_engine(str(engine.url.render_as_string(hide_password=False)), pool_size=1, max_overflow=0)
    try:
        with engine.connect() as writer, other.connect() as reader:
            writer.execute(text("INSERT INTO pipeline_t (id, n) VALUES (:id, 5)"), {"id": uuid.uuid4()})
            assert reader.execute(text("SELECT count(*) FROM pipeline_t")).scalar() == 0
            reader.rollback()
            writer.commit()
            assert reader.execute(text("SELECT count(*) FROM pipeline_t")).scalar() == 1
    finally:
        other.dispose()


def test_the_pinned_pg8000_is_the_series_the_pipeline_was_written_for() -> None:
    # Bumping pg8000 in constraints.txt to another series turns the pipeline off silently
    # (install() leaves an untested pg8000 alone): this says to test it against the new one.
    import pg8000

    from rlarena.adapters.db import pg8000_pipeline

    pinned = next(
        line.split("==", 1)[1].strip()
        for line in (Path(__file__).resolve().parents[2] / "constraints.txt").read_text().splitlines()
        if line.lower().startswith("pg8000==")
    )
    assert pinned.startswith(pg8000_pipeline.SUPPORTED_SERIES)
    assert pg8000.__version__ == pinned
