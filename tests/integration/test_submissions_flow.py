"""Submissions end to end inside one process: the API, the real broker routing by the Trigger
manifests, the storage events, the build queue and the sandboxed local builder."""

from __future__ import annotations

import io
import threading
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app
from sqlalchemy import func, select

from rlarena.adapters.builders.base import BuildOutcome
from rlarena.adapters.db.models import Submission
from rlarena.bootstrap import Platform
from rlarena.events.publisher import RecordingPublisher
from rlarena.platform import targets
from rlarena.platform.broker import InProcessBroker
from rlarena.platform.manifests import load_documents, triggers
from rlarena.service import builds
from tests.conftest import ROOT
from tests.support.api import ApiClient, User
from tests.support.seaweedfs import S3Server

GOOD_AGENT = b"def agent(observation, configuration):\n    return 0\n"
CLASS_AGENT = b"class PongAgent:\n    def act(self, observation):\n        return 1\n"
CRASHING_AGENT = b"import sys\nprint('about to fail', file=sys.stderr)\nraise RuntimeError('boom at import')\n"


class Recorder(RecordingPublisher):
    """Records every event and hands it to the real in-process broker."""

    def __init__(self, broker: InProcessBroker) -> None:
        super().__init__()
        self.broker = broker

    def publish(self, event: Any) -> None:
        super().publish(event)
        self.broker.publish(event)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "SUBMISSIONS_PER_AGENT_PER_DAY": 50,
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000,
        "CODE_URL_ALLOW_PRIVATE": True,
        "ARCHIVE_MAX_BYTES": 256 * 1024,
    }


@pytest.fixture
def events(platform: Platform, tmp_path: Path) -> Iterator[Recorder]:
    broker = InProcessBroker(
        triggers(load_documents(ROOT / "knative")),
        targets.event_services(),
        dead_letter_path=tmp_path / "dead-letters.jsonl",
        sleep=lambda _: None,
    )
    recorder = Recorder(broker)
    platform.publisher = recorder
    yield recorder
    broker.close()


@pytest.fixture
def submissions_client(platform: Platform) -> Any:
    return create_app("submissions_http", str(ROOT / "functions" / "submissions" / "main.py")).test_client()  # type: ignore[no-untyped-call]


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def upload(client: Any, user: User, agent_id: str, filename: str, data: bytes) -> Any:
    return client.post(
        "/api/v1/submissions",
        data={"agentId": agent_id, "file": (io.BytesIO(data), filename)},
        headers=user.headers,
        content_type="multipart/form-data",
    )


def settle(events: Recorder) -> None:
    """Wait until every delivery, including those that earlier deliveries published, is done."""
    for _ in range(20):
        assert events.broker.drain(30), "the broker did not settle"
        if events.broker.pending() == 0:
            return
    raise AssertionError("events kept coming")


def submission(client: Any, user: User, submission_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/submissions/{submission_id}", headers=user.headers)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json["submission"]
    return body


def count_rows(platform: Platform) -> int:
    with platform.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Submission)) or 0)


@pytest.fixture
def owner(api: ApiClient) -> User:
    return api.register("builder")


@pytest.fixture
def agent_id(api: ApiClient, owner: User) -> str:
    return str(api.create_agent(owner, "subject", "pong")["id"])


