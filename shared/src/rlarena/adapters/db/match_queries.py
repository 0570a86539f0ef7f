"""Queries about matches: their lifecycle (conditional updates), freeing their agents, reading them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import Agent, Match, MatchmakingQueueEntry, Submission
from rlarena.domain.statuses import MatchStatus, QueueStatus

OPEN = (MatchStatus.PENDING.value, MatchStatus.RUNNING.value)
ENDED = (MatchStatus.COMPLETED.value, MatchStatus.FAILED.value, MatchStatus.CANCELLED.value)


# -- the lifecycle -------------------------------------------------------------------------------


def start_pending_match(session: Session, match_id: uuid.UUID, started_at: datetime, now: datetime) -> bool:
    """Pending -> running; False if the match was not pending (a duplicate or late event)."""
    moved = session.execute(
        update(Match)
        .where(Match.id == match_id, Match.status == MatchStatus.PENDING.value)
        .values(status=MatchStatus.RUNNING.value, started_at=started_at, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount)  # type: ignore[attr-defined]


def lock_open_match(session: Session, match_id: uuid.UUID) -> Match | None:
    """The match if it is still open (pending or running), locked for update."""
    return session.scalars(select(Match).where(Match.id == match_id, Match.status.in_(OPEN)).with_for_update()).first()


def release_queue_entries(session: Session, match_id: uuid.UUID, now: datetime, *, refund: bool) -> int:
    """The queue entries waiting on this match back to waiting; with `refund`, the match does not
    count against their cooldown or daily cap. Returns how many were freed."""
    entry = MatchmakingQueueEntry
    values: dict[str, Any] = {
        "status": QueueStatus.WAITING.value,
        "match_id": None,
        "enqueued_at": now,
        "updated_at": now,
    }
    if refund:
        values["last_match_at"] = None
        values["day_count"] = case((entry.day_count > 0, entry.day_count - 1), else_=0)
    freed = session.execute(
        update(entry).where(entry.match_id == match_id).values(**values).execution_options(synchronize_session=False)
    )
    return int(freed.rowcount)  # type: ignore[attr-defined]


def overdue_match_ids(session: Session, now: datetime) -> list[uuid.UUID]:
    """Open matches past their deadline."""
    return list(
        session.scalars(
            select(Match.id).where(Match.status.in_(OPEN), Match.deadline_at.is_not(None), Match.deadline_at < now)
        ).all()
    )


def free_entries_of_ended_matches(session: Session, now: datetime) -> int:
    """Matched queue entries whose match has ended (its freeing event was lost) back to waiting."""
    ended = select(Match.id).where(Match.status.in_(ENDED)).scalar_subquery()
    stuck = session.execute(
        update(MatchmakingQueueEntry)
        .where(MatchmakingQueueEntry.status == QueueStatus.MATCHED.value, MatchmakingQueueEntry.match_id.in_(ended))
        .values(status=QueueStatus.WAITING.value, match_id=None, enqueued_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(stuck.rowcount)  # type: ignore[attr-defined]


def open_match_ids_booked_before(session: Session, booked_before: datetime) -> list[uuid.UUID]:
    return list(
        session.scalars(select(Match.id).where(Match.status.in_(OPEN), Match.created_at <= booked_before)).all()
    )


def open_match_ids_oldest_first(session: Session, booked_before: datetime, *, limit: int) -> list[uuid.UUID]:
    """At most `limit` open matches booked before `booked_before`, the longest open first."""
    return list(
        session.scalars(
            select(Match.id)
            .where(Match.status.in_(OPEN), Match.created_at <= booked_before)
            .order_by(Match.created_at, Match.id)
            .limit(limit)
        ).all()
    )


# -- reading -------------------------------------------------------------------------------------


def match_by_id(session: Session, match_id: uuid.UUID) -> Match | None:
    return session.get(Match, match_id)


def agent_by_id(session: Session, agent_id: uuid.UUID) -> Agent | None:
    """Deleted agents included (their rows stay so that match history keeps naming them)."""
    return session.get(Agent, agent_id)


def submission_by_id(session: Session, submission_id: uuid.UUID) -> Submission | None:
    return session.get(Submission, submission_id)


def owners_of(session: Session, agent_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """Each of these agents' owner (user id)."""
    players = select(Agent.id, Agent.user_id).where(Agent.id.in_(agent_ids))
    return {agent: owner for agent, owner in session.execute(players)}


def public_matches_page(
    session: Session,
    *,
    offset: int,
    limit: int,
    environment_id: str | None = None,
    agent_id: uuid.UUID | None = None,
    status: str | None = None,
    with_replay: bool = False,
) -> tuple[list[Match], int]:
    """A page of public matches (newest first) and how many there are, filtered by whichever of
    environment, agent (either side) and status are given; `with_replay`: only those with one."""
    scope: list[ColumnElement[bool]] = [Match.is_public.is_(True)]
    if environment_id:
        scope.append(Match.environment_id == environment_id)
    if agent_id is not None:
        scope.append((Match.agent1_id == agent_id) | (Match.agent2_id == agent_id))
    if status:
        scope.append(Match.status == status)
    if with_replay:
        scope.append(Match.replay_url.is_not(None))
    total = session.scalar(select(func.count()).select_from(Match).where(*scope)) or 0
    rows = session.scalars(
        select(Match).where(*scope).order_by(Match.created_at.desc(), Match.id.desc()).offset(offset).limit(limit)
    ).all()
    return list(rows), total
