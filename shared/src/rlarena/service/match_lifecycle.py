"""A match's life after booking: pending -> running -> completed | failed, and nothing stuck.

Every step is a conditional update, so a duplicate or late event changes nothing: `started`
moves only a pending match, `failed` only a pending or running one (the ratings function moves a
match to completed). Whatever ends a match puts its agents back in the queue, but only the queue
entries that still wait on that match: a late duplicate can never free an agent that has since
been booked again. The reaper first ends open matches whose result the executor stored (the
reconciler, `match_reconciler`), then fails matches past their deadline whose game did not finish,
and frees entries whose match ended while the event that should have freed them was lost, so a
failed match never locks an agent out. Failing and freeing live in `match_endings`, below the
reconciler; their names are re-exported here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from rlarena.adapters.db import match_queries as queries
from rlarena.events.catalogue import MatchStarted
from rlarena.service import match_reconciler
from rlarena.service.match_endings import fail_match, match_ended, publish_failure, release
from rlarena.service.match_reconciler import ResultsPlatform, Settled
from rlarena.service.ports import PlatformCore

__all__ = [
    "MISSED_DEADLINE",
    "ReapReport",
    "fail_lost_matches",
    "fail_match",
    "mark_started",
    "match_ended",
    "publish_failure",
    "reap",
    "release",
]

log = logging.getLogger(__name__)

MISSED_DEADLINE = "the executor reported no result before the match's deadline"


@dataclass(frozen=True)
class ReapReport:
    failed: int
    released: int
    settled: int = 0  # open matches ended from their stored results (completed or failed)


def mark_started(platform: PlatformCore, event: MatchStarted) -> bool:
    with platform.uow() as uow:
        moved = queries.start_pending_match(uow.session, event.match_id, event.started_at, platform.clock())
        uow.commit()
        return moved


def reap(platform: ResultsPlatform) -> ReapReport:
    """End open matches whose result is stored; fail those past their deadline whose game did not
    finish; free queue entries whose match already ended."""
    settled = match_reconciler.complete_stored_results(platform)
    now = platform.clock()
    with platform.uow() as uow:
        overdue = queries.overdue_match_ids(uow.session, now)
    failed = 0
    for match_id in overdue:
        # Read once more right before failing it: only a match with no stored result is failed.
        outcome = match_reconciler.settle_from_store(platform, match_id)
        if outcome is Settled.NO_RESULT:
            failed += fail_match(platform, match_id, MISSED_DEADLINE, announce=True)
        elif outcome in (Settled.COMPLETED, Settled.FAILED):
            settled += 1
        elif outcome is Settled.STORAGE_DOWN:
            log.warning("reaper: match %s is overdue but storage is unreadable; it is left for the next tick", match_id)
    with platform.uow() as uow:
        released = queries.free_entries_of_ended_matches(uow.session, now)
        uow.commit()
    if failed or released:
        log.warning("reaper: failed %d overdue match(es), freed %d stuck queue entr(ies)", failed, released)
    return ReapReport(failed=failed, released=released, settled=settled)


def fail_lost_matches(platform: PlatformCore, booked_before: datetime, reason: str) -> int:
    """Fail every open match booked before `booked_before`: the one executor running them is gone.

    For the local platform, whose single executor child was restarted. (On a cluster, executor
    replicas drain gracefully and the deadline reaper covers a replica that was killed.)
    """
    with platform.uow() as uow:
        lost = queries.open_match_ids_booked_before(uow.session, booked_before)
    return sum(fail_match(platform, match_id, reason, announce=True) for match_id in lost)