def test_a_good_upload_becomes_the_active_version(
    submissions_client: Any, api: ApiClient, owner: User, agent_id: str, events: Recorder, platform: Platform
) -> None:
    response = upload(submissions_client, owner, agent_id, "bot.zip", zipped({"my-bot/agent.py": GOOD_AGENT}))
    assert response.status_code == 201, response.json
    created = response.json["submission"]
    assert (created["version"], created["status"], created["agentId"]) == (1, "pending", agent_id)
    assert created["entryPoint"] == "agent.py"
    settle(events)
    built = submission(submissions_client, owner, created["id"])
    assert built["status"] == "active", built
    assert built["isActive"] is True
    assert "agent interface: function" in built["buildLog"]
    assert api.get(f"/api/v1/agents/{agent_id}").json["agent"]["activeSubmissionId"] == created["id"]
    status = submissions_client.get(f"/api/v1/submissions/{created['id']}/build-status", headers=owner.headers).json
    assert [h["status"] for h in status["history"]] == ["pending", "building", "validating", "active"]
    types = [e["type"] for e in events.events]
    assert types.index("dev.rlarena.build.started") < types.index("dev.rlarena.build.succeeded")
    succeeded = next(e for e in events.events if e["type"] == "dev.rlarena.build.succeeded")
    assert (succeeded.get_data() or {})["userId"] == owner.id
    # The code reached storage and can be downloaded by its owner.
    code = submissions_client.get(created["codeUrl"], headers=owner.headers)
    assert code.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(code.data)).read("my-bot/agent.py") == GOOD_AGENT


def test_a_new_version_replaces_the_old_and_the_old_can_be_activated_again(
    submissions_client: Any, api: ApiClient, owner: User, agent_id: str, events: Recorder
) -> None:
    first = upload(submissions_client, owner, agent_id, "agent.py", GOOD_AGENT).json["submission"]
    settle(events)
    second = upload(submissions_client, owner, agent_id, "pong_agent.py", CLASS_AGENT).json["submission"]
    settle(events)
    assert second["version"] == 2
    assert submission(submissions_client, owner, first["id"])["status"] == "inactive"
    assert submission(submissions_client, owner, second["id"])["status"] == "active"
    back = submissions_client.put(f"/api/v1/submissions/{first['id']}/activate", headers=owner.headers)
    assert back.status_code == 200
    assert api.get(f"/api/v1/agents/{agent_id}").json["agent"]["activeSubmissionId"] == first["id"]
    assert submission(submissions_client, owner, second["id"])["status"] == "inactive"
    listed = submissions_client.get(f"/api/v1/submissions/agent/{agent_id}", headers=owner.headers).json
    assert [s["version"] for s in listed["submissions"]] == [2, 1]
    assert listed["total"] == 2


def test_builds_that_finish_out_of_order_leave_the_newest_version_active(
    submissions_client: Any, owner: User, agent_id: str, platform: Platform
) -> None:
    # No broker here: the uploads wait in the queue and the builds are finished by hand, v2 first.
    first = upload(submissions_client, owner, agent_id, "agent.py", GOOD_AGENT).json["submission"]
    second = upload(submissions_client, owner, agent_id, "agent.py", GOOD_AGENT).json["submission"]
    tickets = {str(t.submission_id): t for t in (builds.claim_next(platform), builds.claim_next(platform)) if t}
    assert set(tickets) == {first["id"], second["id"]}
    built = BuildOutcome(ok=True, log="ok", interface="agent(observation, configuration)")
    builds.finish_build(platform, tickets[second["id"]], built)
    builds.finish_build(platform, tickets[first["id"]], built)
    assert submission(submissions_client, owner, second["id"])["status"] == "active"
    late = submission(submissions_client, owner, first["id"])
    assert late["status"] == "inactive"
    assert not late["isActive"]
    history = submissions_client.get(f"/api/v1/submissions/{first['id']}/build-status", headers=owner.headers).json
    assert "newer version 2 stays active" in str(history)


def test_an_agent_that_crashes_on_import_fails_with_its_traceback(
    submissions_client: Any, owner: User, agent_id: str, events: Recorder, platform: Platform
) -> None:
    created = upload(submissions_client, owner, agent_id, "agent.py", CRASHING_AGENT).json["submission"]
    settle(events)
    failed = submission(submissions_client, owner, created["id"])
    assert failed["status"] == "failed"
    assert "boom at import" in failed["errorMessage"]
    logs = submissions_client.get(f"/api/v1/submissions/{created['id']}/build-logs", headers=owner.headers).json
    assert "RuntimeError: boom at import" in logs["buildLog"]
    assert "about to fail" in logs["buildLog"]
    assert any(e["type"] == "dev.rlarena.build.failed" for e in events.events)
    # Activating a failed build is refused.
    refused = submissions_client.put(f"/api/v1/submissions/{created['id']}/activate", headers=owner.headers)
    assert refused.status_code == 409


