"""Automatic matchmaking: who waits, who may play, who plays whom, and booking it safely.

A tick matches every environment the platform can run. Per environment it runs in one
transaction that first takes that environment's lock (a transaction-level advisory lock on
PostgreSQL, skipped rather than waited for: an overlapping tick on another replica simply leaves
that environment to the one already on it; SQLite has a single writer), reads the waiting queue
in one query, pairs in memory in O(n log n) (rlarena.domain.pairing), and writes the matches and
queue changes in bulk. Dispatch happens after commit (rlarena.service.match_booking).

House agents (rlarena.house, HOUSE_AGENTS) are anchors: their queue entry stays waiting while they
play (it is never marked booked), so neither the cooldown nor the daily cap, which count bookings,
holds them back, being in a match does not either, and one may play several matches at once. With
HOUSE_AGENTS=false the matchmaker books none of them, whatever their state.

Rule for results of replaced versions: an agent is the rated entity, so a match counts for the
agent whichever of its versions played; the match records the submission ids that played, and
queued matches keep the version that was active when they were booked.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from rlarena.adapters.db import matchmaking_queries as queries
from rlarena.adapters.db.matchmaking_queries import RestRules
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.config import Settings
from rlarena.domain.match_records import BookedSide, sides_of
from rlarena.domain.pairing import Candidate, PairingPolicy, pair
from rlarena.environments.registry import REGISTRATIONS
from rlarena.service import match_booking, match_lifecycle
from rlarena.service.match_booking import Booking, BookingPlatform, Player

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TickReport:
    environments: int
    waiting: int
    eligible: int
    booked: int
    dispatched: int
    skipped: tuple[str, ...] = ()  # environments another replica was already matching


def tick(platform: BookingPlatform, *, environment_id: str | None = None, dispatch: bool = True) -> TickReport:
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


def runnable_environments(platform: BookingPlatform) -> list[str]:
    """Environments that are enabled in the database and that this platform has a game for."""
    known = {registration.spec.id for registration in REGISTRATIONS}
    with platform.uow() as uow:
        enabled = queries.enabled_environment_ids(uow.session)
    return sorted(env for env in enabled if env in known)


def enqueue(platform: BookingPlatform, agent_id: uuid.UUID) -> bool:
    """Put an agent with an active version in its environment's queue (no-op if it is there)."""
    with platform.uow() as uow:
        if not queries.add_to_queue(uow.session, agent_id, platform.clock()):
            return False
        uow.commit()
    return True


@dataclass(frozen=True)
class EnvironmentRound:
    waiting: int
    eligible: int
    bookings: list[Booking]


def match_environment(platform: BookingPlatform, environment_id: str) -> EnvironmentRound | None:
    settings = platform.settings
    now = platform.clock()
    with platform.uow() as uow:
        if not queries.lock_environment(uow.session, environment_id):
            return None
        _enqueue_missing(uow, environment_id, now)
        busy = queries.busy_agents(uow.session, environment_id)
        rested = queries.rested_candidates(uow.session, environment_id, now, rest_rules(settings))
        candidates = [c for c in rested if _available(c, busy, settings)]
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
        anchors = {c.agent_id for c in candidates if c.house}
        queries.mark_booked(
            uow.session, [side for side in _booked_sides(bookings) if side.agent_id not in anchors], now
        )
        uow.commit()
    return EnvironmentRound(waiting=len(rested), eligible=len(candidates), bookings=bookings)


def policy_of(platform: BookingPlatform) -> PairingPolicy:
    s = platform.settings
    return PairingPolicy(
        initial_window=s.matchmaker_initial_window,
        window_step=s.matchmaker_window_step,
        max_window=s.matchmaker_max_window,
        wait_interval=s.matchmaker_wait_interval.total_seconds(),
        new_agent_games=s.matchmaker_new_agent_games,
    )


def rest_rules(settings: Settings) -> RestRules:
    return RestRules(
        cooldown=settings.matchmaker_cooldown,
        daily_cap=settings.matchmaker_daily_cap,
        rematch_after=settings.matchmaker_rematch_after,
    )


# -- steps ---------------------------------------------------------------------------------------


def _available(candidate: Candidate, busy: set[uuid.UUID], settings: Settings) -> bool:
    """Whether a rested agent may be paired now: a house agent whenever house agents are on, even
    in a match; anyone else when not in one."""
    return settings.house_agents if candidate.house else candidate.agent_id not in busy


def _enqueue_missing(uow: UnitOfWork, environment_id: str, now: datetime) -> None:
    """Agents with an active version but no queue entry (their build event was lost) join now."""
    queries.enqueue_missing(uow.session, environment_id, now)


def _players(uow: UnitOfWork, agent_ids: list[uuid.UUID]) -> dict[uuid.UUID, Player]:
    """The active version each booked agent will play."""
    return {
        v.agent_id: Player(v.agent_id, v.submission_id, v.version, v.image or "", v.entry_point or "agent.py")
        for v in queries.active_versions(uow.session, agent_ids)
    }


def _booked_sides(bookings: list[Booking]) -> list[BookedSide]:
    """Each booked agent's queue entry: its match, its side (1 or 2) and its opponent."""
    return [side for b in bookings for side in sides_of(b.match_id, b.first.agent_id, b.second.agent_id)]
