"""Fixed-window rate limits kept in the database, so every replica of a function shares them."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Engine, Table, delete

from rlarena.adapters.db.models import RateLimitCounter
from rlarena.errors import RateLimited


class RateLimiter:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def hit(self, bucket: str, *, limit: int, window: timedelta, now: datetime, what: str) -> None:
        """Count one request in `bucket`; past `limit` in the current window, raise RateLimited."""
        seconds = int(window.total_seconds())
        start = datetime.fromtimestamp(math.floor(now.timestamp() / seconds) * seconds, tz=now.tzinfo)
        # Imported here: each dialect module pulls in its drivers' dialects (~40 ms of cold start).
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        table = cast(Table, RateLimitCounter.__table__)
        upsert = (
            insert(table)
            .values(bucket=bucket, window_start=start, count=1)
            .on_conflict_do_update(index_elements=["bucket", "window_start"], set_={"count": table.c.count + 1})
            .returning(table.c.count)
        )
        with self._engine.begin() as connection:
            count = connection.execute(upsert).scalar_one()
            if count == 1:
                # First hit of a window: sweep this bucket's old windows so the table stays small.
                connection.execute(delete(table).where(table.c.bucket == bucket, table.c.window_start < start))
        if count > limit:
            retry_after = max(1, math.ceil((start + window - now).total_seconds()))
            raise RateLimited(
                f"too many {what}: at most {limit} per {seconds} seconds; try again in {retry_after} s",
                retry_after_seconds=retry_after,
            )