def test_an_agent_that_crashes_on_its_first_move_fails_the_validation_match(
    submissions_client: Any, owner: User, agent_id: str, events: Recorder
) -> None:
    code = b"def agent(observation, configuration):\n    return 1 / 0\n"
    created = upload(submissions_client, owner, agent_id, "agent.py", code).json["submission"]
    settle(events)
    failed = submission(submissions_client, owner, created["id"])
    assert failed["status"] == "failed"
    assert "validation match failed (ERROR)" in failed["errorMessage"]
    logs = submissions_client.get(f"/api/v1/submissions/{created['id']}/build-logs", headers=owner.headers).json
    assert "ZeroDivisionError" in logs["buildLog"]
    assert "validation match against itself" in logs["buildLog"]


def test_an_agent_that_plays_illegal_moves_fails_the_validation_match(
    submissions_client: Any, api: ApiClient, owner: User, events: Recorder
) -> None:
    board = str(api.create_agent(owner, "cheater", "tic-tac-toe")["id"])
    code = b"def agent(observation, configuration):\n    return 4\n"  # the centre, every move
    created = upload(submissions_client, owner, board, "agent.py", code).json["submission"]
    settle(events)
    failed = submission(submissions_client, owner, created["id"])
    assert failed["status"] == "failed"
    assert "INVALID" in failed["errorMessage"]


def test_an_agent_without_an_interface_fails_saying_which_forms_are_accepted(
    submissions_client: Any, owner: User, agent_id: str, events: Recorder
) -> None:
    created = upload(submissions_client, owner, agent_id, "agent.py", b"x = 1\n").json["submission"]
    settle(events)
    failed = submission(submissions_client, owner, created["id"])
    assert failed["status"] == "failed"
    assert "create_agent" in failed["errorMessage"]


@pytest.mark.parametrize(
    ("filename", "data", "code"),
    [
        ("bot.exe", b"MZ", "unsupported_type"),
        ("bot.zip", b"not a zip at all", "bad_archive"),
        ("bot.zip", zipped({"../evil.py": GOOD_AGENT}), "unsafe_path"),
        ("bot.zip", zipped({"README.md": b"hi"}), "no_entry_point"),
        ("agent.py", b"def agent(:\n", "syntax_error"),
    ],
)
def test_bad_uploads_are_400_and_leave_nothing_behind(
    submissions_client: Any,
    owner: User,
    agent_id: str,
    events: Recorder,
    platform: Platform,
    filename: str,
    data: bytes,
    code: str,
) -> None:
    response = upload(submissions_client, owner, agent_id, filename, data)
    assert response.status_code == 400, response.json
    assert response.json["code"] == code
    assert count_rows(platform) == 0
    assert platform.store.list("submissions/") == []


def test_an_oversized_upload_is_413_and_leaves_nothing_behind(
    submissions_client: Any, owner: User, agent_id: str, platform: Platform
) -> None:
    response = upload(submissions_client, owner, agent_id, "agent.py", b"#" * (300 * 1024))
    assert response.status_code == 413
    assert count_rows(platform) == 0
    assert platform.store.list("submissions/") == []


