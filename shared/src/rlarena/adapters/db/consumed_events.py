"""Idempotent consumers: delivery is at least once, so each event's effect is applied once.

The claim is a row in `processed_events`, inserted in the same transaction as the effect and
before it: a concurrent twin blocks on the primary key and then finds it taken, a redelivery
finds it at once. Where event ids are not stable (PingSource, ApiServerSource, a republished
result) the caller passes a business key instead, e.g. ("match", match_id).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Protocol, cast

from cloudevents.http import CloudEvent
from sqlalchemy import Insert, Table, bindparam
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import ProcessedEvent, utcnow


class HasSession(Protocol):
    """What `claim` needs of the caller's unit of work: the session its effect is written in."""

    @property
    def session(self) -> Session: ...


@dataclass(frozen=True)
class EventKey:
    source: str
    id: str

    @classmethod
    def of(cls, event: CloudEvent) -> EventKey:
        return cls(source=str(event["source"]), id=str(event["id"]))


def claim(uow: HasSession, consumer: str, key: EventKey, event_type: str) -> bool:
    """Record that `consumer` handles `key` in this transaction; False if it already has.

    Commit the unit of work to make the claim and the effect permanent together; roll back and
    neither happened. One statement: `INSERT ... ON CONFLICT DO NOTHING RETURNING` inserts the
    claim or finds it taken (a concurrent twin's uncommitted claim makes it wait for that
    transaction, then it counts as taken if the twin committed).
    """
    session = uow.session
    connection = session.connection()
    values = {"consumer": consumer, "source": key.source, "event_id": key.id, "event_type": event_type}
    return connection.execute(_claim(connection.dialect.name), values | {"processed_at": utcnow()}).first() is not None


@functools.cache
def _claim(dialect: str) -> Insert:
    """Built once per dialect (SQL Core on the table, cached compiled): a claim is on every delivery's path."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    table = cast(Table, ProcessedEvent.__table__)
    names = ("consumer", "source", "event_id", "event_type", "processed_at")
    return (
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in names})
        .on_conflict_do_nothing(index_elements=["consumer", "source", "event_id"])
        .returning(table.c.event_id)
    )
