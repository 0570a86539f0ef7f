"""The matchmaker's queries: the environment's lock, the queue, who is rested, booking in bulk.

The eligibility rule (which waiting agents may be paired) is written once, in `_rested_select`;
PostgreSQL reads it through COPY (the same statement rendered as text, see copy_out.copy_query),
working out the wait and the recent opponent as rlarena.domain.match_records does for the
ordinary SELECT other databases run.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    Float,
    Select,
    bindparam,
    case,
    cast,
    exists,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rlarena.adapters.db.bulk import chunks
from rlarena.adapters.db.copy_out import copy_query, copy_rows
from rlarena.adapters.db.models import Agent, Environment, Match, MatchmakingQueueEntry, Submission, UTCDateTime
from rlarena.domain.match_records import NO_RECENT, BookedSide, recent_opponents, waited_seconds
from rlarena.domain.pairing import Candidate
from rlarena.domain.statuses import MatchStatus, QueueStatus, SubmissionStatus

DAY = timedelta(days=1)
CHUNK = 10_000  # rows per statement
Queue = MatchmakingQueueEntry


@dataclass(frozen=True)
class RestRules:
    """When a waiting agent may play again, and whom it may not meet again yet."""

    cooldown: timedelta
    daily_cap: int
    rematch_after: timedelta


class ActiveVersion(NamedTuple):
    """The version an agent plays if booked now."""

    agent_id: uuid.UUID
    submission_id: uuid.UUID
    version: int
    image: str | None
    entry_point: str | None


def enabled_environment_ids(session: Session) -> list[str]:
    return list(session.scalars(select(Environment.id).where(Environment.is_active.is_(True))).all())


def add_to_queue(session: Session, agent_id: uuid.UUID, now: datetime) -> bool:
    """Queue an agent with an active version (flushed); False if it cannot be or already is queued."""
    agent = session.get(Agent, agent_id)
    if agent is None or agent.deleted_at is not None or agent.active_submission_id is None:
        return False
    if session.get(Queue, agent_id) is not None:
        return False
    session.add(
        Queue(
            agent_id=agent_id,
            environment_id=agent.environment_id,
            status=QueueStatus.WAITING.value,
            enqueued_at=now,
            updated_at=now,
            day_count=0,
        )
    )
    try:
        session.flush()
    except IntegrityError:  # a concurrent twin enqueued it first
        return False
    return True


def lock_environment(session: Session, environment_id: str) -> bool:
    """The environment's transaction lock on PostgreSQL, not waited for (SQLite has one writer)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    key = zlib.crc32(f"matchmaking:{environment_id}".encode())
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(key))))


def enqueue_missing(session: Session, environment_id: str, now: datetime) -> None:
    """Agents with an active version but no queue entry (their build event was lost) join now."""
    missing = select(
        Agent.id,
        Agent.environment_id,
        literal(QueueStatus.WAITING.value),
        literal(now),
        literal(now),
        literal(0),
    ).where(
        Agent.environment_id == environment_id,
        Agent.deleted_at.is_(None),
        Agent.active_submission_id.is_not(None),
        ~exists().where(Queue.agent_id == Agent.id),
    )
    session.execute(
        insert(Queue).from_select(
            ["agent_id", "environment_id", "status", "enqueued_at", "updated_at", "day_count"], missing
        )
    )


def busy_agents(session: Session, environment_id: str) -> set[uuid.UUID]:
    """Agents in a pending or running match of any kind (manual ones included); house agents
    too, though being busy does not hold them back (rlarena.domain.pairing)."""
    open_matches = select(Match.agent1_id, Match.agent2_id).where(
        Match.environment_id == environment_id,
        Match.status.in_((MatchStatus.PENDING.value, MatchStatus.RUNNING.value)),
    )
    busy: set[uuid.UUID] = set()
    for first, second in session.execute(open_matches):
        busy.update((first, second))
    return busy


# -- who is rested -------------------------------------------------------------------------------


def _rested_select(columns: Sequence[Any], environment_id: str, now: datetime, rules: RestRules) -> Select[Any]:
    """The eligibility rule, once: waiting, past the cooldown, under the daily cap, not deleted,
    with an active built version. `columns` are what the caller reads of those agents."""
    fresh_day = or_(Queue.day_started_at.is_(None), Queue.day_started_at <= now - DAY)
    return (
        select(*columns)
        .select_from(Queue)
        .join(Agent, Agent.id == Queue.agent_id)
        .join(Submission, Submission.id == Agent.active_submission_id)
        .where(
            Queue.environment_id == environment_id,
            Queue.status == QueueStatus.WAITING.value,
            or_(Queue.last_match_at.is_(None), Queue.last_match_at <= now - rules.cooldown),
            or_(fresh_day, Queue.day_count < rules.daily_cap),
            Agent.deleted_at.is_(None),
            Submission.is_active.is_(True),
            Submission.status == SubmissionStatus.ACTIVE.value,
        )
    )


def rested_candidates(session: Session, environment_id: str, now: datetime, rules: RestRules) -> list[Candidate]:
    """The rested agents as pairing sees them (COPY on PostgreSQL, a SELECT elsewhere).

    Only what pairing needs is read (the versions are read for the booked few afterwards), and
    the cooldown and cap are applied by the database: a tick's cost is this one query's rows.
    No row locks needed: the environment's lock (advisory on PostgreSQL, BEGIN IMMEDIATE on
    SQLite) already makes this tick the only one booking these rows, and nothing else takes a
    waiting entry out of the queue.
    """
    if session.get_bind().dialect.name == "postgresql":
        return rested_by_copy(session, environment_id, now, rules)
    return rested_by_select(session, environment_id, now, rules)


