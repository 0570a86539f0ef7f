"""S3 down while builds wait: they back off and build once it is back, instead of failing (real
SeaweedFS, stopped and started on the same data; both databases)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from rlarena.adapters.db.models import Submission
from rlarena.bootstrap import Platform
from rlarena.errors import EventRetry
from rlarena.service import build_queue, builds, submissions
from tests.support.api import ApiClient
from tests.support.seaweedfs import StoppableS3, stoppable_s3

AGENT = b"def agent(observation, configuration):\n    return 0\n"


@pytest.fixture(scope="module")
def weed() -> Iterator[StoppableS3]:
    with stoppable_s3() as server:
        yield server


@pytest.fixture
def settings_overrides(weed: StoppableS3) -> dict[str, object]:
    weed.start()
    return {
        "S3_ENDPOINT": weed.server.endpoint,
        "S3_ACCESS_KEY": weed.server.access_key,
        "S3_SECRET_KEY": weed.server.secret_key,
        "S3_BUCKET": f"outage-{uuid.uuid4().hex[:16]}",
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000,
    }


def rows(platform: Platform, agent_id: uuid.UUID) -> list[Submission]:
    with platform.uow() as uow:
        found = uow.session.query(Submission).filter(Submission.agent_id == agent_id).order_by(Submission.version)
        return [uow.session.merge(row, load=False) for row in found]


def test_s3_down_during_builds_delays_them_and_they_build_once_it_is_back(
    platform: Platform, api: ApiClient, weed: StoppableS3
) -> None:
    platform.store.ensure_bucket()
    owner = api.register("patient")
    agent_id = uuid.UUID(str(api.create_agent(owner, "patient", "pong")["id"]))
    for _ in range(3):
        submissions.submit_upload(platform, uuid.UUID(owner.id), agent_id, "agent.py", AGENT)

    weed.stop()
    start, waited = platform.clock, timedelta()
    for failures in range(1, builds.MAX_INFRA_FAILURES - 1):  # one try short of giving up
        with pytest.raises(EventRetry):
            build_queue.run_queue(platform)
        waited += builds.infrastructure_backoff(failures) + timedelta(seconds=1)
        platform.clock = lambda waited=waited: start() + waited  # type: ignore[misc]
    assert waited >= timedelta(minutes=2)  # the outage outlived two minutes of retries
    assert {row.status for row in rows(platform, agent_id)} == {"pending"}  # waiting, not failed

    weed.start()
    for _ in range(6):
        build_queue.run_queue(platform)
    statuses = [(row.version, row.status, row.is_active) for row in rows(platform, agent_id)]
    assert statuses == [(1, "inactive", False), (2, "inactive", False), (3, "active", True)]
