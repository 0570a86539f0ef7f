"""Manual matches (POST /api/v1/matches): two active agents of one game, one of them the caller's.

Booked and dispatched like automatic ones; the caller gets the pending match at once (202) and
the result arrives by events. Unrated unless MANUAL_MATCHES_RATED says otherwise.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Protocol

from rlarena.adapters.db import match_queries as queries
from rlarena.adapters.db.match_labels import LabelledMatch, labelled_one
from rlarena.adapters.db.models import Agent
from rlarena.adapters.db.unit_of_work import UnitOfWork
from rlarena.domain.statuses import SubmissionStatus
from rlarena.environments.registry import spec_of
from rlarena.errors import Conflict, Forbidden, InvalidInput, NotFound
from rlarena.service import match_booking
from rlarena.service.match_booking import BookingPlatform, Player

if TYPE_CHECKING:
    from rlarena.adapters.db.rate_limits import RateLimiter

RATE_WINDOW = timedelta(minutes=1)


class ManualMatchesPlatform(BookingPlatform, Protocol):
    """What a manual match needs of the platform (`bootstrap.Platform` is one)."""

    @property
    def rate_limiter(self) -> RateLimiter: ...


def create_manual_match(
    platform: ManualMatchesPlatform, user_id: uuid.UUID, first_id: uuid.UUID, second_id: uuid.UUID
) -> LabelledMatch:
    now = platform.clock()
    platform.rate_limiter.hit(
        f"manual-match:{user_id}",
        limit=platform.settings.manual_match_rate_limit_per_minute,
        window=RATE_WINDOW,
        now=now,
        what="manual matches",
    )
    if first_id == second_id:
        raise InvalidInput("agent1Id and agent2Id are the same agent: pick two different agents")
    with platform.uow() as uow:
        first, second = _live_agent(uow, first_id, "agent1Id"), _live_agent(uow, second_id, "agent2Id")
        if user_id not in (first.user_id, second.user_id):
            raise Forbidden("you can only start matches for your own agents: one of the two must be yours")
        if first.environment_id != second.environment_id:
            raise InvalidInput(
                f"the agents play different games ({first.environment_id} and {second.environment_id}): "
                "pick two agents of the same environment",
                details={"agent1Environment": first.environment_id, "agent2Environment": second.environment_id},
            )
        spec_of(first.environment_id)  # 400 if this platform cannot run the game
        booking = match_booking.new_booking(
            first.environment_id,
            _player(uow, first),
            _player(uow, second),
            is_rated=platform.settings.manual_matches_rated,
        )
        match_booking.write_bookings(uow, [booking], now, platform.settings.match_deadline_slack)
        uow.commit()
    match_booking.dispatch(platform, [booking])
    with platform.uow() as uow:
        match = queries.match_by_id(uow.session, booking.match_id)
        assert match is not None
        return labelled_one(uow.session, match)


def _live_agent(uow: UnitOfWork, agent_id: uuid.UUID, field: str) -> Agent:
    agent = queries.agent_by_id(uow.session, agent_id)
    if agent is None or agent.deleted_at is not None:
        raise NotFound(f"no agent {agent_id} ({field})")
    return agent


def _player(uow: UnitOfWork, agent: Agent) -> Player:
    submission = (
        queries.submission_by_id(uow.session, agent.active_submission_id) if agent.active_submission_id else None
    )
    if submission is None or not submission.is_active or submission.status != SubmissionStatus.ACTIVE:
        raise Conflict(
            f"agent {agent.name!r} has no active version: upload code and wait until its build is active",
            code="agent_not_active",
            details={"agentId": str(agent.id)},
        )
    return Player(
        agent_id=agent.id,
        submission_id=submission.id,
        version=submission.version,
        image=submission.docker_image_url or "",
        entry_point=submission.entry_point or "agent.py",
    )