def test_uploads_are_owner_only_and_code_is_private(
    submissions_client: Any, api: ApiClient, owner: User, agent_id: str, events: Recorder
) -> None:
    stranger = api.register("stranger")
    assert upload(submissions_client, stranger, agent_id, "agent.py", GOOD_AGENT).status_code == 403
    created = upload(submissions_client, owner, agent_id, "agent.py", GOOD_AGENT).json["submission"]
    settle(events)
    for path in ("", "/build-status", "/build-logs", "/code"):
        assert (
            submissions_client.get(f"/api/v1/submissions/{created['id']}{path}", headers=stranger.headers).status_code
            == 403
        )
    assert submissions_client.get(f"/api/v1/submissions/agent/{agent_id}", headers=stranger.headers).status_code == 403
    assert (
        submissions_client.put(f"/api/v1/submissions/{created['id']}/activate", headers=stranger.headers).status_code
        == 403
    )
    assert submissions_client.get(f"/api/v1/submissions/{created['id']}").status_code == 401


def test_rebuilds_only_for_failed_builds_and_at_most_three(
    submissions_client: Any, owner: User, agent_id: str, events: Recorder
) -> None:
    created = upload(submissions_client, owner, agent_id, "agent.py", CRASHING_AGENT).json["submission"]
    settle(events)
    for attempt in range(1, 4):
        response = submissions_client.post(f"/api/v1/submissions/{created['id']}/rebuild", headers=owner.headers)
        assert response.status_code == 202, response.json
        settle(events)
        again = submission(submissions_client, owner, created["id"])
        assert (again["status"], again["retryCount"]) == ("failed", attempt)
    fourth = submissions_client.post(f"/api/v1/submissions/{created['id']}/rebuild", headers=owner.headers)
    assert fourth.status_code == 409
    assert fourth.json["code"] == "rebuild_limit"
    good = upload(submissions_client, owner, agent_id, "agent.py", GOOD_AGENT).json["submission"]
    settle(events)
    not_failed = submissions_client.post(f"/api/v1/submissions/{good['id']}/rebuild", headers=owner.headers)
    assert not_failed.status_code == 409


def test_concurrent_uploads_get_distinct_versions(
    submissions_client: Any, owner: User, agent_id: str, events: Recorder, platform: Platform
) -> None:
    def send(_: int) -> int:
        response = upload(submissions_client, owner, agent_id, "agent.py", GOOD_AGENT)
        assert response.status_code == 201, response.json
        return int(response.json["submission"]["version"])

    with ThreadPoolExecutor(max_workers=6) as pool:
        versions = list(pool.map(send, range(12)))
    assert sorted(versions) == list(range(1, 13))
    settle(events)
    with platform.uow() as uow:
        active = uow.session.scalars(select(Submission).where(Submission.is_active.is_(True))).all()
    assert len(active) == 1
    # Builds finish in any order; the newest upload is the one left active.
    assert active[0].version == 12


class TestQuota:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"SUBMISSIONS_PER_AGENT_PER_DAY": 2, "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000}

    def test_the_daily_quota_is_429_saying_when_it_resets(
        self, submissions_client: Any, owner: User, agent_id: str, events: Recorder, platform: Platform
    ) -> None:
        for _ in range(2):
            assert upload(submissions_client, owner, agent_id, "agent.py", GOOD_AGENT).status_code == 201
        third = upload(submissions_client, owner, agent_id, "agent.py", GOOD_AGENT)
        assert third.status_code == 429
        assert "resets at" in third.json["error"]
        assert int(third.headers["Retry-After"]) > 0
        assert count_rows(platform) == 2


