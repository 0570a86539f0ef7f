"""The daily upload quota under concurrency, through the HTTP API, on SQLite and PostgreSQL; upload
bookings whose URL expired; presigned uploads to a real S3 server (SeaweedFS) that no bucket
notification announces, completed by the tick.

Before the quota was counted and inserted in one transaction under the agent's lock, 10 parallel
uploads after 3 left 8 rows on PostgreSQL and 6 on SQLite for a quota of 5.
"""

from __future__ import annotations

import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cloudevents.http import CloudEvent

from rlarena.adapters.db.models import Submission
from rlarena.bootstrap import Platform
from rlarena.entrypoints import submissions as submission_functions
from rlarena.events.catalogue import EventType
from rlarena.service import submissions
from tests.support.api import ApiClient, User
from tests.support.running_platform import zipped
from tests.support.seaweedfs import S3Server

AGENT = b"def agent(observation, configuration):\n    return 0\n"
PER_DAY = 5


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "SUBMISSIONS_PER_AGENT_PER_DAY": PER_DAY,
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000,
        "CODE_URL_ALLOW_PRIVATE": True,
    }


@pytest.fixture
def code_server() -> Iterator[str]:
    body = zipped({"agent.py": AGENT})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def rows_of(platform: Platform, agent_id: str) -> list[Submission]:
    with platform.uow() as uow:
        rows = uow.session.query(Submission).filter(Submission.agent_id == uuid.UUID(agent_id)).all()
        uow.session.expunge_all()
        return rows


def statuses(platform: Platform, agent_id: str) -> list[str]:
    return sorted(row.status for row in rows_of(platform, agent_id))


def stored_objects(platform: Platform, agent_id: str) -> list[str]:
    return [stored.key for stored in platform.store.list(f"submissions/{agent_id}/")]


def tick() -> None:
    """The builder's PingSource tick, as its Trigger delivers it."""
    ping = CloudEvent(
        {"type": EventType.PING.value, "source": "/apis/v1/namespaces/rlarena/pingsources/builder-jobs-tick"},
        {"reason": "builder tick"},
    )
    submission_functions.on_job_event(ping)


