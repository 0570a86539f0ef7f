"""The submissions function's answers: submissions, upload tickets, build status and logs."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import Field

from rlarena.domain.statuses import SubmissionStatus
from rlarena.http.schemas.base import Schema


class Submission(Schema):
    """One version of an agent's code and how far its build got."""

    id: uuid.UUID
    agent_id: uuid.UUID
    agent_name: str
    environment_id: str
    version: int
    status: SubmissionStatus
    code_url: str | None = Field(description="Where the code came from, or this API's download path")
    docker_image_url: str | None
    build_job_name: str | None
    build_pod_name: str | None
    build_log: str | None
    retry_count: int
    last_retry_at: datetime | None
    error_message: str | None
    is_active: bool
    entry_point: str | None
    source_filename: str | None
    source_size: int | None
    sha256: str | None
    created_at: datetime | None
    updated_at: datetime | None


class SubmissionReply(Schema):
    submission: Submission


class SubmissionMessage(Schema):
    submission: Submission
    message: str


class SubmissionList(Schema):
    submissions: list[Submission]
    total: int


class UploadTicket(Schema):
    """A presigned upload: send the archive with `method` to `uploadUrl`, with `headers`, before `expiresAt`."""

    submission: Submission
    upload_url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


class UploadReceived(Schema):
    submission_id: uuid.UUID
    status: str


class Transition(Schema):
    status: SubmissionStatus
    message: str | None
    at: datetime | None


class BuildStatus(Schema):
    submission_id: uuid.UUID
    status: SubmissionStatus
    created_at: datetime | None
    updated_at: datetime | None
    build_job_name: str | None
    build_pod_name: str | None
    docker_image_url: str | None
    error_message: str | None
    vulnerabilities: dict[str, Any] | None
    retry_count: int
    history: list[Transition]


class BuildLogs(Schema):
    submission_id: uuid.UUID
    status: SubmissionStatus
    build_log: str
    updated_at: datetime | None


class StorageEventsAccepted(Schema):
    accepted: int = Field(ge=0, description="How many created objects became events")