def rested_by_select(session: Session, environment_id: str, now: datetime, rules: RestRules) -> list[Candidate]:
    columns = (
        Queue.agent_id,
        Queue.enqueued_at,
        Queue.last_match_at,
        Queue.last_side,
        Queue.last_opponent_id,
        Agent.elo,
        Agent.rated_matches,
        Agent.house_name,
    )
    return [
        Candidate(
            row.agent_id,
            row.elo,
            waited_seconds(row.enqueued_at, row.last_match_at, now, rules.cooldown),
            row.rated_matches,
            row.last_side,
            recent_opponents(row.last_opponent_id, row.last_match_at, now, rules.rematch_after),
            row.house_name is not None,
        )
        for row in session.execute(_rested_select(columns, environment_id, now, rules)).all()
    ]


def rested_copy_query(environment_id: str, now: datetime, rules: RestRules) -> str:
    """The rested agents for COPY, with the wait and the recent opponent worked out by PostgreSQL."""
    at = literal(now, UTCDateTime())
    rested_since = func.greatest(Queue.enqueued_at, Queue.last_match_at + rules.cooldown)
    columns = (
        Queue.agent_id,
        Agent.elo,
        Agent.rated_matches,
        Queue.last_side,
        cast(extract("epoch", at - rested_since), Float),
        case((Queue.last_match_at > now - rules.rematch_after, Queue.last_opponent_id)),
        Agent.house_name.is_not(None),
    )
    return copy_query(_rested_select(columns, environment_id, now, rules))


def rested_by_copy(session: Session, environment_id: str, now: datetime, rules: RestRules) -> list[Candidate]:
    return [
        Candidate(
            uuid.UUID(agent),
            int(elo),
            max(0.0, float(waited)),
            int(games),
            int(side) if side else None,
            frozenset([uuid.UUID(recent)]) if recent else NO_RECENT,
            house == "t",
        )
        for agent, elo, games, side, waited, recent, house in copy_rows(
            session, rested_copy_query(environment_id, now, rules)
        )
    ]


# -- booking -------------------------------------------------------------------------------------


def active_versions(session: Session, agent_ids: list[uuid.UUID]) -> list[ActiveVersion]:
    """The active version of each of these agents (an agent without one is left out)."""
    versions: list[ActiveVersion] = []
    for chunk in chunks(agent_ids, CHUNK):
        rows = session.execute(
            select(Agent.id, Submission.id, Submission.version, Submission.docker_image_url, Submission.entry_point)
            .join(Submission, Submission.id == Agent.active_submission_id)
            .where(Agent.id.in_(chunk))
        )
        versions += [ActiveVersion(*row) for row in rows]
    return versions


def mark_booked(session: Session, entries: list[BookedSide], now: datetime) -> None:
    """Each booked agent: matched to its match, with its side, opponent and day count, in bulk."""
    fresh_day = or_(Queue.day_started_at.is_(None), Queue.day_started_at <= now - DAY)
    changes: dict[str, Any] = {
        "status": QueueStatus.MATCHED.value,
        "last_match_at": now,
        "day_started_at": case((fresh_day, now), else_=Queue.day_started_at),
        "day_count": case((fresh_day, 1), else_=Queue.day_count + 1),
        "updated_at": now,
    }
    if session.get_bind().dialect.name != "postgresql":
        # SQLite: one statement per row (it has no column names for a VALUES list; rows are local).
        by_row = (
            update(Queue)
            .where(Queue.agent_id == bindparam("agent"))
            .values(
                match_id=bindparam("match"),
                last_side=bindparam("side"),
                last_opponent_id=bindparam("opponent"),
                **changes,
            )
        )
        params = [
            {"agent": e.agent_id, "match": e.match_id, "side": e.side, "opponent": e.opponent_id} for e in entries
        ]
        if params:
            session.connection().execute(by_row, params)
        return
    # PostgreSQL: one UPDATE joining the booked rows passed as arrays (see adapters/db/bulk.py).
    day_cut = now - DAY
    statement = text(
        "UPDATE matchmaking_queue AS q SET status = :matched, match_id = b.match_id, last_side = b.side, "
        "last_opponent_id = b.opponent_id, last_match_at = :now, updated_at = :now, "
        "day_started_at = CASE WHEN q.day_started_at IS NULL OR q.day_started_at <= :day_cut "
        "THEN :now ELSE q.day_started_at END, "
        "day_count = CASE WHEN q.day_started_at IS NULL OR q.day_started_at <= :day_cut "
        "THEN 1 ELSE q.day_count + 1 END "
        "FROM unnest(CAST(:agents AS UUID[]), CAST(:matches AS UUID[]), CAST(:sides AS INTEGER[]), "
        "CAST(:opponents AS UUID[])) AS b(agent_id, match_id, side, opponent_id) "
        "WHERE q.agent_id = b.agent_id"
    )
    for chunk in chunks(entries, CHUNK):
        session.execute(
            statement,
            {
                "matched": QueueStatus.MATCHED.value,
                "now": now,
                "day_cut": day_cut,
                "agents": [str(e.agent_id) for e in chunk],
                "matches": [str(e.match_id) for e in chunk],
                "sides": [e.side for e in chunk],
                "opponents": [str(e.opponent_id) for e in chunk],
            },
        )