def assert_quota_refusal(response: Any) -> None:
    assert response.status_code == 429, response.json
    assert response.json["code"] == "rate_limited"
    assert "resets at" in response.json["error"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json["details"]["retryAfterSeconds"] == int(response.headers["Retry-After"])


def in_parallel(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run every call at once (a barrier lines the threads up) and return the responses in order."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], Any]) -> Any:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def test_ten_parallel_api_uploads_after_three_leave_exactly_the_quota(platform: Platform, api: ApiClient) -> None:
    owner = api.register("racer")
    agent_id = str(api.create_agent(owner, "racer", "pong")["id"])
    for _ in range(3):
        assert api.upload(owner, agent_id, "agent.py", AGENT).status_code == 201

    responses = in_parallel([lambda: api.upload(owner, agent_id, "agent.py", AGENT) for _ in range(10)])

    codes = sorted(response.status_code for response in responses)
    print(f"\n10 parallel uploads after 3: {codes.count(201)} accepted, {codes.count(429)} refused")
    assert codes == [201] * (PER_DAY - 3) + [429] * (10 - (PER_DAY - 3))
    for response in responses:
        if response.status_code == 429:
            assert_quota_refusal(response)
    assert len(rows_of(platform, agent_id)) == PER_DAY  # before the fix: 8 (PostgreSQL), 6 (SQLite)
    # A refused upload stored nothing: exactly one object per row, each the row's own.
    assert sorted(stored_objects(platform, agent_id)) == sorted(
        str(row.source_key) for row in rows_of(platform, agent_id)
    )


def test_uploads_bookings_and_code_urls_in_parallel_share_one_quota(
    platform: Platform, api: ApiClient, code_server: str
) -> None:
    owner = api.register("mixer")
    agent_id = str(api.create_agent(owner, "mixer", "pong")["id"])
    for _ in range(3):
        assert api.upload(owner, agent_id, "agent.py", AGENT).status_code == 201

    def upload() -> Any:
        return api.upload(owner, agent_id, "agent.py", AGENT)

    def book() -> Any:
        return api.post(
            "/api/v1/submissions/upload-url", json={"agentId": agent_id, "filename": "bot.zip"}, headers=owner.headers
        )

    def from_url() -> Any:
        return api.post(
            "/api/v1/submissions",
            json={"agentId": agent_id, "codeUrl": f"{code_server}/bot.zip"},
            headers=owner.headers,
        )

    responses = in_parallel([upload, book, from_url] * 4)

    accepted = [response for response in responses if response.status_code == 201]
    assert len(accepted) == PER_DAY - 3, [response.status_code for response in responses]
    for response in responses:
        if response.status_code != 201:
            assert_quota_refusal(response)
    assert len(rows_of(platform, agent_id)) == PER_DAY
    stored = stored_objects(platform, agent_id)
    assert len(stored) == len([row for row in rows_of(platform, agent_id) if row.status != "uploading"])


def book(platform: Platform, owner: User, agent_id: str) -> submissions.UploadTicket:
    return submissions.request_upload_url(platform, uuid.UUID(owner.id), uuid.UUID(agent_id), "agent.py")


def later(platform: Platform, by: timedelta) -> None:
    now = platform.clock
    platform.clock = lambda: now() + by


def within_one_quota_day(platform: Platform) -> None:
    """The tests that move the clock past an upload URL's expiry count a daily quota: started less
    than two hours before midnight UTC, that quota would reset half way through (they failed at
    23:59). Start them just after midnight then."""
    now = platform.clock()
    tomorrow = submissions.quota_day_start(now) + timedelta(days=1)
    if tomorrow - now < timedelta(hours=2):
        later(platform, tomorrow + timedelta(minutes=1) - now)


def test_an_expired_booking_frees_the_quota_at_once_and_the_tick_fails_it_and_deletes_its_object(
    platform: Platform, api: ApiClient
) -> None:
    owner = api.register("booker")
    agent_id = str(api.create_agent(owner, "booker", "pong")["id"])
    within_one_quota_day(platform)  # after the token is issued: tokens are checked against the real time
    tickets = [book(platform, owner, agent_id) for _ in range(PER_DAY)]
    refused = api.post(
        "/api/v1/submissions/upload-url", json={"agentId": agent_id, "filename": "bot.zip"}, headers=owner.headers
    )
    assert_quota_refusal(refused)
    partial = tickets[0].view.submission.source_key
    assert partial is not None
    platform.store.put(partial, b"PK\x03\x04 half an archive")  # written late, after its URL expired

    # One second past the expiry (the same day): the bookings no longer count, before any tick ran.
    later(platform, platform.settings.upload_url_expiry + timedelta(seconds=1))
    assert api.upload(owner, agent_id, "agent.py", AGENT).status_code == 201

    tick()
    rows = rows_of(platform, agent_id)
    failed = [row for row in rows if row.status == "failed"]
    assert len(failed) == PER_DAY
    assert {row.error_message for row in failed} == {submissions.NEVER_ARRIVED}
    assert "the upload never arrived before its URL expired" in submissions.NEVER_ARRIVED
    assert partial not in stored_objects(platform, agent_id)  # the partial object is gone
    assert len(stored_objects(platform, agent_id)) == 1  # only the accepted upload's
    tick()  # a second tick changes nothing
    assert statuses(platform, agent_id) == sorted(row.status for row in rows)


def test_a_notification_that_arrives_after_expiry_is_taken_only_while_the_quota_has_room(
    platform: Platform, api: ApiClient
) -> None:
    owner = api.register("tardy")
    agent_id = str(api.create_agent(owner, "tardy", "pong")["id"])
    within_one_quota_day(platform)  # after the token is issued: tokens are checked against the real time
    first, second = book(platform, owner, agent_id), book(platform, owner, agent_id)
    later(platform, platform.settings.upload_url_expiry + timedelta(seconds=1))
    for ticket in (first, second):
        key = ticket.view.submission.source_key
        assert key is not None
        platform.store.put(key, AGENT)

    first_key = str(first.view.submission.source_key)
    assert submissions.accept_stored_object(platform, first_key, len(AGENT))  # room: taken
    for _ in range(PER_DAY - 1):
        assert api.upload(owner, agent_id, "agent.py", AGENT).status_code == 201
    second_key = str(second.view.submission.source_key)
    assert submissions.accept_stored_object(platform, second_key, len(AGENT))  # no room: refused

    by_id = {row.id: row for row in rows_of(platform, agent_id)}
    assert by_id[first.view.submission.id].status == "pending"
    assert by_id[second.view.submission.id].status == "failed"
    assert by_id[second.view.submission.id].error_message == submissions.ARRIVED_TOO_LATE
    assert second_key not in stored_objects(platform, agent_id)
    assert len([row for row in by_id.values() if row.status != "failed"]) == PER_DAY


class TestPresignedUploadsOnS3WithoutNotifications:
    """The local platform with an S3 store: SeaweedFS sends no bucket notification, the tick looks."""

    @pytest.fixture
    def settings_overrides(self, s3_server: S3Server) -> dict[str, object]:
        return {
            "S3_ENDPOINT": s3_server.endpoint,
            "S3_ACCESS_KEY": s3_server.access_key,
            "S3_SECRET_KEY": s3_server.secret_key,
            "S3_BUCKET": f"t-{uuid.uuid4().hex}",
            "SUBMISSIONS_PER_AGENT_PER_DAY": PER_DAY,
            "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000,
        }

    def test_a_presigned_put_is_built_after_the_tick(self, platform: Platform, api: ApiClient) -> None:
        platform.store.ensure_bucket()
        owner = api.register("s3user")
        agent_id = str(api.create_agent(owner, "s3bot", "pong")["id"])
        within_one_quota_day(platform)  # after the token is issued: tokens are checked against the real time
        ticket = api.post(
            "/api/v1/submissions/upload-url", json={"agentId": agent_id, "filename": "bot.zip"}, headers=owner.headers
        ).json
        assert ticket["uploadUrl"].startswith(f"http://{platform.settings.s3_endpoint}/")
        assert datetime.fromisoformat(ticket["expiresAt"].replace("Z", "+00:00")) > platform.clock()
        request = urllib.request.Request(
            ticket["uploadUrl"], data=zipped({"agent.py": AGENT}), method="PUT", headers=ticket["headers"]
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200
        assert statuses(platform, agent_id) == ["uploading"]  # nobody announced it

        tick()  # takes the upload, and its catch-up runs the build queue

        # Accepted (pending), then built by the same tick's catch-up with the local builder.
        assert statuses(platform, agent_id) == ["active"]
        tick()  # taken once
        assert len(rows_of(platform, agent_id)) == 1

    def test_an_expired_booking_on_s3_fails_on_the_tick(self, platform: Platform, api: ApiClient) -> None:
        platform.store.ensure_bucket()
        owner = api.register("s3late")
        agent_id = str(api.create_agent(owner, "s3late", "pong")["id"])
        book(platform, owner, agent_id)
        later(platform, platform.settings.upload_url_expiry + timedelta(seconds=1))
        tick()
        assert statuses(platform, agent_id) == ["failed"]
        assert stored_objects(platform, agent_id) == []
