"""The transactional outbox: events are rows written with the change they announce, published later.

A use case stages its events in its unit of work (`UnitOfWork.publish`); they commit or roll back
with the state change, so an event is never announced for a change that did not happen, nor lost
for one that did. Staged rows are born leased to their committer (`due_at` = now + LEASE): right
after the commit it publishes them and deletes each one the broker accepted. Whatever it could not
publish (the broker was down, the process died) becomes due and is published by `OutboxRelay.
publish_due`, which every PingSource tick and the local platform's relay thread run, with
exponential backoff, until the broker accepts it. Delivery is at least once: consumers are
idempotent (deterministic event ids, `processed_events`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from cloudevents.conversion import to_json
from cloudevents.http import CloudEvent, from_json
from sqlalchemy import Engine, Insert, Table, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from rlarena.adapters.db.models import OutboxEvent

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=30)  # how long a publisher owns the rows it took before others may
FIRST_BACKOFF = timedelta(seconds=1)
MAX_BACKOFF = timedelta(minutes=2)
ERROR_CAP = 500


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def stage(session: Session, event: CloudEvent, now: datetime) -> OutboxEvent:
    """Add `event` to the outbox in the session's transaction, leased to this committer.

    One INSERT through SQL Core (no ORM flush); the row returned is detached, with its `seq`."""
    row = OutboxEvent(
        event_id=str(event["id"]),
        event_type=str(event["type"]),
        body=to_json(event).decode(),
        attempts=0,
        due_at=now + LEASE,
        created_at=now,
    )
    values = {name: getattr(row, name) for name in _STAGED}
    row.seq = session.connection().execute(_insert_staged(), values).scalar_one()
    return row


_STAGED = ("event_id", "event_type", "body", "attempts", "due_at", "created_at")


@functools.cache
def _insert_staged() -> Insert:
    table = cast(Table, OutboxEvent.__table__)
    return (
        insert(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in _STAGED})
        .returning(table.c.seq)
    )


def backoff(attempts: int) -> timedelta:
    """1 s, 2 s, 4 s ... up to 2 minutes between tries of one event."""
    doubled: timedelta = FIRST_BACKOFF * (1 << min(max(attempts - 1, 0), 16))
    return min(doubled, MAX_BACKOFF)


@dataclass(frozen=True)
class RelayRun:
    published: int
    failed: int


class OutboxRelay:
    """Publishes outbox rows to the broker and forgets those it accepted."""

    def __init__(
        self,
        engine: Engine,
        publish: Callable[[CloudEvent], None],
        clock: Callable[[], datetime] = _wall_clock,
    ) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._publish_one = publish
        self._clock = clock
        self._postgres = engine.dialect.name == "postgresql"

    def publish_committed(self, staged: Sequence[tuple[OutboxEvent, CloudEvent]]) -> RelayRun:
        """Right after their commit: publish the rows this process staged (it holds their lease),
        from the events it staged (not parsed back from the rows' JSON)."""
        return self._publish(list(staged))

    def publish_due(self, limit: int = 200) -> RelayRun:
        """Publish what is due (never published, or backing off), oldest first; take a lease first."""
        now = self._clock()
        with self._sessions() as session:
            query = select(OutboxEvent).where(OutboxEvent.due_at <= now).order_by(OutboxEvent.seq).limit(limit)
            if self._postgres:
                query = query.with_for_update(skip_locked=True)
            rows = list(session.scalars(query))
            if not rows:
                return RelayRun(0, 0)
            # The lease is taken row by row, and only while the row is still due: of two relays
            # that read the same rows (SQLite has no SKIP LOCKED), one takes each row.
            taken = set(
                session.scalars(
                    update(OutboxEvent)
                    .where(OutboxEvent.seq.in_([row.seq for row in rows]), OutboxEvent.due_at <= now)
                    .values(due_at=now + LEASE)
                    .returning(OutboxEvent.seq)
                )
            )
            session.commit()
        return self._publish([(row, None) for row in rows if row.seq in taken])

    def pending(self) -> int:
        """How many events wait for the broker (for health and tests)."""
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)

    def _publish(self, rows: list[tuple[OutboxEvent, CloudEvent | None]]) -> RelayRun:
        accepted: list[int] = []
        refused: list[tuple[OutboxEvent, str]] = []
        for row, event in rows:
            try:
                self._publish_one(from_json(row.body) if event is None else event)
            except Exception as error:
                refused.append((row, f"{type(error).__name__}: {error}"[:ERROR_CAP]))
            else:
                accepted.append(row.seq)
        if accepted or refused:
            self._record(accepted, refused)
        if refused:
            log.warning(
                "outbox: %d event(s) not accepted by the broker yet (first: %s %s: %s); retrying with backoff",
                len(refused),
                refused[0][0].event_type,
                refused[0][0].event_id,
                refused[0][1],
            )
        return RelayRun(published=len(accepted), failed=len(refused))

    def _record(self, accepted: list[int], refused: list[tuple[OutboxEvent, str]]) -> None:
        now = self._clock()
        try:
            with self._sessions() as session:
                if accepted:
                    session.execute(delete(OutboxEvent).where(OutboxEvent.seq.in_(accepted)))
                for row, problem in refused:
                    attempts = row.attempts + 1
                    session.execute(
                        update(OutboxEvent)
                        .where(OutboxEvent.seq == row.seq)
                        .values(attempts=attempts, due_at=now + backoff(attempts), last_error=problem)
                    )
                session.commit()
        except Exception:  # the database blinked: the leases run out and the events go out again
            log.warning("outbox: could not record the publication of %d event(s)", len(accepted) + len(refused))
