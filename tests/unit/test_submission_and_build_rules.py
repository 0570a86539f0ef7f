"""The submission and build rules that need no database: the daily quota, infrastructure retries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rlarena.domain.statuses import SubmissionStatus
from rlarena.service.builds import MAX_INFRA_FAILURES, after_infrastructure_failure, infrastructure_backoff
from rlarena.service.submissions import quota_day_start, quota_refusal

NOW = datetime(2026, 3, 14, 23, 59, 30, tzinfo=UTC)


def test_the_quota_counts_uploads_per_utc_day() -> None:
    assert quota_day_start(NOW) == datetime(2026, 3, 14, tzinfo=UTC)


def test_uploads_under_the_quota_pass() -> None:
    assert quota_refusal(0, 3, NOW) is None
    assert quota_refusal(2, 3, NOW) is None


def test_the_quota_refuses_and_says_when_it_resets() -> None:
    refusal = quota_refusal(3, 3, NOW)
    assert refusal is not None
    assert "3 submissions today" in refusal.message
    assert "2026-03-15T00:00:00Z" in refusal.message
    assert refusal.retry_after_seconds == 30


def test_the_retry_after_is_at_least_a_second() -> None:
    refusal = quota_refusal(5, 3, datetime(2026, 3, 14, 23, 59, 59, 999_999, tzinfo=UTC))
    assert refusal is not None and refusal.retry_after_seconds == 1


def test_an_infrastructure_failure_queues_the_attempt_again_until_the_limit() -> None:
    waits = []
    for failures in range(1, MAX_INFRA_FAILURES):
        wait = infrastructure_backoff(failures)
        waits.append(wait)
        assert after_infrastructure_failure(failures, "node lost") == (
            SubmissionStatus.PENDING,
            f"retrying in {int(wait.total_seconds())} s after: node lost",
        )
    assert waits == sorted(waits) and sum(waits, timedelta()) >= timedelta(minutes=2)  # outlives an outage
    status, message = after_infrastructure_failure(MAX_INFRA_FAILURES, "node lost")
    assert status is SubmissionStatus.FAILED
    assert "nothing is wrong with your code" in message
