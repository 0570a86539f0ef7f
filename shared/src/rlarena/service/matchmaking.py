"""Automatic matchmaking: who waits, who may play, who plays whom, and booking it safely.

A tick matches every environment the platform can run. Per environment it runs in one
transaction that first takes that environment's lock (a transaction-level advisory lock on
PostgreSQL, skipped rather than waited for: an overlapping tick on another replica simply leaves
that environment to the one already on it; SQLite has a single writer), reads the waiting queue
in one query, pairs in memory in O(n log n) (rlarena.domain.pairing), and writes the matches and
queue changes in bulk. Dispatch happens after commit (rlarena.service.match_booking).

Rule for results of replaced versions: an agent is the rated entity, so a match counts for the
agent whichever of its versions played; the match records the submission ids that played, and
queued matches keep the version that was active when they were booked.
"""

from __future__ import annotations

import logging
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, case, exists, func, insert, literal, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from rlarena.adapters.db.bulk import chunks
from rlarena.adapters.db.copy_out import copy_rows
from rlarena.adapters.db.copy_out import literal as sql_literal
from rlarena.adapters.db.models import Agent, Environment, Match, MatchmakingQueueEntry, Submission
from rlarena.bootstrap import Platform
from rlarena.config import Settings
from rlarena.domain.pairing import Candidate, PairingPolicy, pair
from rlarena.domain.statuses import MatchStatus, QueueStatus, SubmissionStatus
from rlarena.environments.registry import REGISTRATIONS
from rlarena.service import match_booking, match_lifecycle
from rlarena.service.match_booking import Booking, Player
from rlarena.service.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

DAY = timedelta(days=1)
CHUNK = 10_000  # rows per statement
Queue = MatchmakingQueueEntry


@dataclass(frozen=True)
class TickReport:
    environments: int
    waiting: int
    eligible: int
    booked: int
    dispatched: int
    skipped: tuple[str, ...] = ()  # environments another replica was already matching


def tick(platform: Platform, *, environment_id: str | None = None, dispatch: bool = True) -> TickReport:
    """Reap, then match every runnable environment (or just one) and dispatch the new matches."""
    match_lifecycle.reap(platform)
    bookings: list[Booking] = []
    waiting = eligible = 0
    skipped: list[str] = []
    environments = [environment_id] if environment_id else runnable_environments(platform)
    for env in environments:
        result = match_environment(platform, env)
        if result is None:
            skipped.append(env)
            continue
        bookings += result.bookings
        waiting += result.waiting
        eligible += result.eligible
    dispatched = match_booking.dispatch(platform, bookings) if dispatch else 0
    report = TickReport(len(environments), waiting, eligible, len(bookings), dispatched, tuple(skipped))
    if bookings:
        log.info("matchmaking tick: %s", report)
    return report


def runnable_environments(platform: Platform) -> list[str]:
    """Environments that are enabled in the database and that this platform has a game for."""
    known = {registration.spec.id for registration in REGISTRATIONS}
    with platform.uow() as uow:
        enabled = uow.session.scalars(select(Environment.id).where(Environment.is_active.is_(True))).all()
    return sorted(env for env in enabled if env in known)