@pytest.fixture
def code_server() -> Iterator[str]:
    files = {"/bot.zip": zipped({"agent.py": GOOD_AGENT}), "/big.zip": b"x" * (400 * 1024)}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = files.get(self.path)
            if self.path == "/moved.zip":
                self.send_response(302)
                self.send_header("Location", "/bot.zip")
                self.end_headers()
                return
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_code_url_submission_is_fetched_and_built(
    submissions_client: Any, owner: User, agent_id: str, events: Recorder, code_server: str
) -> None:
    response = submissions_client.post(
        "/api/v1/submissions", json={"agentId": agent_id, "codeUrl": f"{code_server}/bot.zip"}, headers=owner.headers
    )
    assert response.status_code == 201, response.json
    assert response.json["submission"]["codeUrl"] == f"{code_server}/bot.zip"
    settle(events)
    assert submission(submissions_client, owner, response.json["submission"]["id"])["status"] == "active"


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/missing.zip", 400, "code_url_unreachable"),
        ("/big.zip", 413, "archive_too_large"),
        ("/moved.zip", 400, "code_url_redirect"),
    ],
)
def test_code_urls_that_cannot_be_fetched_are_clear_errors(
    submissions_client: Any,
    owner: User,
    agent_id: str,
    code_server: str,
    platform: Platform,
    path: str,
    status: int,
    code: str,
) -> None:
    response = submissions_client.post(
        "/api/v1/submissions", json={"agentId": agent_id, "codeUrl": f"{code_server}{path}"}, headers=owner.headers
    )
    assert response.status_code == status, response.json
    assert response.json["code"] == code
    assert count_rows(platform) == 0


class TestPrivateAddresses:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"CODE_URL_ALLOW_PRIVATE": False, "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000}

    @pytest.mark.parametrize(
        "url",
        ["http://127.0.0.1:9/bot.zip", "http://169.254.169.254/latest/bot.zip", "file:///etc/passwd", "ftp://x/a.zip"],
    )
    def test_code_urls_cannot_reach_into_the_platforms_network(
        self, submissions_client: Any, owner: User, agent_id: str, url: str
    ) -> None:
        response = submissions_client.post(
            "/api/v1/submissions", json={"agentId": agent_id, "codeUrl": url}, headers=owner.headers
        )
        assert response.status_code == 400
        assert response.json["code"] in ("code_url_forbidden", "bad_code_url")


def test_the_direct_upload_flow_builds_when_the_object_arrives(
    submissions_client: Any, owner: User, agent_id: str, events: Recorder
) -> None:
    ticket = submissions_client.post(
        "/api/v1/submissions/upload-url", json={"agentId": agent_id, "filename": "bot.zip"}, headers=owner.headers
    )
    assert ticket.status_code == 201, ticket.json
    body = ticket.json
    assert body["submission"]["status"] == "uploading"
    assert body["method"] == "PUT"
    # The local folder store cannot presign: the function takes the PUT itself.
    assert body["uploadUrl"] == f"/api/v1/submissions/{body['submission']['id']}/upload"
    put = submissions_client.put(body["uploadUrl"], data=zipped({"agent.py": GOOD_AGENT}), headers=owner.headers)
    assert put.status_code == 202
    settle(events)
    assert submission(submissions_client, owner, body["submission"]["id"])["status"] == "active"
    # A second PUT for the same submission is refused.
    again = submissions_client.put(body["uploadUrl"], data=zipped({"agent.py": GOOD_AGENT}), headers=owner.headers)
    assert again.status_code == 409


def test_a_bad_direct_upload_fails_and_its_object_is_removed(
    submissions_client: Any, owner: User, agent_id: str, events: Recorder, platform: Platform
) -> None:
    body = submissions_client.post(
        "/api/v1/submissions/upload-url", json={"agentId": agent_id, "filename": "bot.zip"}, headers=owner.headers
    ).json
    submissions_client.put(body["uploadUrl"], data=b"garbage", headers=owner.headers)
    settle(events)
    failed = submission(submissions_client, owner, body["submission"]["id"])
    assert failed["status"] == "failed"
    assert "zip" in failed["errorMessage"].lower()
    assert platform.store.list("submissions/") == []


class TestStorageWebhook:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, object]:
        return {"STORAGE_WEBHOOK_TOKEN": "hook-token"}

    def test_it_checks_its_token_and_publishes_one_event_per_record(
        self, submissions_client: Any, platform: Platform
    ) -> None:
        publish_one_event_per_record(submissions_client, platform)


