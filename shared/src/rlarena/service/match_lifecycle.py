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

from rlarena.adapters.db import match_queries as queries
from rlarena.adapters.db.models import Match
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.domain.match_records import record_failure
from rlarena.domain.texts import cap_text
from rlarena.events.catalogue import EventType, MatchFailed, MatchStarted, Source, make_event
from rlarena.service.ports import PlatformCore
from rlarena.service.unit_of_work import UnitOfWorkLike

log = logging.getLogger(__name__)

MISSED_DEADLINE = "the executor reported no result before the match's deadline"


@dataclass(frozen=True)
class ReapReport:
    failed: int
    released: int


def mark_started(platform: PlatformCore, event: MatchStarted) -> bool:
    with platform.uow() as uow:
        moved = queries.start_pending_match(uow.session, event.match_id, event.started_at, platform.clock())
        uow.commit()
        return moved


def fail_match(platform: PlatformCore, match_id: uuid.UUID, reason: str, *, announce: bool) -> bool:
    """Fail an open match and free its agents; False if it had already ended."""
    now = platform.clock()
    reason = cap_text(reason)  # it may quote an agent: stored and announced capped
    with platform.uow() as uow:
        failed = _fail(uow, match_id, reason, now)
        release(uow, match_id, now, refund=failed is not None)
        if failed is not None and announce:
            publish_failure(uow, failed, reason)
        uow.commit()
    return failed is not None


def match_ended(platform: PlatformCore, match_id: uuid.UUID) -> None:
    """A result arrived (or a failure the executor announced): its agents may play again."""
    with platform.uow() as uow:
        release(uow, match_id, platform.clock())
        uow.commit()


def release(uow: UnitOfWork, match_id: uuid.UUID, now: datetime, *, refund: bool = False) -> int:
    """Put back in the queue the agents still waiting on this match (idempotent).

    With `refund` (the match failed: nobody played) the match does not count against the agents'
    cooldown or daily cap, so a platform failure costs them nothing.
    """
    return queries.release_queue_entries(uow.session, match_id, now, refund=refund)


def reap(platform: PlatformCore) -> ReapReport:
    """Fail open matches past their deadline; free queue entries whose match already ended."""
    now = platform.clock()
    with platform.uow() as uow:
        overdue = queries.overdue_match_ids(uow.session, now)
    failed = sum(fail_match(platform, match_id, MISSED_DEADLINE, announce=True) for match_id in overdue)
    with platform.uow() as uow:
        released = queries.free_entries_of_ended_matches(uow.session, now)
        uow.commit()
    if failed or released:
        log.warning("reaper: failed %d overdue match(es), freed %d stuck queue entr(ies)", failed, released)
    return ReapReport(failed=failed, released=released)


def fail_lost_matches(platform: PlatformCore, booked_before: datetime, reason: str) -> int:
    """Fail every open match booked before `booked_before`: the one executor running them is gone.

    For the local platform, whose single executor child was restarted. (On a cluster, executor
    replicas drain gracefully and the deadline reaper covers a replica that was killed.)
    """
    with platform.uow() as uow:
        lost = queries.open_match_ids_booked_before(uow.session, booked_before)
    return sum(fail_match(platform, match_id, reason, announce=True) for match_id in lost)


def publish_failure(uow: UnitOfWorkLike, match: Match, reason: str) -> None:
    payload = MatchFailed(match_id=match.id, environment_id=match.environment_id, error_message=reason)
    uow.publish(make_event(EventType.MATCH_FAILED, Source.MATCHMAKER, payload, event_id=f"match-failed-{match.id}"))


def _fail(uow: UnitOfWork, match_id: uuid.UUID, reason: str, now: datetime) -> Match | None:
    match = queries.lock_open_match(uow.session, match_id)
    if match is not None:
        record_failure(match, reason, now)
    return match
