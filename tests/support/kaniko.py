"""Helpers of the Kaniko build tests: submit, read back, and name what a build makes."""

from __future__ import annotations

import io
import uuid
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from rlarena.adapters.db.models import Submission
from rlarena.bootstrap import Platform
from rlarena.events.publisher import RecordingPublisher
from rlarena.service import build_queue, submissions
from tests.support.api import User
from tests.support.cluster import Cluster

BUILDS_NAMESPACE = "rlarena-builds"  # the emulated cluster's namespace for the build tests
AGENT = b"def agent(observation, configuration):\n    return 0\n"


REPORT_OK = '{"ok": true, "interface": "function", "method": "agent", "target": "agent"}'


def submit(platform: Platform, owner: User, agent_id: str, files: dict[str, bytes] | None = None) -> uuid.UUID:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in (files or {"agent.py": AGENT}).items():
            archive.writestr(name, content)
    view = submissions.submit_upload(platform, uuid.UUID(owner.id), uuid.UUID(agent_id), "bot.zip", buffer.getvalue())
    return view.submission.id


def submit_direct(platform: Platform, owner: User, agent_id: str, files: dict[str, bytes]) -> uuid.UUID:
    """The direct-upload flow: the API never sees the archive, the storage event hands it over."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    ticket = submissions.request_upload_url(platform, uuid.UUID(owner.id), uuid.UUID(agent_id), "bot.zip")
    key = ticket.view.submission.source_key
    assert key is not None
    platform.store.put(key, buffer.getvalue())
    assert submissions.accept_stored_object(platform, key, len(buffer.getvalue()))
    return ticket.view.submission.id


def row(platform: Platform, submission_id: uuid.UUID) -> Submission:
    with platform.uow() as uow:
        found = uow.session.get(Submission, submission_id)
        assert found is not None
        uow.session.expunge(found)
        return found


def later(platform: Platform, wait: timedelta) -> Callable[[], datetime]:
    """The platform's clock, `wait` (and a second) ahead: a backoff has passed."""
    now = platform.clock
    return lambda: now() + wait + timedelta(seconds=1)


def names(submission_id: uuid.UUID, version: int = 1, attempt: int = 1) -> tuple[str, str]:
    tail = f"{submission_id.hex}-v{version}-a{attempt}"
    return f"build-{tail}", f"validate-{tail}"


def published(platform: Platform, event_type: str) -> list[dict[str, Any]]:
    assert isinstance(platform.publisher, RecordingPublisher)
    return [e.get_data() or {} for e in platform.publisher.events if e["type"] == f"dev.rlarena.{event_type}"]


def build_and_validate(cluster: Cluster, platform: Platform, submission_id: uuid.UUID) -> None:
    build_name, validate_name = names(submission_id)
    build_queue.handle_job_event(platform, cluster.finish_job(build_name, ok=True, log="INFO pushed\n"))
    build_queue.handle_job_event(platform, cluster.finish_job(validate_name, ok=True, log=REPORT_OK + "\n"))
