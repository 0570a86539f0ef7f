"""A match's life after booking: pending -> running -> completed | failed, and nothing stuck.

Every step is a conditional update, so a duplicate or late event changes nothing: `started`
moves only a pending match, `failed` only a pending or running one (the ratings function moves a
match to completed). Whatever ends a match puts its agents back in the queue, but only the queue
entries that still wait on that match: a late duplicate can never free an agent that has since
been booked again. The reaper fails matches past their deadline and frees entries whose match
ended while the event that should have freed them was lost, so a failed match never locks an
agent out.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update

from rlarena.adapters.db.models import Match, MatchmakingQueueEntry
from rlarena.bootstrap import Platform
from rlarena.domain.statuses import MatchStatus, QueueStatus
from rlarena.domain.texts import cap_text
from rlarena.events.catalogue import EventType, MatchFailed, MatchStarted, Source, make_event
from rlarena.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

OPEN = (MatchStatus.PENDING.value, MatchStatus.RUNNING.value)
ENDED = (MatchStatus.COMPLETED.value, MatchStatus.FAILED.value, MatchStatus.CANCELLED.value)
MISSED_DEADLINE = "the executor reported no result before the match's deadline"


@dataclass(frozen=True)
class ReapReport:
    failed: int
    released: int


def mark_started(platform: Platform, event: MatchStarted) -> bool:
    with platform.uow() as uow:
        moved = uow.session.execute(
            update(Match)
            .where(Match.id == event.match_id, Match.status == MatchStatus.PENDING.value)
            .values(status=MatchStatus.RUNNING.value, started_at=event.started_at, updated_at=platform.clock())
            .execution_options(synchronize_session=False)
        )
        uow.commit()
        return bool(moved.rowcount)  # type: ignore[attr-defined]


def fail_match(platform: Platform, match_id: uuid.UUID, reason: str, *, announce: bool) -> bool:
    """Fail an open match and free its agents; False if it had already ended."""
    now = platform.clock()
    reason = cap_text(reason)  # it may quote an agent: stored and announced capped
    with platform.uow() as uow:
        failed = _fail(uow, match_id, reason, now)
        release(uow, match_id, now, refund=failed is not None)
        uow.commit()
    if failed is not None and announce:
        publish_failure(platform, failed, reason)
    return failed is not None


def match_ended(platform: Platform, match_id: uuid.UUID) -> None:
    """A result arrived (or a failure the executor announced): its agents may play again."""
    with platform.uow() as uow:
        release(uow, match_id, platform.clock())
        uow.commit()


def release(uow: UnitOfWork, match_id: uuid.UUID, now: datetime, *, refund: bool = False) -> int:
    """Put back in the queue the agents still waiting on this match (idempotent).

    With `refund` (the match failed: nobody played) the match does not count against the agents'
    cooldown or daily cap, so a platform failure costs them nothing.
    """
    entry = MatchmakingQueueEntry
    values: dict[str, Any] = {
        "status": QueueStatus.WAITING.value,
        "match_id": None,
        "enqueued_at": now,
        "updated_at": now,
    }
    if refund:
        values["last_match_at"] = None
        values["day_count"] = case((entry.day_count > 0, entry.day_count - 1), else_=0)
    freed = uow.session.execute(
        update(entry).where(entry.match_id == match_id).values(**values).execution_options(synchronize_session=False)
    )
    return int(freed.rowcount)  # type: ignore[attr-defined]


def reap(platform: Platform) -> ReapReport:
    """Fail open matches past their deadline; free queue entries whose match already ended."""
    now = platform.clock()
    with platform.uow() as uow:
        overdue = uow.session.scalars(
            select(Match.id).where(Match.status.in_(OPEN), Match.deadline_at.is_not(None), Match.deadline_at < now)
        ).all()
    failed = sum(fail_match(platform, match_id, MISSED_DEADLINE, announce=True) for match_id in overdue)
    with platform.uow() as uow:
        ended = select(Match.id).where(Match.status.in_(ENDED)).scalar_subquery()
        stuck = uow.session.execute(
            update(MatchmakingQueueEntry)
            .where(MatchmakingQueueEntry.status == QueueStatus.MATCHED.value, MatchmakingQueueEntry.match_id.in_(ended))
            .values(status=QueueStatus.WAITING.value, match_id=None, enqueued_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        uow.commit()
    released = int(stuck.rowcount)  # type: ignore[attr-defined]
    if failed or released:
        log.warning("reaper: failed %d overdue match(es), freed %d stuck queue entr(ies)", failed, released)
    return ReapReport(failed=failed, released=released)


def fail_lost_matches(platform: Platform, booked_before: datetime, reason: str) -> int:
    """Fail every open match booked before `booked_before`: the one executor running them is gone.

    For the local platform, whose single executor child was restarted. (On a cluster, executor
    replicas drain gracefully and the deadline reaper covers a replica that was killed.)
    """
    with platform.uow() as uow:
        lost = uow.session.scalars(
            select(Match.id).where(Match.status.in_(OPEN), Match.created_at <= booked_before)
        ).all()
    return sum(fail_match(platform, match_id, reason, announce=True) for match_id in lost)


def publish_failure(platform: Platform, match: Match, reason: str) -> None:
    payload = MatchFailed(match_id=match.id, environment_id=match.environment_id, error_message=reason)
    platform.publisher.publish(
        make_event(EventType.MATCH_FAILED, Source.MATCHMAKER, payload, event_id=f"match-failed-{match.id}")
    )


def _fail(uow: UnitOfWork, match_id: uuid.UUID, reason: str, now: datetime) -> Match | None:
    match = uow.session.scalars(
        select(Match).where(Match.id == match_id, Match.status.in_(OPEN)).with_for_update()
    ).first()
    if match is None:
        return None
    match.status = MatchStatus.FAILED.value
    match.error_message = cap_text(reason)
    match.completed_at = now
    match.updated_at = now
    return match
