"""The build queue's queries: the queue lock, the running count, claims and compare-and-sets.

The queue is the submissions table itself (`service/builds.py` decides what moves when); these
functions only read and write rows, in the caller's session (its unit of work's transaction).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import Submission

QUEUE_LOCK = 7_340_101  # pg_advisory_xact_lock key: one claimer at a time keeps the cap exact


def lock_queue(session: Session) -> None:
    """One claimer at a time for this transaction (a PostgreSQL advisory lock; SQLite has one writer)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(QUEUE_LOCK)))


def count_in_statuses(session: Session, statuses: tuple[str, ...]) -> int:
    """How many submissions are in one of `statuses` (the running builds, for the cap)."""
    return session.scalar(select(func.count()).select_from(Submission).where(Submission.status.in_(statuses))) or 0


def next_pending(session: Session, pending: str, now: datetime) -> Submission | None:
    """The next build to start, locked: highest priority, then oldest; rows locked by others, and
    builds backing off after an infrastructure failure, are skipped."""
    return session.scalars(
        select(Submission)
        .where(
            Submission.status == pending,
            or_(Submission.build_not_before.is_(None), Submission.build_not_before <= now),
        )
        .order_by(Submission.priority.desc(), Submission.created_at, Submission.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()


def set_build_job(session: Session, submission_id: uuid.UUID, attempt: int, job_name: str) -> None:
    """Record the attempt's Job name and forget its Pod, unless that Job name is already recorded."""
    session.execute(
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.build_attempt == attempt,
            or_(Submission.build_job_name.is_(None), Submission.build_job_name != job_name),
        )
        .values(build_job_name=job_name, build_pod_name=None)
        .execution_options(synchronize_session=False)
    )


def set_build_pod(session: Session, submission_id: uuid.UUID, attempt: int, job_name: str, pod_name: str) -> None:
    """Record the attempt's build Pod, if `job_name` is still the attempt's Job and the Pod is new."""
    session.execute(
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.build_attempt == attempt,
            Submission.build_job_name == job_name,
            or_(Submission.build_pod_name.is_(None), Submission.build_pod_name != pod_name),
        )
        .values(build_pod_name=pod_name)
        .execution_options(synchronize_session=False)
    )


def move_attempt(
    session: Session,
    submission_id: uuid.UUID,
    attempt: int,
    from_statuses: tuple[str, ...],
    *,
    to: str,
    now: datetime,
) -> Submission | None:
    """Compare-and-set on (id, attempt, status); the row as it is now, or None if it did not move."""
    result = session.execute(
        update(Submission)
        .where(
            Submission.id == submission_id,
            Submission.build_attempt == attempt,
            Submission.status.in_(from_statuses),
        )
        .values(status=to, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return None
    return session.get(Submission, submission_id, populate_existing=True)


def started_before(session: Session, statuses: tuple[str, ...], deadline: datetime) -> Sequence[Submission]:
    """Builds in one of `statuses` that started before `deadline`."""
    return session.scalars(
        select(Submission).where(Submission.status.in_(statuses), Submission.build_started_at < deadline)
    ).all()
