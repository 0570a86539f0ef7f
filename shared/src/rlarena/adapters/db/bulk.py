"""Writing many rows in one statement, portably.

On PostgreSQL, rows go as one array per column through `unnest`: a short statement with a
handful of parameters, whatever the row count (pg8000 would otherwise send one INSERT per row, or
parse a multi-row VALUES statement of thousands of parameters in Python). Elsewhere (SQLite,
a local file) a plain executemany is already fast.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Table, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import Base

CHUNK = 10_000
T = TypeVar("T")


def insert_rows(session: Session, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys, every NOT NULL column given) into `model`'s table."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert(table), list(rows))
        return
    names = list(rows[0])
    casts = ", ".join(f"CAST(:c{i} AS {array_type(table, name)})" for i, name in enumerate(names))
    statement = text(f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({casts})")  # noqa: S608 - names are the model's own columns
    for chunk in chunks(list(rows), CHUNK):
        session.execute(statement, {f"c{i}": [plain(row[name]) for row in chunk] for i, name in enumerate(names)})


def array_type(table: Table, column: str) -> str:
    """The PostgreSQL array type of a column, e.g. UUID[] or TIMESTAMP WITH TIME ZONE[]."""
    return f"{table.c[column].type.compile(dialect=postgresql.dialect())}[]"  # type: ignore[no-untyped-call]


def plain(value: Any) -> Any:
    """A value pg8000 can put in an array that PostgreSQL then casts to the column's type."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def chunks(items: list[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
