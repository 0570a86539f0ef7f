"""What the matchmaker records about matches and waiting agents: pure rules, no I/O.

- how long a waiting agent has been rested (its pairing window widens from then on);
- whom it may not meet again yet (its last opponent, until the rematch delay has passed);
- what a booked match records for each of its agents (side and opponent);
- what failing an open match records on it.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from rlarena.domain.end_reasons import failed_reason
from rlarena.domain.statuses import MatchStatus
from rlarena.domain.texts import cap_text

NO_RECENT: frozenset[uuid.UUID] = frozenset()


def waited_seconds(enqueued_at: datetime, last_match_at: datetime | None, now: datetime, cooldown: timedelta) -> float:
    """Seconds an agent has been both queued and rested (never negative)."""
    since = enqueued_at if last_match_at is None else max(enqueued_at, last_match_at + cooldown)
    return max(0.0, float((now - since).total_seconds()))


def recent_opponents(
    last_opponent_id: uuid.UUID | None, last_match_at: datetime | None, now: datetime, rematch_after: timedelta
) -> frozenset[uuid.UUID]:
    """The last opponent, until `rematch_after` has passed (so two lone agents still meet again)."""
    if last_opponent_id is None or last_match_at is None or now - last_match_at >= rematch_after:
        return NO_RECENT
    return frozenset([last_opponent_id])


class BookedSide(NamedTuple):
    """One agent's side of a booked match, as its queue entry records it."""

    agent_id: uuid.UUID
    match_id: uuid.UUID
    side: int  # 1 or 2
    opponent_id: uuid.UUID


def sides_of(match_id: uuid.UUID, first: uuid.UUID, second: uuid.UUID) -> tuple[BookedSide, BookedSide]:
    """The first agent plays side 1 against the second, the second side 2 against the first."""
    return BookedSide(first, match_id, 1, second), BookedSide(second, match_id, 2, first)


class OpenMatch(Protocol):
    """What failing a match writes (a match row, or any object with these fields)."""

    status: str
    error_message: str | None
    end_reason: str | None
    completed_at: datetime | None
    updated_at: datetime


def record_failure(match: OpenMatch, reason: str, now: datetime) -> None:
    """Failed, with the reason (capped: it may quote an agent) and an end reason saying so, ended now."""
    match.status = MatchStatus.FAILED.value
    match.error_message = cap_text(reason)
    match.end_reason = failed_reason(reason)
    match.completed_at = now
    match.updated_at = now