def enqueue(platform: Platform, agent_id: uuid.UUID) -> bool:
    """Put an agent with an active version in its environment's queue (no-op if it is there)."""
    now = platform.clock()
    with platform.uow() as uow:
        agent = uow.session.get(Agent, agent_id)
        if agent is None or agent.deleted_at is not None or agent.active_submission_id is None:
            return False
        if uow.session.get(Queue, agent_id) is not None:
            return False
        uow.session.add(
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
            uow.commit()
        except IntegrityError:  # a concurrent twin enqueued it first
            return False
    return True


@dataclass(frozen=True)
class EnvironmentRound:
    waiting: int
    eligible: int
    bookings: list[Booking]


def match_environment(platform: Platform, environment_id: str) -> EnvironmentRound | None:
    settings = platform.settings
    now = platform.clock()
    with platform.uow() as uow:
        if not _lock_environment(uow, environment_id):
            return None
        _enqueue_missing(uow, environment_id, now)
        busy = _busy_agents(uow, environment_id)
        rested = _rested_candidates(uow, environment_id, now, settings)
        candidates = [c for c in rested if c.agent_id not in busy]
        # At most the cap per environment and tick, so a tick never floods the executors; pair()
        # serves new agents and the longest waiting first, so they are the ones booked.
        pairings = pair(candidates, policy_of(platform), limit=settings.matchmaker_max_matches_per_tick)
        players = _players(uow, [agent for p in pairings for agent in (p.first, p.second)])
        bookings = [
            match_booking.new_booking(environment_id, players[p.first], players[p.second], is_rated=True)
            for p in pairings
            if p.first in players and p.second in players
        ]
        match_booking.write_bookings(uow, bookings, now, settings.match_deadline_slack)
        _mark_booked(uow, bookings, now)
        uow.commit()
    return EnvironmentRound(waiting=len(rested), eligible=len(candidates), bookings=bookings)


def policy_of(platform: Platform) -> PairingPolicy:
    s = platform.settings
    return PairingPolicy(
        initial_window=s.matchmaker_initial_window,
        window_step=s.matchmaker_window_step,
        max_window=s.matchmaker_max_window,
        wait_interval=s.matchmaker_wait_interval.total_seconds(),
        new_agent_games=s.matchmaker_new_agent_games,
    )


# -- steps ---------------------------------------------------------------------------------------


def _lock_environment(uow: UnitOfWork, environment_id: str) -> bool:
    if uow.session.get_bind().dialect.name != "postgresql":
        return True
    key = zlib.crc32(f"matchmaking:{environment_id}".encode())
    return bool(uow.session.scalar(select(func.pg_try_advisory_xact_lock(key))))


def _enqueue_missing(uow: UnitOfWork, environment_id: str, now: datetime) -> None:
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
    uow.session.execute(
        insert(Queue).from_select(
            ["agent_id", "environment_id", "status", "enqueued_at", "updated_at", "day_count"], missing
        )
    )


def _rested(uow: UnitOfWork, environment_id: str, now: datetime, settings: Settings) -> list[Any]:
    """Waiting agents past their cooldown and under the daily cap, with an active version.

    Only what pairing needs is read (the versions are read for the booked few afterwards), and
    the cooldown and cap are applied by the database: a tick's cost is this one query's rows.
    """
    fresh_day = or_(Queue.day_started_at.is_(None), Queue.day_started_at <= now - DAY)
    query = (
        select(
            Queue.agent_id,
            Queue.enqueued_at,
            Queue.last_match_at,
            Queue.last_side,
            Queue.last_opponent_id,
            Agent.elo,
            Agent.total_matches,
        )
        .join(Agent, Agent.id == Queue.agent_id)
        .join(Submission, Submission.id == Agent.active_submission_id)
        .where(
            Queue.environment_id == environment_id,
            Queue.status == QueueStatus.WAITING.value,
            or_(Queue.last_match_at.is_(None), Queue.last_match_at <= now - settings.matchmaker_cooldown),
            or_(fresh_day, Queue.day_count < settings.matchmaker_daily_cap),
            Agent.deleted_at.is_(None),
            Submission.is_active.is_(True),
            Submission.status == SubmissionStatus.ACTIVE.value,
        )
    )
    # No row locks needed: the environment's lock (advisory on PostgreSQL, BEGIN IMMEDIATE on
    # SQLite) already makes this tick the only one booking these rows, and nothing else takes a
    # waiting entry out of the queue.
    return list(uow.session.execute(query).all())


def _rested_candidates(uow: UnitOfWork, environment_id: str, now: datetime, settings: Settings) -> list[Candidate]:
    if uow.session.get_bind().dialect.name == "postgresql":
        return _rested_by_copy(uow, environment_id, now, settings)
    return [
        Candidate(
            row.agent_id,
            row.elo,
            _waited(row, now, settings.matchmaker_cooldown),
            row.total_matches,
            row.last_side,
            _recent_opponents(row, now, settings.matchmaker_rematch_after),
        )
        for row in _rested(uow, environment_id, now, settings)
    ]


def _rested_by_copy(uow: UnitOfWork, environment_id: str, now: datetime, settings: Settings) -> list[Candidate]:
    """_rested on PostgreSQL through COPY, with the wait and the recent opponent worked out there."""
    cooldown, rematch = sql_literal(settings.matchmaker_cooldown), sql_literal(settings.matchmaker_rematch_after)
    at, day, cap = sql_literal(now), sql_literal(DAY), sql_literal(settings.matchmaker_daily_cap)
    environment, waiting = sql_literal(environment_id), sql_literal(QueueStatus.WAITING.value)
    active = sql_literal(SubmissionStatus.ACTIVE.value)
    # Every value above is quoted by sql_literal: COPY takes no bind parameters.
    query = (
        "SELECT q.agent_id, a.elo, a.total_matches, q.last_side, "  # noqa: S608
        f"EXTRACT(EPOCH FROM {at} - GREATEST(q.enqueued_at, q.last_match_at + {cooldown}))::float8, "
        f"CASE WHEN q.last_match_at > {at} - {rematch} THEN q.last_opponent_id END "
        "FROM matchmaking_queue q JOIN agents a ON a.id = q.agent_id "
        "JOIN submissions s ON s.id = a.active_submission_id "
        f"WHERE q.environment_id = {environment} AND q.status = {waiting} "
        f"AND (q.last_match_at IS NULL OR q.last_match_at <= {at} - {cooldown}) "
        f"AND (q.day_started_at IS NULL OR q.day_started_at <= {at} - {day} OR q.day_count < {cap}) "
        f"AND a.deleted_at IS NULL AND s.is_active AND s.status = {active}"
    )
    no_recent: frozenset[uuid.UUID] = frozenset()
    return [
        Candidate(
            uuid.UUID(agent),
            int(elo),
            max(0.0, float(waited)),
            int(games),
            int(side) if side else None,
            frozenset([uuid.UUID(recent)]) if recent else no_recent,
        )
        for agent, elo, games, side, waited, recent in copy_rows(uow.session, query)
    ]


def _players(uow: UnitOfWork, agent_ids: list[uuid.UUID]) -> dict[uuid.UUID, Player]:
    """The active version each booked agent will play."""
    players: dict[uuid.UUID, Player] = {}
    for chunk in chunks(agent_ids, CHUNK):
        rows = uow.session.execute(
            select(Agent.id, Submission.id, Submission.version, Submission.docker_image_url, Submission.entry_point)
            .join(Submission, Submission.id == Agent.active_submission_id)
            .where(Agent.id.in_(chunk))
        )
        for agent_id, submission_id, version, image, entry_point in rows:
            players[agent_id] = Player(agent_id, submission_id, version, image or "", entry_point or "agent.py")
    return players


def _busy_agents(uow: UnitOfWork, environment_id: str) -> set[uuid.UUID]:
    """Agents in a pending or running match of any kind (manual ones included)."""
    open_matches = select(Match.agent1_id, Match.agent2_id).where(
        Match.environment_id == environment_id,
        Match.status.in_((MatchStatus.PENDING.value, MatchStatus.RUNNING.value)),
    )
    busy: set[uuid.UUID] = set()
    for first, second in uow.session.execute(open_matches):
        busy.update((first, second))
    return busy


def _waited(row: Any, now: datetime, cooldown: timedelta) -> float:
    """Seconds it has been both queued and rested: the window widens from then on."""
    since = row.enqueued_at if row.last_match_at is None else max(row.enqueued_at, row.last_match_at + cooldown)
    return max(0.0, float((now - since).total_seconds()))


def _recent_opponents(row: Any, now: datetime, rematch_after: timedelta) -> frozenset[uuid.UUID]:
    """The last opponent, until REMATCH_AFTER has passed (so two lone agents still meet again)."""
    if row.last_opponent_id is None or row.last_match_at is None or now - row.last_match_at >= rematch_after:
        return frozenset()
    return frozenset([row.last_opponent_id])


def _mark_booked(uow: UnitOfWork, bookings: list[Booking], now: datetime) -> None:
    """Each booked agent: matched to its match, with its side, opponent and day count, in bulk."""
    rows = [
        (me.agent_id, booking.match_id, side, opponent.agent_id)
        for booking in bookings
        for side, me, opponent in ((1, booking.first, booking.second), (2, booking.second, booking.first))
    ]
    fresh_day = or_(Queue.day_started_at.is_(None), Queue.day_started_at <= now - DAY)
    changes: dict[str, Any] = {
        "status": QueueStatus.MATCHED.value,
        "last_match_at": now,
        "day_started_at": case((fresh_day, now), else_=Queue.day_started_at),
        "day_count": case((fresh_day, 1), else_=Queue.day_count + 1),
        "updated_at": now,
    }
    if uow.session.get_bind().dialect.name != "postgresql":
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
        params = [{"agent": a, "match": m, "side": s, "opponent": o} for a, m, s, o in rows]
        if params:
            uow.session.connection().execute(by_row, params)
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
    for chunk in chunks(rows, CHUNK):
        uow.session.execute(
            statement,
            {
                "matched": QueueStatus.MATCHED.value,
                "now": now,
                "day_cut": day_cut,
                "agents": [str(agent) for agent, _, _, _ in chunk],
                "matches": [str(match) for _, match, _, _ in chunk],
                "sides": [side for _, _, side, _ in chunk],
                "opponents": [str(opponent) for _, _, _, opponent in chunk],
            },
        )
