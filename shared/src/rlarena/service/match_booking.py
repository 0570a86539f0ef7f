"""Booking matches (rows written in the caller's transaction) and handing them to the executor.

Booking and dispatch are two steps on purpose: the rows commit first, then each match is
announced (match.scheduled) and dispatched. A dispatch that fails fails that match with the
reason and frees both agents; a dispatch that was lost after commit is caught by the reaper at
the match's deadline. Either way no agent stays booked.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from rlarena.adapters.db.bulk import insert_rows
from rlarena.adapters.db.models import Match, MatchmakingHistory
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.adapters.executor_client import DispatchAgent, DispatchFailed, DispatchOrder
from rlarena.domain.statuses import MatchStatus
from rlarena.environments.registry import spec_of
from rlarena.events.catalogue import EventType, MatchScheduled, Source, make_event
from rlarena.service import match_lifecycle
from rlarena.service.ports import PlatformCore

if TYPE_CHECKING:
    from rlarena.adapters.executor_client import MatchDispatcher
    from rlarena.adapters.storage.base import ObjectStore

log = logging.getLogger(__name__)


class BookingPlatform(PlatformCore, Protocol):
    """What booking and dispatching matches needs of the platform (`bootstrap.Platform` is one)."""

    @property
    def executor(self) -> MatchDispatcher: ...

    @property
    def store(self) -> ObjectStore: ...  # the tick's reaper reads the executor's stored results


@dataclass(frozen=True)
class Player:
    """An agent as it will play: the version that is active at booking time."""

    agent_id: uuid.UUID
    submission_id: uuid.UUID
    version: int
    image: str
    entry_point: str


@dataclass(frozen=True)
class Booking:
    match_id: uuid.UUID
    environment_id: str
    first: Player
    second: Player
    seed: int
    is_rated: bool
    timeout_s: int


def new_booking(environment_id: str, first: Player, second: Player, *, is_rated: bool) -> Booking:
    match_id = uuid.uuid4()
    spec = spec_of(environment_id)
    return Booking(
        match_id=match_id,
        environment_id=environment_id,
        first=first,
        second=second,
        seed=match_id.int % (2**31),
        is_rated=is_rated,
        timeout_s=int(spec.match_timeout_s),
    )


def write_bookings(uow: UnitOfWork, bookings: list[Booking], now: datetime, slack: timedelta) -> None:
    """The match rows (pending, with a deadline) and the pairing history, in bulk, and their
    announcements (match.scheduled, published once the transaction commits)."""
    if not bookings:
        return
    insert_rows(
        uow.session,
        Match,
        [
            {
                "id": b.match_id,
                "environment_id": b.environment_id,
                "agent1_id": b.first.agent_id,
                "agent2_id": b.second.agent_id,
                "agent1_submission_id": b.first.submission_id,
                "agent2_submission_id": b.second.submission_id,
                "status": MatchStatus.PENDING.value,
                "is_rated": b.is_rated,
                "is_public": True,
                "seed": b.seed,
                "deadline_at": now + timedelta(seconds=b.timeout_s) + slack,
                "created_at": now,
                "updated_at": now,
            }
            for b in bookings
        ],
    )
    insert_rows(
        uow.session,
        MatchmakingHistory,
        [
            {
                "id": uuid.uuid4(),
                "match_id": b.match_id,
                "environment_id": b.environment_id,
                "agent1_id": b.first.agent_id,
                "agent2_id": b.second.agent_id,
                "created_at": now,
            }
            for b in bookings
        ],
    )
    for booking in bookings:
        _announce(uow, booking)


def dispatch(platform: BookingPlatform, bookings: list[Booking]) -> int:
    """Announce and start each committed booking; returns how many the executor took."""
    started = 0
    for booking in bookings:
        try:
            platform.executor.start(_order(booking))
        except DispatchFailed as error:
            log.warning("match %s: %s", booking.match_id, error.message)
            match_lifecycle.fail_match(platform, booking.match_id, error.message, announce=True)
        else:
            started += 1
    return started


def _announce(uow: UnitOfWork, booking: Booking) -> None:
    payload = MatchScheduled(
        match_id=booking.match_id,
        environment_id=booking.environment_id,
        agent1_id=booking.first.agent_id,
        agent2_id=booking.second.agent_id,
        is_rated=booking.is_rated,
    )
    event_id = f"match-scheduled-{booking.match_id}"
    uow.publish(make_event(EventType.MATCH_SCHEDULED, Source.MATCHMAKER, payload, event_id=event_id))


def _order(booking: Booking) -> DispatchOrder:
    return DispatchOrder(
        match_id=str(booking.match_id),
        environment=booking.environment_id,
        agents=(_agent(booking.first), _agent(booking.second)),
        seed=booking.seed,
        timeout_s=booking.timeout_s,
    )


def _agent(player: Player) -> DispatchAgent:
    return DispatchAgent(
        agent_id=str(player.agent_id),
        submission_id=str(player.submission_id),
        version=player.version,
        image=player.image,
        entry_point=player.entry_point,
    )
