"""The daily upload quota under concurrency, expired upload bookings, and uploads that arrive
without a bucket notification (both databases)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from rlarena.adapters.db.models import Submission
from rlarena.bootstrap import Platform
from rlarena.errors import RateLimited
from rlarena.service import submissions
from tests.support.api import ApiClient, User

AGENT = b"def agent(observation, configuration):\n    return 0\n"
PER_DAY = 5


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"SUBMISSIONS_PER_AGENT_PER_DAY": PER_DAY, "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000}


def statuses(platform: Platform, agent_id: str) -> list[str]:
    with platform.uow() as uow:
        rows = uow.session.query(Submission).filter(Submission.agent_id == uuid.UUID(agent_id)).all()
        return sorted(row.status for row in rows)


def stored_sources(platform: Platform, agent_id: str) -> int:
    return len(platform.store.list(f"submissions/{agent_id}/"))


def test_parallel_uploads_never_exceed_the_daily_quota(platform: Platform, api: ApiClient) -> None:
    owner = api.register("racer")
    agent_id = str(api.create_agent(owner, "racer", "pong")["id"])
    for _ in range(3):
        assert api.upload(owner, agent_id, "agent.py", AGENT).status_code == 201

    def upload(_: int) -> str:
        try:
            submissions.submit_upload(platform, uuid.UUID(owner.id), uuid.UUID(agent_id), "agent.py", AGENT)
        except RateLimited as refusal:
            assert refusal.retry_after_seconds >= 1
            return "refused"
        return "accepted"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(upload, range(10)))

    assert outcomes.count("accepted") == PER_DAY - 3, outcomes
    assert len(statuses(platform, agent_id)) == PER_DAY  # before the fix: 8 (PostgreSQL), 6 (SQLite)
    assert stored_sources(platform, agent_id) == PER_DAY  # a refused upload stores nothing
    refused = api.upload(owner, agent_id, "agent.py", AGENT)
    assert refused.status_code == 429 and refused.headers["Retry-After"]


def book(platform: Platform, owner: User, agent_id: str) -> submissions.UploadTicket:
    return submissions.request_upload_url(platform, uuid.UUID(owner.id), uuid.UUID(agent_id), "agent.py")


def test_an_unused_booking_stops_counting_when_its_url_expires_and_fails_on_the_tick(
    platform: Platform, api: ApiClient
) -> None:
    owner = api.register("booker")
    agent_id = str(api.create_agent(owner, "booker", "pong")["id"])
    for _ in range(PER_DAY):
        book(platform, owner, agent_id)
    with pytest.raises(RateLimited):
        book(platform, owner, agent_id)
    assert submissions.settle_bookings(platform) == submissions.BookingsSettled(arrived=0, expired=0)

    now = platform.clock
    expiry = platform.settings.upload_url_expiry
    platform.clock = lambda: now() + expiry + timedelta(seconds=1)  # same day: the quota did not reset
    fresh = book(platform, owner, agent_id)  # the expired bookings no longer count

    assert submissions.settle_bookings(platform) == submissions.BookingsSettled(arrived=0, expired=PER_DAY)
    assert statuses(platform, agent_id) == ["failed"] * PER_DAY + ["uploading"]
    with platform.uow() as uow:
        failed = uow.session.query(Submission).filter(Submission.status == "failed").first()
        assert failed is not None and failed.error_message == submissions.NEVER_ARRIVED
    assert fresh.view.submission.status == "uploading"
    assert submissions.settle_bookings(platform).expired == 0  # a second tick changes nothing


def test_an_upload_that_arrived_without_a_notification_is_taken_on_the_tick(platform: Platform, api: ApiClient) -> None:
    owner = api.register("quiet")
    agent_id = str(api.create_agent(owner, "quiet", "pong")["id"])
    ticket = book(platform, owner, agent_id)
    key = ticket.view.submission.source_key
    assert key is not None
    platform.store.put(key, AGENT)  # as the client's PUT to the presigned URL; nobody announces it

    assert submissions.settle_bookings(platform) == submissions.BookingsSettled(arrived=1, expired=0)
    assert statuses(platform, agent_id) == ["pending"]
    assert submissions.settle_bookings(platform).arrived == 0  # taken once
