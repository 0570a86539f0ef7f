"""Closing open matches from the executor's stored results, whatever happened to their events.

The executor stores a match's result (`matches/<id>/result.json`) before it announces it, so the
stored result is the source of truth: if match.finished or match.failed was lost (the broker or
the database was down, the platform stopped), the match is still open while its result sits in
the object store. The reconciler reads the stored result of each open match and ends it as the
event would have:

- a SUCCESS result is rated through the ratings use case with the very MatchFinished payload the
  executor announced (`events.match_results.finished_payload`, `finished_at` included). It claims
  the match in processed_events, so the match is rated exactly once, whether the reconciler or a
  late match.finished comes first; then the agents are freed;
- an ERROR or CANCELLED result fails the match with the stored reason (announced);
- no stored result: the game has not finished (or its result waits in an executor's spool); the
  match is left alone, to its deadline.

It runs on every matchmaking tick and in the reaper before any overdue match is failed (so only a
match whose game really did not finish is failed), and on the local platform before the matches a
stopped executor left open are failed. A match booked in the last few seconds is not looked at
(its game cannot have finished), and at most `BATCH` matches, the longest open first, are read per
pass: one small GET per open match.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from rlarena.adapters.db import match_queries as queries
from rlarena.domain.match_keys import result_key
from rlarena.errors import EventRejected, NotFound, ServiceUnavailable
from rlarena.events.match_results import finished_payload
from rlarena.service import ratings
from rlarena.service.match_endings import fail_match, match_ended
from rlarena.service.ports import PlatformCore

if TYPE_CHECKING:
    from rlarena.adapters.storage.base import ObjectStore

log = logging.getLogger(__name__)

# Matches booked more recently than this are not read: no game ends that fast.
SETTLE_AFTER = timedelta(seconds=5)
# At most this many open matches are read per pass (the longest open first).
BATCH = 200
UNREADABLE_RESULT = "the executor's stored result of this match is unreadable"


class ResultsPlatform(PlatformCore, Protocol):
    """What reconciling needs of the platform (`bootstrap.Platform` is one): the object store too."""

    @property
    def store(self) -> ObjectStore: ...


class Settled(StrEnum):
    COMPLETED = "completed"  # rated (or recorded, if unrated) from its stored SUCCESS result
    FAILED = "failed"  # failed with the reason its stored result gives
    ALREADY_ENDED = "already_ended"  # a result is stored, but the match had ended meanwhile
    NO_RESULT = "no_result"  # nothing stored: the game did not finish (yet)
    STORAGE_DOWN = "storage_down"  # the store could not be read: nothing is known


def complete_stored_results(platform: ResultsPlatform, *, booked_before: datetime | None = None) -> int:
    """End every open match whose result is stored; returns how many it ended.

    `booked_before` (default: a few seconds ago) bounds which matches are read; the local platform
    passes "now" when its executor is gone. Stops at the first storage failure (the next pass
    tries again).
    """
    cutoff = booked_before if booked_before is not None else platform.clock() - SETTLE_AFTER
    with platform.uow() as uow:
        candidates = queries.open_match_ids_oldest_first(uow.session, cutoff, limit=BATCH)
    ended = 0
    for match_id in candidates:
        settled = settle_from_store(platform, match_id)
        if settled is Settled.STORAGE_DOWN:
            break
        ended += settled in (Settled.COMPLETED, Settled.FAILED)
    if ended:
        log.warning("reconciler: ended %d open match(es) from their stored results (their events were lost)", ended)
    return ended


def settle_from_store(platform: ResultsPlatform, match_id: uuid.UUID) -> Settled:
    """End one open match from its stored result, if there is one (idempotent)."""
    try:
        raw = platform.store.get(result_key(str(match_id)))
    except NotFound:
        return Settled.NO_RESULT
    except ServiceUnavailable as error:
        log.warning("reconciler: cannot read the stored result of match %s: %s", match_id, error.message)
        return Settled.STORAGE_DOWN
    try:
        stored = json.loads(raw)
        if not isinstance(stored, dict):
            raise ValueError("not a JSON object")
    except ValueError as error:
        log.error("reconciler: the stored result of match %s is unreadable: %s", match_id, error)
        return _failed(platform, match_id, UNREADABLE_RESULT)
    if stored.get("status") != "SUCCESS":
        reason = str(stored.get("error_message") or stored.get("status") or "the executor reported an error")
        return _failed(platform, match_id, reason)
    return _complete(platform, match_id, stored)


def _complete(platform: ResultsPlatform, match_id: uuid.UUID, stored: dict[str, Any]) -> Settled:
    with platform.uow() as uow:
        match = queries.match_by_id(uow.session, match_id)
        environment_id = match.environment_id if match is not None else None
    if environment_id is None:
        return Settled.NO_RESULT
    try:
        finished = finished_payload(match_id, environment_id, stored)
    except (ValueError, KeyError, TypeError) as error:  # pydantic's ValidationError is a ValueError
        log.error("reconciler: the stored result of match %s is not a result: %s", match_id, error)
        return _failed(platform, match_id, UNREADABLE_RESULT)
    try:
        update = ratings.record_result(platform, finished)
    except EventRejected as error:
        log.error("reconciler: the stored result of match %s was refused: %s", match_id, error.message)
        return _failed(platform, match_id, f"the executor's stored result was refused: {error.message}")
    match_ended(platform, match_id)
    if update is None:
        return Settled.ALREADY_ENDED
    log.info("reconciler: match %s completed from its stored result", match_id)
    return Settled.COMPLETED


def _failed(platform: ResultsPlatform, match_id: uuid.UUID, reason: str) -> Settled:
    if fail_match(platform, match_id, reason, announce=True):
        log.info("reconciler: match %s failed from its stored result: %s", match_id, reason)
        return Settled.FAILED
    return Settled.ALREADY_ENDED
