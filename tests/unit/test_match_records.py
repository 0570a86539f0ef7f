"""The matchmaker's record-keeping rules, on plain values and a fake match: no database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rlarena.domain.match_records import (
    BookedSide,
    recent_opponents,
    record_failure,
    sides_of,
    waited_seconds,
)
from rlarena.domain.statuses import MatchStatus
from rlarena.domain.texts import ERROR_TEXT_CAP

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
COOLDOWN = timedelta(minutes=5)
REMATCH = timedelta(minutes=30)


def test_an_agent_that_never_played_has_waited_since_it_was_queued() -> None:
    assert waited_seconds(NOW - timedelta(seconds=90), None, NOW, COOLDOWN) == 90.0


def test_after_a_match_the_wait_counts_from_the_end_of_the_cooldown() -> None:
    queued = NOW - timedelta(minutes=20)
    played = NOW - timedelta(minutes=10)
    assert waited_seconds(queued, played, NOW, COOLDOWN) == 300.0  # rested 5 of the 10 minutes
    # Queued again after its cooldown ended (e.g. freed by a failed match): from the queueing.
    assert waited_seconds(NOW - timedelta(seconds=30), played, NOW, COOLDOWN) == 30.0


def test_the_wait_is_never_negative() -> None:
    assert waited_seconds(NOW + timedelta(seconds=5), None, NOW, COOLDOWN) == 0.0
    assert waited_seconds(NOW, NOW - timedelta(minutes=1), NOW, COOLDOWN) == 0.0


def test_the_last_opponent_is_avoided_until_the_rematch_delay_has_passed() -> None:
    other = uuid.uuid4()
    assert recent_opponents(other, NOW - REMATCH + timedelta(seconds=1), NOW, REMATCH) == {other}
    assert recent_opponents(other, NOW - REMATCH, NOW, REMATCH) == frozenset()
    assert recent_opponents(None, NOW, NOW, REMATCH) == frozenset()
    assert recent_opponents(other, None, NOW, REMATCH) == frozenset()


def test_a_booking_records_each_side_and_its_opponent() -> None:
    match, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert sides_of(match, first, second) == (
        BookedSide(first, match, 1, second),
        BookedSide(second, match, 2, first),
    )


@dataclass
class FakeMatch:
    status: str = MatchStatus.RUNNING.value
    error_message: str | None = None
    end_reason: str | None = None
    completed_at: datetime | None = None
    updated_at: datetime = NOW - timedelta(hours=1)


def test_a_failure_records_the_capped_reason_and_when() -> None:
    match = FakeMatch()
    record_failure(match, "x" * (ERROR_TEXT_CAP + 500), NOW)
    assert match.status == MatchStatus.FAILED.value
    assert match.error_message is not None and len(match.error_message) <= ERROR_TEXT_CAP
    assert match.error_message.startswith("x") and match.error_message.endswith("more characters cut]")
    assert match.completed_at == match.updated_at == NOW
    assert match.end_reason is not None and match.end_reason.startswith("platform error")
