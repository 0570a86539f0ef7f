"""Use cases of agents, leaderboards and environments."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Protocol

from rlarena.adapters.db.models import Agent, Environment
from rlarena.adapters.db.repositories import OpponentRecord, RankedAgent
from rlarena.domain.ranking import LeaderboardOrder
from rlarena.errors import Conflict, Forbidden, InvalidInput, NotFound
from rlarena.service.commands import CreateAgent, LeaderboardQuery, PageQuery, UpdateAgent
from rlarena.service.ports import PlatformCore
from rlarena.service.rendered_boards import RenderedBoards, Stamp
from rlarena.service.unit_of_work import UnitOfWorkLike


class LeaderboardPlatform(PlatformCore, Protocol):
    @property
    def leaderboards(self) -> RenderedBoards: ...

    def leaderboard_stamp(self, environment_id: str | None) -> Stamp: ...


def list_agents(platform: PlatformCore, query: PageQuery) -> tuple[list[RankedAgent], int]:
    with platform.uow() as uow:
        return uow.agents.page(offset=query.offset, limit=query.page_size)


def agents_of(platform: PlatformCore, user_id: uuid.UUID, environment_id: str | None) -> list[RankedAgent]:
    with platform.uow() as uow:
        return uow.agents.of_user(user_id, environment_id)


def get_agent(platform: PlatformCore, agent_id: uuid.UUID) -> RankedAgent:
    with platform.uow() as uow:
        return uow.agents.ranked_view(_existing(uow, agent_id))


def head_to_head(platform: PlatformCore, agent_id: uuid.UUID) -> list[OpponentRecord]:
    with platform.uow() as uow:
        _existing(uow, agent_id)
        return uow.agents.head_to_head(agent_id)


def create_agent(platform: PlatformCore, user_id: uuid.UUID, command: CreateAgent) -> RankedAgent:
    with platform.uow() as uow:
        environment = uow.environments.get(command.environment_id)
        if environment is None or not environment.is_active:
            known = ", ".join(e.id for e in uow.environments.list_active())
            raise InvalidInput(
                f"unknown environmentId {command.environment_id!r}: use one of {known}",
                details={"field": "environmentId", "allowed": known.split(", ")},
            )
        if uow.agents.name_taken(user_id, command.name):
            raise Conflict(f"you already have an agent named {command.name!r}")
        now = platform.clock()
        agent = Agent(
            id=uuid.uuid4(),
            user_id=user_id,
            environment_id=environment.id,
            name=command.name,
            description=command.description,
            elo=1500,
            wins=0,
            losses=0,
            draws=0,
            total_matches=0,
            rated_matches=0,
            created_at=now,
            updated_at=now,
        )
        uow.agents.add(agent)
        _commit_unique(uow, command.name)
        return uow.agents.ranked_view(agent)


def update_agent(platform: PlatformCore, user_id: uuid.UUID, agent_id: uuid.UUID, command: UpdateAgent) -> RankedAgent:
    with platform.uow() as uow:
        agent = _owned(uow, agent_id, user_id)
        if command.name is not None and command.name != agent.name:
            if uow.agents.name_taken(user_id, command.name, except_id=agent.id):
                raise Conflict(f"you already have an agent named {command.name!r}")
            agent.name = command.name
        if command.description is not None:
            agent.description = command.description
        agent.updated_at = platform.clock()
        _commit_unique(uow, agent.name)
        return uow.agents.ranked_view(agent)


def delete_agent(platform: PlatformCore, user_id: uuid.UUID, agent_id: uuid.UUID) -> None:
    """Retire the agent: off the ladder and the queue, matches not yet started cancelled.

    Its row stays (marked deleted) so opponents' match history and head-to-head still name it.
    """
    with platform.uow() as uow:
        agent = _owned(uow, agent_id, user_id)
        uow.agents.retire(agent, platform.clock())
        uow.commit()


class SortedLeaderboardQuery(LeaderboardQuery):
    """`?sort=elo` (the default the old clients expect) or `?sort=conservative` (mu - 3 sigma)."""

    sort: LeaderboardOrder = LeaderboardOrder.ELO


def leaderboard(
    platform: PlatformCore, environment_id: str | None, query: SortedLeaderboardQuery
) -> tuple[list[RankedAgent], int]:
    with platform.uow() as uow:
        return _leaderboard(uow, environment_id, query)


def rendered_leaderboard(
    platform: LeaderboardPlatform,
    environment_id: str | None,
    query: SortedLeaderboardQuery,
    render: Callable[[list[RankedAgent], int], bytes],
) -> bytes:
    """One leaderboard page as `render` made it, re-rendered only when the board has changed.

    One cheap read (the board's stamp) when nothing changed; the stamp is read before the board,
    so a page is never stored under a stamp newer than what it shows.
    """
    key = (environment_id, query.sort, query.offset, query.limit)
    stamp = platform.leaderboard_stamp(environment_id)
    cached = platform.leaderboards.get(key, stamp)
    if cached is not None:
        return cached
    with platform.uow() as uow:
        board, total = _leaderboard(uow, environment_id, query)
    body = render(board, total)
    platform.leaderboards.put(key, stamp, body)
    return body


def _leaderboard(
    uow: UnitOfWorkLike, environment_id: str | None, query: SortedLeaderboardQuery
) -> tuple[list[RankedAgent], int]:
    if environment_id is not None and uow.environments.get(environment_id) is None:
        raise NotFound(f"no environment {environment_id!r}")
    if query.sort is LeaderboardOrder.CONSERVATIVE:
        return uow.agents.conservative_leaderboard(
            environment_id=environment_id, offset=query.offset, limit=query.limit
        )
    return uow.agents.leaderboard(environment_id=environment_id, offset=query.offset, limit=query.limit)


def environments(platform: PlatformCore) -> Sequence[Environment]:
    """The seeded environments the platform can actually run (those in the game registry)."""
    from rlarena.environments.registry import available

    runnable = {spec.id for spec in available()}
    with platform.uow() as uow:
        return [e for e in uow.environments.list_active() if e.id in runnable]


def _existing(uow: UnitOfWorkLike, agent_id: uuid.UUID) -> Agent:
    agent = uow.agents.get(agent_id)
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    return agent


def _owned(uow: UnitOfWorkLike, agent_id: uuid.UUID, user_id: uuid.UUID) -> Agent:
    agent = _existing(uow, agent_id)
    if agent.user_id != user_id:
        raise Forbidden("this agent belongs to another user")
    return agent


def _commit_unique(uow: UnitOfWorkLike, name: str) -> None:
    if not uow.commit_unique():
        raise Conflict(f"you already have an agent named {name!r}")