def publish_one_event_per_record(submissions_client: Any, platform: Platform) -> None:
    recorder = RecordingPublisher()
    platform.publisher = recorder
    body = {
        "EventName": "s3:ObjectCreated:Put",
        "Key": "rlarena/submissions/a/b/source.zip",
        "Records": [
            {
                "eventName": "s3:ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "rlarena"},
                    "object": {"key": "submissions/a%20b/source.zip", "size": 12, "eTag": "abc"},
                },
            },
            {
                "eventName": "s3:ObjectCreated:CompleteMultipartUpload",
                "s3": {"bucket": {"name": "rlarena"}, "object": {"key": "submissions/c/source.zip", "size": 99}},
            },
        ],
    }
    unauthorised = submissions_client.post("/internal/storage-events", json=body)
    assert unauthorised.status_code == 401
    wrong = submissions_client.post("/internal/storage-events", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    accepted = submissions_client.post(
        "/internal/storage-events", json=body, headers={"Authorization": "Bearer hook-token"}
    )
    assert accepted.status_code == 202
    assert [(e.get_data() or {})["key"] for e in recorder.events] == [
        "submissions/a b/source.zip",
        "submissions/c/source.zip",
    ]
    malformed = submissions_client.post(
        "/internal/storage-events", data=b"{nope", headers={"Authorization": "Bearer hook-token"}
    )
    assert malformed.status_code == 400


def test_unknown_and_foreign_objects_are_ignored(platform: Platform, events: Recorder) -> None:
    from rlarena.service import submissions as service

    assert service.accept_stored_object(platform, f"submissions/{uuid.uuid4()}/x/source.zip", 10) is False


class TestPresignedUploadsOnS3:
    """The cluster's path: presigned PUT straight to S3, MinIO's webhook, the bridge, the build."""

    @pytest.fixture
    def settings_overrides(self, s3_server: S3Server) -> dict[str, object]:
        return {
            "S3_ENDPOINT": s3_server.endpoint,
            "S3_ACCESS_KEY": s3_server.access_key,
            "S3_SECRET_KEY": s3_server.secret_key,
            "S3_BUCKET": f"t-{uuid.uuid4().hex}",
            "STORAGE_WEBHOOK_TOKEN": "hook-token",
            "SUBMISSION_RATE_LIMIT_PER_MINUTE": 1000,
        }

    def test_a_presigned_upload_builds_after_the_bucket_notification(
        self, submissions_client: Any, owner: User, agent_id: str, events: Recorder, platform: Platform
    ) -> None:
        platform.store.ensure_bucket()
        ticket = submissions_client.post(
            "/api/v1/submissions/upload-url", json={"agentId": agent_id, "filename": "bot.zip"}, headers=owner.headers
        ).json
        assert ticket["uploadUrl"].startswith(f"http://{platform.settings.s3_endpoint}/")
        request = urllib.request.Request(
            ticket["uploadUrl"], data=zipped({"agent.py": GOOD_AGENT}), method="PUT", headers=ticket["headers"]
        )
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 200
        key = f"submissions/{agent_id}/{ticket['submission']['id']}/source.zip"
        stored = platform.store.stat(key)
        assert stored is not None
        notification = {
            "EventName": "s3:ObjectCreated:Put",
            "Key": f"{platform.settings.s3_bucket}/{key}",
            "Records": [
                {
                    "eventName": "s3:ObjectCreated:Put",
                    "s3": {
                        "bucket": {"name": platform.settings.s3_bucket},
                        "object": {"key": urllib.parse.quote(key), "size": stored.size, "eTag": stored.etag},
                    },
                }
            ],
        }
        accepted = submissions_client.post(
            "/internal/storage-events", json=notification, headers={"Authorization": "Bearer hook-token"}
        )
        assert accepted.status_code == 202
        settle(events)
        assert submission(submissions_client, owner, ticket["submission"]["id"])["status"] == "active"
