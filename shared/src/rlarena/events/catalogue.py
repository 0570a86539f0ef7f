"""The CloudEvents catalogue: every type the platform publishes or consumes, its source and payload.

Payload fields are camelCase on the wire (as the REST API), snake_case in Python.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from cloudevents.http import CloudEvent
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from rlarena.errors import EventRejected

SPEC_VERSION = "1.0"


class EventType(StrEnum):
    STORAGE_OBJECT_CREATED = "dev.rlarena.storage.object.created"
    SUBMISSION_UPLOADED = "dev.rlarena.submission.uploaded"
    BUILD_STARTED = "dev.rlarena.build.started"
    BUILD_SUCCEEDED = "dev.rlarena.build.succeeded"
    BUILD_FAILED = "dev.rlarena.build.failed"
    AGENT_VALIDATED = "dev.rlarena.agent.validated"
    MATCH_SCHEDULED = "dev.rlarena.match.scheduled"
    MATCH_STARTED = "dev.rlarena.match.started"
    MATCH_FINISHED = "dev.rlarena.match.finished"
    MATCH_FAILED = "dev.rlarena.match.failed"
    RATING_UPDATED = "dev.rlarena.rating.updated"
    # Emitted by Knative itself.
    PING = "dev.knative.sources.ping"
    APISERVER_UPDATE = "dev.knative.apiserver.resource.update"


class Source(StrEnum):
    """The `source` attribute each publisher uses."""

    STORAGE = "/rlarena/storage"
    SUBMISSIONS = "/rlarena/submissions"
    BUILDER = "/rlarena/builder"
    MATCHMAKER = "/rlarena/matchmaker"
    EXECUTOR = "/rlarena/executor"
    RATINGS = "/rlarena/ratings"


class Payload(BaseModel):
    # defer_build: a payload's validator is built when its event type is first used, not at import
    # (a cold start builds the one or two its first request needs, not all fifteen).
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True, defer_build=True
    )


class StorageObjectCreated(Payload):
    """An object landed in the bucket (MinIO webhook via the bridge, or the local folder store)."""

    bucket: str
    key: str
    size: int
    etag: str = ""
    content_type: str = ""


class SubmissionEvent(Payload):
    """Common to every submission and build event: enough for the relay to address the owner."""

    submission_id: uuid.UUID
    agent_id: uuid.UUID
    user_id: uuid.UUID
    version: int
    status: str
    message: str | None = None


class SubmissionUploaded(SubmissionEvent):
    object_key: str
    build_attempt: int


class BuildStarted(SubmissionEvent):
    build_attempt: int
    build_job_name: str | None = None


class BuildSucceeded(SubmissionEvent):
    environment_id: str
    image_url: str | None = None


class BuildFailed(SubmissionEvent):
    error_message: str


class AgentValidated(SubmissionEvent):
    passed: bool


class MatchScheduled(Payload):
    match_id: uuid.UUID
    environment_id: str
    agent1_id: uuid.UUID
    agent2_id: uuid.UUID
    is_rated: bool = True


class MatchStarted(Payload):
    match_id: uuid.UUID
    environment_id: str
    agent1_id: uuid.UUID
    agent2_id: uuid.UUID
    started_at: datetime


class AgentResult(Payload):
    agent_id: uuid.UUID
    score: float
    status: str = "OK"
    error_message: str | None = None


class MatchFinished(Payload):
    match_id: uuid.UUID
    environment_id: str
    winner_id: uuid.UUID | None
    agent_results: list[AgentResult]
    total_steps: int = 0
    replay_url: str | None = None
    replay_html_url: str | None = None
    finished_at: datetime | None = None
    # Why the game ended, as the executor's runner says it (agents named by id); absent from
    # results stored before it was recorded.
    end_reason: str | None = None


class MatchFailed(Payload):
    match_id: uuid.UUID
    environment_id: str
    error_message: str


class RatingChange(Payload):
    agent_id: uuid.UUID
    user_id: uuid.UUID
    elo_before: int
    elo_after: int
    elo_change: int
    # The skill estimate (openskill mu/sigma); absent for matches rated before it existed.
    skill_mu_before: float | None = None
    skill_sigma_before: float | None = None
    skill_mu_after: float | None = None
    skill_sigma_after: float | None = None


class RatingUpdated(Payload):
    match_id: uuid.UUID
    environment_id: str
    winner_id: uuid.UUID | None
    agent1_score: float
    agent2_score: float
    changes: list[RatingChange]


PAYLOADS: dict[EventType, type[Payload]] = {
    EventType.STORAGE_OBJECT_CREATED: StorageObjectCreated,
    EventType.SUBMISSION_UPLOADED: SubmissionUploaded,
    EventType.BUILD_STARTED: BuildStarted,
    EventType.BUILD_SUCCEEDED: BuildSucceeded,
    EventType.BUILD_FAILED: BuildFailed,
    EventType.AGENT_VALIDATED: AgentValidated,
    EventType.MATCH_SCHEDULED: MatchScheduled,
    EventType.MATCH_STARTED: MatchStarted,
    EventType.MATCH_FINISHED: MatchFinished,
    EventType.MATCH_FAILED: MatchFailed,
    EventType.RATING_UPDATED: RatingUpdated,
}


def make_event(
    event_type: EventType, source: Source | str, payload: Payload, *, event_id: str | None = None
) -> CloudEvent:
    """A CloudEvent with a JSON payload. Pass a deterministic `event_id` when a retry republishes."""
    if PAYLOADS.get(event_type) is not type(payload):
        raise TypeError(f"{type(payload).__name__} is not the payload of {event_type}")
    attributes: dict[str, Any] = {
        "type": event_type.value,
        "source": str(source),
        "id": event_id or str(uuid.uuid4()),
        "datacontenttype": "application/json",
        "specversion": SPEC_VERSION,
    }
    return CloudEvent(attributes, payload.model_dump(mode="json", by_alias=True))


P = TypeVar("P", bound=Payload)


def parse_payload(event: CloudEvent, model: type[P]) -> P:
    """The event's data as `model`; EventRejected (never retried) if it does not fit."""
    data = event.get_data()
    if isinstance(data, bytes | str):
        try:
            return model.model_validate_json(data)
        except ValidationError as error:
            raise EventRejected(_describe(event, error)) from None
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise EventRejected(_describe(event, error)) from None


def _describe(event: CloudEvent, error: ValidationError) -> str:
    fields = ", ".join(".".join(str(p) for p in e["loc"]) or "data" for e in error.errors())
    return f"{event['type']} event {event['id']} has an invalid payload ({fields})"
