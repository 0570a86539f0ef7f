"""Ending an open match: failing it with the reason, and freeing its agents (idempotent steps).

Used by the lifecycle (events, the reaper), the dispatcher and the reconciler; kept below all of
them so the reconciler (which `match_lifecycle.reap` runs first) can use them without a cycle.
`match_lifecycle` re-exports these names.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from rlarena.adapters.db import match_queries as queries
from rlarena.adapters.db.models import Match
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.domain.match_records import record_failure
from rlarena.domain.texts import cap_text
from rlarena.events.catalogue import EventType, MatchFailed, Source, make_event
from rlarena.service.ports import PlatformCore
from rlarena.service.unit_of_work import UnitOfWorkLike


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


def publish_failure(uow: UnitOfWorkLike, match: Match, reason: str) -> None:
    payload = MatchFailed(match_id=match.id, environment_id=match.environment_id, error_message=reason)
    uow.publish(make_event(EventType.MATCH_FAILED, Source.MATCHMAKER, payload, event_id=f"match-failed-{match.id}"))


def _fail(uow: UnitOfWork, match_id: uuid.UUID, reason: str, now: datetime) -> Match | None:
    match = queries.lock_open_match(uow.session, match_id)
    if match is not None:
        record_failure(match, reason, now)
    return match
