"""Idempotent consumers: delivery is at least once, so each event's effect is applied once.

The claim is a row in `processed_events`, inserted in the same transaction as the effect and
before it: a concurrent twin blocks on the primary key and then finds it taken, a redelivery
finds it at once. Where event ids are not stable (PingSource, ApiServerSource, a republished
result) the caller passes a business key instead, e.g. ("match", match_id).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cloudevents.http import CloudEvent
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
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    statement = (
        insert(ProcessedEvent)
        .values(consumer=consumer, source=key.source, event_id=key.id, event_type=event_type, processed_at=utcnow())
        .on_conflict_do_nothing(index_elements=["consumer", "source", "event_id"])
        .returning(ProcessedEvent.event_id)
    )
    return session.execute(statement).first() is not None
