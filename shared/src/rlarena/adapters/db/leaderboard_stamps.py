"""Reading the leaderboard stamps (table `leaderboard_stamps`, kept by triggers: migration 0005)
in one round trip, since every leaderboard request starts with it.

On PostgreSQL the reader has its own small pool of autocommit connections without pre-ping and
sends its one SELECT of every stamp (a handful of rows: one per environment) as a simple query
(pg8000's `execute_simple`): one Query message and one answer, lighter on both ends than the
extended protocol's Parse, Describe, Bind and Execute (three round trips in pg8000's own cursor,
one write when `pg8000_pipeline` is installed); no BEGIN, no ROLLBACK, no `SELECT 1`, no
statement compilation, no parameter (one environment's stamp is picked from the rows here, so no
request input ever reaches the SQL text); a connection found dropped is discarded and the read
tried once more on a fresh one (after a server restart, every pooled connection is dead: at most
the pool's size are discarded before a new one is made). SQLite reads through the platform's engine.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.models import LeaderboardStamp

Stamp = tuple[tuple[str, int], ...]

_ALL = "SELECT environment_id, version FROM leaderboard_stamps ORDER BY environment_id"


class StampReader:
    def __init__(self, engine: Engine, *, pool_size: int, max_overflow: int) -> None:
        self._engine = engine
        self._own: Engine | None = None
        self._attempts = pool_size + 1
        if engine.dialect.name == "postgresql":
            url = engine.url.render_as_string(hide_password=False)
            self._own = make_engine(url, pool_size=pool_size, max_overflow=max_overflow, single_statements=True)

    def read(self, environment_id: str | None) -> Stamp:
        """(environment, version) pairs, ordered; only `environment_id`'s unless None."""
        if self._own is None:
            return self._read_in_transaction(environment_id)
        for _ in range(self._attempts - 1):
            try:
                return self._read_on(self._own, environment_id)
            except _Dropped:
                continue
        return self._read_on(self._own, environment_id, last_try=True)

    def close(self) -> None:
        if self._own is not None:
            self._own.dispose()

    def _read_in_transaction(self, environment_id: str | None) -> Stamp:
        query = select(LeaderboardStamp.environment_id, LeaderboardStamp.version)
        if environment_id is not None:
            query = query.where(LeaderboardStamp.environment_id == environment_id)
        with self._engine.connect() as connection:
            rows = connection.execute(query.order_by(LeaderboardStamp.environment_id)).all()
        return tuple((environment, int(version)) for environment, version in rows)

    @staticmethod
    def _read_on(engine: Engine, environment_id: str | None, *, last_try: bool = False) -> Stamp:
        connection = engine.raw_connection()
        try:
            rows = connection.driver_connection.execute_simple(_ALL).rows or []  # type: ignore[union-attr]
        except (engine.dialect.loaded_dbapi.Error, OSError) as error:
            # pg8000 raises a reset socket as it finds it (ConnectionResetError), a failed send as
            # its InterfaceError.
            if isinstance(error, OSError) or engine.dialect.is_disconnect(error, connection.dbapi_connection, None):
                connection.invalidate(error)
                if not last_try:
                    raise _Dropped from error
            raise
        finally:
            connection.close()
        return tuple(
            (str(environment), int(version))
            for environment, version in rows
            if environment_id is None or environment == environment_id
        )


class _Dropped(Exception):
    """The pooled connection was dead (the server restarted, an idle timeout): try a fresh one."""
