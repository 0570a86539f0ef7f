"""The house agents' queries: their owner (a system user nobody can log in as), the ladder's house
agents in one query, and taking one off the ladder."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import Agent, MatchmakingQueueEntry, Submission, User
from rlarena.adapters.db.submission_queries import add_transition
from rlarena.domain.house_ladder import OnLadder
from rlarena.domain.statuses import SubmissionStatus

# No password hash verifies against "!", and neither name can be registered (users.py's patterns).
UNUSABLE_PASSWORD = "!"  # noqa: S105 - the point is that it is not a password


def user_id_named(session: Session, username: str) -> uuid.UUID | None:
    return session.scalar(select(User.id).where(User.username == username))


def add_system_user(session: Session, username: str, email: str, full_name: str, now: datetime) -> None:
    session.add(
        User(
            id=uuid.uuid4(),
            username=username,
            email=email,
            password_hash=UNUSABLE_PASSWORD,
            full_name=full_name,
            created_at=now,
            updated_at=now,
        )
    )


def house_ladder(session: Session) -> list[OnLadder]:
    """Every live house agent with its newest version and whether it plays: one query."""
    house = (Agent.house_name.is_not(None), Agent.deleted_at.is_(None))  # uq_agents_house_live's rows
    newest = (
        select(Submission.agent_id, func.max(Submission.version).label("version"))
        .join(Agent, Agent.id == Submission.agent_id)
        .where(*house)
        .group_by(Submission.agent_id)
        .subquery()
    )
    queued = exists().where(MatchmakingQueueEntry.agent_id == Agent.id)
    rows = session.execute(
        select(
            Agent.id,
            Agent.environment_id,
            Agent.house_name,
            Agent.active_submission_id,
            queued,
            Submission.id,
            Submission.source_sha256,
            Submission.status,
            Submission.build_finished_at,
        )
        .outerjoin(newest, newest.c.agent_id == Agent.id)
        .outerjoin(Submission, (Submission.agent_id == Agent.id) & (Submission.version == newest.c.version))
        .where(*house)
        .order_by(Agent.environment_id, Agent.house_name)
    ).all()
    return [
        OnLadder(
            agent_id=agent_id,
            game=game,
            name=name or "",
            playing=active is not None,
            queued=bool(is_queued),
            newest_submission_id=submission_id,
            newest_sha256=sha256,
            newest_status=status,
            newest_built=built_at is not None,
        )
        for agent_id, game, name, active, is_queued, submission_id, sha256, status, built_at in rows
    ]


def newest_source_sha256(session: Session, agent_id: uuid.UUID) -> str | None:
    """The sha256 of the agent's newest version's code (None before its first)."""
    return session.scalar(
        select(Submission.source_sha256)
        .where(Submission.agent_id == agent_id)
        .order_by(Submission.version.desc())
        .limit(1)
    )


def take_off_ladder(session: Session, agent_id: uuid.UUID, reason: str, now: datetime) -> None:
    """No active version (off the leaderboards), no queue entry (off matchmaking); its history,
    versions and matches stay. Matches already booked are played."""
    active = session.scalars(
        select(Submission.id).where(Submission.agent_id == agent_id, Submission.is_active.is_(True))
    ).all()
    session.execute(
        update(Submission)
        .where(Submission.id.in_(active))
        .values(is_active=False, status=SubmissionStatus.INACTIVE.value, updated_at=now)
    )
    for submission_id in active:
        add_transition(session, submission_id, SubmissionStatus.INACTIVE.value, reason, now)
    session.execute(update(Agent).where(Agent.id == agent_id).values(active_submission_id=None, updated_at=now))
    session.execute(delete(MatchmakingQueueEntry).where(MatchmakingQueueEntry.agent_id == agent_id))
