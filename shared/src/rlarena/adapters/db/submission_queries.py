"""The submissions' queries: versions, transitions, the agent lock and the daily quota's count.

The use cases in `service/submissions.py` decide; these functions only read and write rows, in
the caller's session (its unit of work's transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import Agent, Submission, SubmissionTransition


def get_submission(session: Session, submission_id: uuid.UUID) -> Submission | None:
    return session.get(Submission, submission_id)


def get_agent(session: Session, agent_id: uuid.UUID) -> Agent | None:
    return session.get(Agent, agent_id)


def add_submission(session: Session, submission: Submission) -> None:
    session.add(submission)


def add_transition(session: Session, submission_id: uuid.UUID, status: str, message: str | None, now: datetime) -> None:
    session.add(SubmissionTransition(submission_id=submission_id, status=status, message=message, created_at=now))


def uploading_with_key(session: Session, key: str, uploading: str) -> Submission | None:
    """The submission waiting (status `uploading`) for the object stored under `key`, if any."""
    return session.scalars(
        select(Submission).where(Submission.source_key == key, Submission.status == uploading)
    ).first()


def claim_upload(
    session: Session,
    submission_id: uuid.UUID,
    *,
    uploading: str,
    pending: str,
    size: int,
    sha256: str,
    entry_point: str,
    now: datetime,
) -> bool:
    """Compare-and-set uploading -> pending with the checked archive's facts; False if another got there first."""
    claimed = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == uploading)
        .values(
            status=pending,
            source_size=size,
            source_sha256=sha256,
            entry_point=entry_point,
            build_attempt=1,
            updated_at=now,
        )
    )
    return getattr(claimed, "rowcount", 0) == 1


def fail_booking(
    session: Session, submission_id: uuid.UUID, *, uploading: str, failed: str, message: str, now: datetime
) -> bool:
    """Compare-and-set uploading -> failed; False if the upload was accepted (or failed) first."""
    changed = session.execute(
        update(Submission)
        .where(Submission.id == submission_id, Submission.status == uploading)
        .values(status=failed, error_message=message, updated_at=now)
    )
    return getattr(changed, "rowcount", 0) == 1


def submissions_of_agent(session: Session, agent_id: uuid.UUID) -> Sequence[Submission]:
    """Every version of an agent, newest first."""
    return session.scalars(
        select(Submission).where(Submission.agent_id == agent_id).order_by(Submission.version.desc())
    ).all()


def transitions_of_submission(session: Session, submission_id: uuid.UUID) -> list[SubmissionTransition]:
    """A submission's history, oldest first."""
    return list(
        session.scalars(
            select(SubmissionTransition)
            .where(SubmissionTransition.submission_id == submission_id)
            .order_by(SubmissionTransition.created_at, SubmissionTransition.id)
        )
    )


def other_active_submissions(session: Session, agent_id: uuid.UUID, except_id: uuid.UUID) -> Sequence[Submission]:
    """The agent's active versions other than `except_id`, re-read (not the session's stale copies)."""
    return session.scalars(
        select(Submission)
        .where(Submission.agent_id == agent_id, Submission.is_active.is_(True), Submission.id != except_id)
        .execution_options(populate_existing=True)
    ).all()


def newer_active_version(session: Session, agent_id: uuid.UUID, version: int) -> int | None:
    """The version number of an active version newer than `version`, if there is one."""
    return session.scalar(
        select(Submission.version).where(
            Submission.agent_id == agent_id,
            Submission.is_active.is_(True),
            Submission.version > version,
        )
    )


def lock_agent_row(session: Session, agent_id: uuid.UUID) -> None:
    """SELECT ... FOR UPDATE on the agent's row (PostgreSQL; SQLite has one writer anyway)."""
    session.execute(select(Agent.id).where(Agent.id == agent_id).with_for_update())


def take_agent_write_lock(session: Session, agent_id: uuid.UUID) -> None:
    """Serialise one agent's uploads until commit: a no-op UPDATE of its row, which row-locks it on
    PostgreSQL and, on SQLite (whose driver begins a transaction only at the first write), takes
    the database's write lock now, so what is counted after it stays true until the commit."""
    session.execute(update(Agent).where(Agent.id == agent_id).values(id=Agent.id))


def count_uploads_since(
    session: Session, agent_id: uuid.UUID, since: datetime, *, uploading: str, booked_before: datetime
) -> int:
    """How many submissions the agent has created since `since`, not counting upload bookings
    (status `uploading`) made before `booked_before`: their URL expired unused."""
    expired = and_(Submission.status == uploading, Submission.created_at < booked_before)
    return (
        session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(Submission.agent_id == agent_id, Submission.created_at >= since, ~expired)
        )
        or 0
    )


def bookings_in(session: Session, uploading: str, *, limit: int) -> list[Submission]:
    """Upload bookings still waiting for their object, oldest first."""
    return list(
        session.scalars(
            select(Submission).where(Submission.status == uploading).order_by(Submission.created_at).limit(limit)
        )
    )


def latest_version(session: Session, agent_id: uuid.UUID) -> int | None:
    """The agent's highest version number, None before its first submission."""
    return session.scalar(select(func.max(Submission.version)).where(Submission.agent_id == agent_id))
