"""Use cases of submissions: intake (upload, URL, presigned), reading, activation, rebuilds.

Intake validates everything before writing anything. The row and the object are written
together: the object is stored inside the row's transaction and deleted again if the commit
fails, so a rejected or failed upload leaves neither behind. Archives are unpacked in bounded
pieces (`domain/archives.py`); the Python files are compiled in a sandboxed child
(`adapters/source_check.py`), never in the request's thread.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from rlarena.adapters.builders.declared_environment import environment_mismatch
from rlarena.adapters.code_fetch import fetch_code
from rlarena.adapters.db import house_queries
from rlarena.adapters.db import submission_queries as queries
from rlarena.adapters.db.models import Agent, Submission, SubmissionTransition
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.domain.archives import AgentSource, ArchiveLimits, inspect_upload, upload_kind
from rlarena.domain.statuses import SubmissionStatus
from rlarena.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited, RLArenaError, ServiceUnavailable
from rlarena.events.catalogue import EventType, Source, SubmissionUploaded, make_event
from rlarena.service.ports import PlatformCore
from rlarena.service.unit_of_work import UnitOfWorkLike

if TYPE_CHECKING:
    from rlarena.adapters.db.rate_limits import RateLimiter
    from rlarena.adapters.storage.base import ObjectStore

log = logging.getLogger(__name__)

# Builds start in this order: an agent's first version (fast first feedback), then new versions,
# then rebuilds, then the house agents' code; within a priority, oldest first.
PRIORITY_FIRST_VERSION = 10
PRIORITY_NEW_VERSION = 5
PRIORITY_REBUILD = 0
PRIORITY_SHIPPED = -5  # house agents' code: authors' uploads first

EXTENSIONS = {"py": "py", "zip": "zip", "tar.gz": "tar.gz"}


class SubmissionsPlatform(PlatformCore, Protocol):
    """What the submission use cases need of the platform (`bootstrap.Platform` is one)."""

    @property
    def store(self) -> ObjectStore: ...

    @property
    def rate_limiter(self) -> RateLimiter: ...

    @property
    def archive_limits(self) -> ArchiveLimits: ...


@dataclass(frozen=True)
class SubmissionView:
    submission: Submission
    agent: Agent


@dataclass(frozen=True)
class UploadTicket:
    view: SubmissionView
    url: str
    method: str
    headers: dict[str, str]
    expires_at: datetime


def source_key(agent_id: uuid.UUID, submission_id: uuid.UUID, kind: str) -> str:
    return f"submissions/{agent_id}/{submission_id}/source.{kind}"


def limits_of(platform: SubmissionsPlatform) -> ArchiveLimits:
    return platform.archive_limits


def inspect(platform: SubmissionsPlatform, filename: str, data: bytes) -> AgentSource:
    """Every intake rule: the archive's here, the Python files' in the sandboxed source check."""
    from rlarena.adapters.source_check import source_check_for  # the sandbox: off the cold-start path

    return inspect_upload(filename, data, limits_of(platform), source_check_for(platform.settings))


# -- intake --------------------------------------------------------------------------------------


def submit_upload(
    platform: SubmissionsPlatform, user_id: uuid.UUID, agent_id: uuid.UUID, filename: str, data: bytes
) -> SubmissionView:
    environment_id = _check_owner_and_quota(platform, user_id, agent_id)
    source = inspect(platform, filename, data)
    _check_declared_environment(source, environment_id)
    return _store_and_enqueue(platform, agent_id, source, data, filename, code_url=None)


def submit_shipped_code(
    platform: SubmissionsPlatform, agent_id: uuid.UUID, filename: str, data: bytes
) -> SubmissionView | None:
    """Code the platform ships (a house agent's): an upload's checks, storage and build, without an
    owner's quota and rate limit, built after every author's upload. None if the agent's newest
    version already holds this very code (decided under the agent's lock: seeders running at once
    submit it once)."""
    source = inspect(platform, filename, data)
    try:
        return _store_and_enqueue(platform, agent_id, source, data, filename, code_url=None, shipped=True)
    except _AlreadySubmitted:
        return None


class _AlreadySubmitted(Conflict):
    code = "already_submitted"


def submit_from_url(
    platform: SubmissionsPlatform, user_id: uuid.UUID, agent_id: uuid.UUID, code_url: str
) -> SubmissionView:
    environment_id = _check_owner_and_quota(platform, user_id, agent_id)
    settings = platform.settings
    fetched = fetch_code(
        code_url,
        max_bytes=settings.archive_max_bytes,
        timeout=settings.code_url_timeout,
        allow_private=settings.code_url_allow_private,
    )
    source = inspect(platform, fetched.filename, fetched.data)
    _check_declared_environment(source, environment_id)
    return _store_and_enqueue(platform, agent_id, source, fetched.data, fetched.filename, code_url=code_url)


def request_upload_url(
    platform: SubmissionsPlatform, user_id: uuid.UUID, agent_id: uuid.UUID, filename: str
) -> UploadTicket:
    """Book a version and hand out a URL to PUT the archive to; its arrival starts the build."""
    _check_owner_and_quota(platform, user_id, agent_id)
    kind = upload_kind(filename)
    now = platform.clock()
    with platform.uow() as uow:
        agent = _lock_agent(uow, agent_id)
        _within_quota(platform, uow, agent_id, now)  # counted and inserted under the agent's lock
        submission = _new_submission(uow, agent, now, status=SubmissionStatus.UPLOADING)
        submission.source_filename = filename[:255]
        submission.source_key = source_key(agent.id, submission.id, kind)
        record_transition(uow, submission, SubmissionStatus.UPLOADING, "waiting for the upload", now)
        uow.commit()
        view = SubmissionView(submission, agent)
    expiry = platform.settings.upload_url_expiry
    content_type = "application/octet-stream"
    presigned = platform.store.presigned_put(submission.source_key, expiry, content_type=content_type)
    url = presigned or f"/api/v1/submissions/{submission.id}/upload"
    return UploadTicket(view, url, "PUT", {"Content-Type": content_type}, now + expiry)


def receive_direct_upload(
    platform: SubmissionsPlatform, user_id: uuid.UUID, submission_id: uuid.UUID, data: bytes
) -> None:
    """Where a store cannot presign (the local folder), the function itself takes the PUT."""
    with platform.uow() as uow:
        view = _owned_submission(uow, submission_id, user_id)
        if view.submission.status != SubmissionStatus.UPLOADING or not view.submission.source_key:
            raise Conflict("this submission is not waiting for an upload")
        key = view.submission.source_key
    platform.store.put(key, data)


NEVER_ARRIVED = "the upload never arrived before its URL expired; request a new upload URL"
ARRIVED_TOO_LATE = (
    "the upload arrived after its URL expired and the agent's daily quota was used meanwhile; submit it again later"
)


def accept_stored_object(platform: SubmissionsPlatform, key: str, size: int) -> bool:
    """A storage event: if it completes a presigned upload, check the archive and queue the build.

    Objects the API stored itself (its row is already past `uploading`) and unknown keys are
    ignored, so every redelivery and every foreign object is harmless.
    """
    with platform.uow() as uow:
        submission = queries.uploading_with_key(uow.session, key, SubmissionStatus.UPLOADING.value)
        if submission is None:
            return False
        filename = submission.source_filename or key
    data = platform.store.get(key)
    try:
        source = inspect(platform, filename, data)
    except ServiceUnavailable:  # the check itself could not run: the event is delivered again
        raise
    except RLArenaError as rejected:  # the user's archive is at fault: fail it, keep nothing
        _reject_uploaded(platform, submission.id, rejected.message)
        platform.store.delete(key)
        return True
    now = platform.clock()
    late = submission.created_at < now - platform.settings.upload_url_expiry
    with platform.uow() as uow:
        if late and _over_quota(platform, uow, submission.agent_id, now):
            # Its URL expired before this arrived, so the booking stopped counting and the quota
            # was used meanwhile: refused like a new upload would be, and nothing kept.
            return _refuse_late(platform, uow, submission.id, key, now)
        claimed = queries.claim_upload(
            uow.session,
            submission.id,
            uploading=SubmissionStatus.UPLOADING.value,
            pending=SubmissionStatus.PENDING.value,
            size=source.size,
            sha256=source.sha256,
            entry_point=source.entry_point,
            now=now,
        )
        if not claimed:
            return False  # a concurrent delivery got here first
        current = queries.get_submission(uow.session, submission.id)
        agent = queries.get_agent(uow.session, current.agent_id) if current else None
        if current is None or agent is None:
            return False
        record_transition(uow, current, SubmissionStatus.PENDING, "uploaded; queued for build", now)
        publish_uploaded(uow, current, agent)
        uow.commit()
    return True


@dataclass(frozen=True)
class BookingsSettled:
    arrived: int
    expired: int


def settle_bookings(platform: SubmissionsPlatform, *, limit: int = 200) -> BookingsSettled:
    """The tick's pass over upload bookings (presigned URLs handed out, nothing received yet).

    One whose object is in the store is accepted as its bucket notification would have done (the
    local platform gets no notifications; on a cluster this catches a lost one). One whose URL has
    expired unused fails, saying so; it stopped counting against the daily quota at expiry.
    """
    now = platform.clock()
    booked_before = now - platform.settings.upload_url_expiry
    with platform.uow() as uow:
        bookings = [
            (b.id, b.source_key, b.created_at)
            for b in queries.bookings_in(uow.session, SubmissionStatus.UPLOADING.value, limit=limit)
        ]
    arrived = expired = 0
    for submission_id, key, booked_at in bookings:
        try:
            if booked_at < booked_before:
                # Its URL expired: whatever is under its key (a partial or late object) goes too.
                if _expire_booking(platform, submission_id, now):
                    expired += 1
                    if key:
                        platform.store.delete(key)
                continue
            stored = platform.store.stat(key) if key else None
        except RLArenaError as error:  # the store is away: the next tick looks again
            log.warning("upload bookings: cannot look at the store: %s", error.message)
            break
        if stored is not None:
            arrived += accept_stored_object(platform, stored.key, stored.size)
    if arrived or expired:
        log.info("upload bookings: %d arrived unannounced, %d expired unused", arrived, expired)
    return BookingsSettled(arrived=arrived, expired=expired)


def _refuse_late(
    platform: SubmissionsPlatform, uow: UnitOfWork, submission_id: uuid.UUID, key: str, now: datetime
) -> bool:
    if not _fail_booking(uow, submission_id, ARRIVED_TOO_LATE, now):
        return False  # a concurrent delivery got here first
    platform.store.delete(key)
    return True


def _expire_booking(platform: SubmissionsPlatform, submission_id: uuid.UUID, now: datetime) -> bool:
    with platform.uow() as uow:
        return _fail_booking(uow, submission_id, NEVER_ARRIVED, now)


def _fail_booking(uow: UnitOfWork, submission_id: uuid.UUID, message: str, now: datetime) -> bool:
    """uploading -> failed as a compare-and-set, committed: an upload accepted meanwhile is never
    overwritten (False then)."""
    failed = queries.fail_booking(
        uow.session,
        submission_id,
        uploading=SubmissionStatus.UPLOADING.value,
        failed=SubmissionStatus.FAILED.value,
        message=message,
        now=now,
    )
    if failed:
        queries.add_transition(uow.session, submission_id, SubmissionStatus.FAILED.value, message, now)
        uow.commit()
    return failed


def _reject_uploaded(platform: SubmissionsPlatform, submission_id: uuid.UUID, reason: str) -> None:
    now = platform.clock()
    with platform.uow() as uow:
        submission = queries.get_submission(uow.session, submission_id)
        if submission is None:
            return
        submission.status = SubmissionStatus.FAILED.value
        submission.error_message = reason
        submission.updated_at = now
        record_transition(uow, submission, SubmissionStatus.FAILED, reason, now)
        uow.commit()


def _store_and_enqueue(
    platform: SubmissionsPlatform,
    agent_id: uuid.UUID,
    source: AgentSource,
    data: bytes,
    filename: str,
    *,
    code_url: str | None,
    shipped: bool = False,
) -> SubmissionView:
    now = platform.clock()
    with platform.uow() as uow:
        agent = _lock_agent(uow, agent_id)
        if not shipped:
            _within_quota(platform, uow, agent_id, now)  # counted and inserted under the agent's lock
        elif house_queries.newest_source_sha256(uow.session, agent_id) == source.sha256:
            raise _AlreadySubmitted("this code is the agent's newest version already")
        submission = _new_submission(uow, agent, now, status=SubmissionStatus.PENDING)
        if shipped:
            submission.priority = PRIORITY_SHIPPED
        submission.source_key = source_key(agent.id, submission.id, EXTENSIONS[source.kind])
        submission.source_filename = filename[:255]
        submission.source_size = source.size
        submission.source_sha256 = source.sha256
        submission.entry_point = source.entry_point
        submission.code_url = code_url
        submission.build_attempt = 1
        record_transition(uow, submission, SubmissionStatus.PENDING, "uploaded; queued for build", now)
        uow.flush()
        publish_uploaded(uow, submission, agent)
        platform.store.put(submission.source_key, data)
        try:
            uow.commit()
        except Exception:
            platform.store.delete(submission.source_key)
            raise
        return SubmissionView(submission, agent)


def publish_uploaded(uow: UnitOfWorkLike, submission: Submission, agent: Agent) -> None:
    """Announce a build waiting in the queue (with the transaction that queued it)."""
    payload = SubmissionUploaded(
        submission_id=submission.id,
        agent_id=agent.id,
        user_id=agent.user_id,
        version=submission.version,
        status=submission.status,
        message="queued for build",
        object_key=submission.source_key or "",
        build_attempt=submission.build_attempt,
    )
    # Deterministic per attempt: a republished upload is recognisably the same event downstream.
    event_id = f"uploaded-{submission.id}-{submission.build_attempt}"
    uow.publish(make_event(EventType.SUBMISSION_UPLOADED, Source.SUBMISSIONS, payload, event_id=event_id))


# -- reading -------------------------------------------------------------------------------------


def get_submission(platform: SubmissionsPlatform, user_id: uuid.UUID, submission_id: uuid.UUID) -> SubmissionView:
    with platform.uow() as uow:
        return _owned_submission(uow, submission_id, user_id)


def submissions_of(platform: SubmissionsPlatform, user_id: uuid.UUID, agent_id: uuid.UUID) -> list[SubmissionView]:
    with platform.uow() as uow:
        agent = _owned_agent(uow, agent_id, user_id)
        rows = queries.submissions_of_agent(uow.session, agent.id)
        return [SubmissionView(s, agent) for s in rows]


def transitions_of(
    platform: SubmissionsPlatform, user_id: uuid.UUID, submission_id: uuid.UUID
) -> list[SubmissionTransition]:
    with platform.uow() as uow:
        _owned_submission(uow, submission_id, user_id)
        return queries.transitions_of_submission(uow.session, submission_id)


def source_of(
    platform: SubmissionsPlatform, user_id: uuid.UUID, submission_id: uuid.UUID
) -> tuple[SubmissionView, bytes]:
    view = get_submission(platform, user_id, submission_id)
    if not view.submission.source_key or view.submission.status == SubmissionStatus.UPLOADING:
        raise NotFound("this submission has no code yet")
    return view, platform.store.get(view.submission.source_key)


# -- changes -------------------------------------------------------------------------------------


def activate(platform: SubmissionsPlatform, user_id: uuid.UUID, submission_id: uuid.UUID) -> SubmissionView:
    """Make a version that built and validated the agent's active one (e.g. roll back)."""
    now = platform.clock()
    with platform.uow() as uow:
        view = _owned_submission(uow, submission_id, user_id)
        submission, agent = view.submission, view.agent
        if submission.build_finished_at is None or submission.status not in (
            SubmissionStatus.ACTIVE,
            SubmissionStatus.INACTIVE,
        ):
            raise Conflict(
                f"only a version that built and validated can be activated; this one is {submission.status}",
                details={"status": submission.status},
            )
        make_active(uow, agent, submission, now)
        uow.commit()
        return view


def make_active(uow: UnitOfWork, agent: Agent, submission: Submission, now: datetime) -> None:
    """The one place that switches an agent's active version.

    The agent's row is locked first, so two switches for one agent (two builds finishing at
    once, or a build and a manual activation) run one after the other and each sees what the
    other wrote: never two active versions.
    """
    lock_agent(uow, agent.id)
    previous = queries.other_active_submissions(uow.session, agent.id, submission.id)
    for old in previous:
        old.is_active = False
        old.status = SubmissionStatus.INACTIVE.value
        old.updated_at = now
        record_transition(uow, old, SubmissionStatus.INACTIVE, f"replaced by version {submission.version}", now)
    # The old version must be switched off before the new one is switched on: the schema
    # allows one active row per agent and checks it per statement.
    uow.flush()
    if submission.status != SubmissionStatus.ACTIVE:
        record_transition(uow, submission, SubmissionStatus.ACTIVE, "activated", now)
    submission.is_active = True
    submission.status = SubmissionStatus.ACTIVE.value
    submission.updated_at = now
    agent.active_submission_id = submission.id
    agent.updated_at = now


def activate_if_newest(uow: UnitOfWork, agent: Agent, submission: Submission, now: datetime, reason: str) -> bool:
    """A build that just finished becomes active unless a newer version already is.

    Builds of one agent can finish out of order (a small v3 before a large v2); the newest
    upload is what the owner meant to play, so v2 then stays built but inactive.
    """
    lock_agent(uow, agent.id)
    newer = queries.newer_active_version(uow.session, agent.id, submission.version)
    if newer is not None:
        submission.is_active = False
        submission.status = SubmissionStatus.INACTIVE.value
        submission.updated_at = now
        record_transition(
            uow, submission, SubmissionStatus.INACTIVE, f"{reason}; the newer version {newer} stays active", now
        )
        return False
    record_transition(uow, submission, SubmissionStatus.ACTIVE, reason, now)
    submission.status = SubmissionStatus.ACTIVE.value
    make_active(uow, agent, submission, now)
    return True


def lock_agent(uow: UnitOfWork, agent_id: uuid.UUID) -> None:
    """Serialise changes to one agent's versions (a row lock on PostgreSQL; SQLite has one writer)."""
    queries.lock_agent_row(uow.session, agent_id)


def rebuild(platform: SubmissionsPlatform, user_id: uuid.UUID, submission_id: uuid.UUID) -> SubmissionView:
    now = platform.clock()
    with platform.uow() as uow:
        view = _owned_submission(uow, submission_id, user_id)
        submission = view.submission
        if submission.status != SubmissionStatus.FAILED:
            raise Conflict(f"only a failed build can be rebuilt; this one is {submission.status}")
        if not submission.source_key or submission.source_size is None:
            raise Conflict("this submission's upload never arrived: submit the code again")
        if submission.retry_count >= platform.settings.max_rebuilds:
            raise Conflict(
                f"this submission was rebuilt {submission.retry_count} times already (the limit); "
                "fix the code and submit a new version",
                code="rebuild_limit",
            )
        submission.retry_count += 1
        submission.last_retry_at = now
        submission.build_attempt += 1
        submission.infra_failures = 0
        submission.build_not_before = None
        submission.priority = PRIORITY_REBUILD
        submission.status = SubmissionStatus.PENDING.value
        submission.error_message = None
        submission.updated_at = now
        record_transition(uow, submission, SubmissionStatus.PENDING, f"rebuild {submission.retry_count} requested", now)
        publish_uploaded(uow, view.submission, view.agent)
        uow.commit()
    return view


# -- helpers -------------------------------------------------------------------------------------


def _check_owner_and_quota(platform: SubmissionsPlatform, user_id: uuid.UUID, agent_id: uuid.UUID) -> str:
    """403/404/429 unless the caller may submit for this agent now; returns the agent's game."""
    settings = platform.settings
    now = platform.clock()
    with platform.uow() as uow:
        environment_id = _owned_agent(uow, agent_id, user_id).environment_id
        _within_quota(platform, uow, agent_id, now)  # early, before the upload is read; again under the lock
    platform.rate_limiter.hit(
        f"submissions:{user_id}",
        limit=settings.submission_rate_limit_per_minute,
        window=timedelta(minutes=1),
        now=now,
        what="submissions",
    )
    return environment_id


def _within_quota(platform: SubmissionsPlatform, uow: UnitOfWork, agent_id: uuid.UUID, now: datetime) -> None:
    """429 if the agent used its uploads for today (bookings whose URL expired unused do not count)."""
    settings = platform.settings
    today = queries.count_uploads_since(
        uow.session,
        agent_id,
        quota_day_start(now),
        uploading=SubmissionStatus.UPLOADING.value,
        booked_before=now - settings.upload_url_expiry,
    )
    refusal = quota_refusal(today, settings.submissions_per_agent_per_day, now)
    if refusal is not None:
        raise refusal


def _over_quota(platform: SubmissionsPlatform, uow: UnitOfWork, agent_id: uuid.UUID, now: datetime) -> bool:
    """Under the agent's lock: True if one more upload today would exceed the quota."""
    _lock_agent(uow, agent_id)
    try:
        _within_quota(platform, uow, agent_id, now)
    except RateLimited:
        return True
    return False


def quota_day_start(now: datetime) -> datetime:
    """The daily quota counts uploads per UTC day: the start of `now`'s."""
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def quota_refusal(uploads_today: int, per_day: int, now: datetime) -> RateLimited | None:
    """The 429 once an agent made `per_day` uploads today (saying when the quota resets), else None."""
    if uploads_today < per_day:
        return None
    resets = quota_day_start(now) + timedelta(days=1)
    return RateLimited(
        f"this agent already has {per_day} submissions today; "
        f"the quota resets at {resets.isoformat().replace('+00:00', 'Z')}",
        retry_after_seconds=max(1, int((resets - now).total_seconds())),
    )


def _check_declared_environment(source: AgentSource, environment_id: str) -> None:
    """Code that declares another game (ENVIRONMENT = "...") is refused at once, before storage."""
    problem = environment_mismatch(source.declared_environment, environment_id, where=source.entry_point)
    if problem is not None:
        raise InvalidInput(problem, code="wrong_environment", details={"entryPoint": source.entry_point})


def _lock_agent(uow: UnitOfWork, agent_id: uuid.UUID) -> Agent:
    # Serialises version numbers and the daily quota per agent, on PostgreSQL and SQLite alike.
    queries.take_agent_write_lock(uow.session, agent_id)
    agent = uow.agents.get(agent_id, for_update=True)
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    return agent


def _new_submission(uow: UnitOfWork, agent: Agent, now: datetime, *, status: SubmissionStatus) -> Submission:
    latest = queries.latest_version(uow.session, agent.id)
    submission = Submission(
        id=uuid.uuid4(),
        agent_id=agent.id,
        version=(latest or 0) + 1,
        status=status.value,
        priority=PRIORITY_NEW_VERSION if latest else PRIORITY_FIRST_VERSION,
        retry_count=0,
        build_attempt=0,
        infra_failures=0,
        is_active=False,
        created_at=now,
        updated_at=now,
    )
    queries.add_submission(uow.session, submission)
    return submission


def record_transition(
    uow: UnitOfWork, submission: Submission, status: SubmissionStatus, message: str | None, now: datetime
) -> None:
    queries.add_transition(uow.session, submission.id, status.value, message, now)


def _owned_agent(uow: UnitOfWork, agent_id: uuid.UUID, user_id: uuid.UUID) -> Agent:
    agent = uow.agents.get(agent_id)
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    if agent.user_id != user_id:
        raise Forbidden("this agent belongs to another user")
    return agent


def _owned_submission(uow: UnitOfWork, submission_id: uuid.UUID, user_id: uuid.UUID) -> SubmissionView:
    submission = queries.get_submission(uow.session, submission_id)
    agent = uow.agents.get(submission.agent_id) if submission else None
    if submission is None or agent is None:
        raise NotFound(f"no submission {submission_id}")
    if agent.user_id != user_id:
        raise Forbidden("this submission belongs to another user")
    return SubmissionView(submission, agent)
