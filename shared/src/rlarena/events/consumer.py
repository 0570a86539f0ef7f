"""Idempotent consumers: delivery is at least once, so each event's effect is applied once.

The claim is a row in `processed_events`, inserted in the same transaction as the effect and
before it: a concurrent twin blocks on the primary key and then finds it taken, a redelivery
finds it at once. Where event ids are not stable (PingSource, ApiServerSource, a republished
result) the caller passes a business key instead, e.g. ("match", match_id).
"""

from __future__ import annotations

from dataclasses import dataclass

from cloudevents.http import CloudEvent
from sqlalchemy.exc import IntegrityError

from rlarena.adapters.db.models import ProcessedEvent
from rlarena.service.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class EventKey:
    source: str
    id: str

    @classmethod
    def of(cls, event: CloudEvent) -> EventKey:
        return cls(source=str(event["source"]), id=str(event["id"]))


def claim(uow: UnitOfWork, consumer: str, key: EventKey, event_type: str) -> bool:
    """Record that `consumer` handles `key` in this transaction; False if it already has.

    Commit the unit of work to make the claim and the effect permanent together; roll back and
    neither happened.
    """
    session = uow.session
    if session.get(ProcessedEvent, (consumer, key.source, key.id)) is not None:
        return False
    try:
        # The savepoint rolls back alone if a concurrent twin inserted the claim first.
        with session.begin_nested():
            session.add(ProcessedEvent(consumer=consumer, source=key.source, event_id=key.id, event_type=event_type))
    except IntegrityError:
        return False
    return True
