"""Repositories for users, environments and agents (the unit of work exposes them). The other
queries live beside them in adapters/db, one module per area (`*_queries.py`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from rlarena.adapters.db.models import Agent, Environment, Match, MatchmakingQueueEntry, Submission, User
from rlarena.domain.end_reasons import cancelled_reason
from rlarena.domain.ranking import competition_ranks
from rlarena.domain.statuses import MatchStatus, SubmissionStatus

AGENT_DELETED = "an agent was deleted"


@dataclass(frozen=True)
class RankedAgent:
    agent: Agent
    username: str
    rank: int | None


@dataclass(frozen=True)
class OpponentRecord:
    opponent_id: uuid.UUID
    opponent_name: str
    wins: int
    losses: int
    draws: int
    total_matches: int


@dataclass(frozen=True)
class UserStats:
    total_submissions: int
    active_agents: int
    total_matches: int
    total_wins: int
    best_rank: int | None


def _live() -> ColumnElement[bool]:
    return Agent.deleted_at.is_(None)


def _ranked() -> ColumnElement[bool]:
    """Agents that appear on a leaderboard: not deleted, with an active built submission."""
    return and_(Agent.deleted_at.is_(None), Agent.active_submission_id.is_not(None))


class UserRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, user: User) -> None:
        self._session.add(user)

    def get(self, user_id: uuid.UUID) -> User | None:
        return self._session.get(User, user_id)

    def by_login(self, login: str) -> User | None:
        """The user whose email (case-insensitive) or username is `login`."""
        column = User.email if "@" in login else User.username
        value = login.strip().lower() if "@" in login else login.strip()
        return self._session.scalars(select(User).where(column == value)).first()

    def taken(self, username: str, email: str) -> list[str]:
        rows = self._session.execute(
            select(User.username, User.email).where(or_(User.username == username, User.email == email))
        ).all()
        fields = []
        if any(row.username == username for row in rows):
            fields.append("username")
        if any(row.email == email for row in rows):
            fields.append("email")
        return fields

    def stats(self, user_id: uuid.UUID) -> UserStats:
        own_agents = select(Agent.id).where(Agent.user_id == user_id)
        total_submissions = self._session.scalar(
            select(func.count()).select_from(Submission).where(Submission.agent_id.in_(own_agents))
        )
        active_agents = self._session.scalar(
            select(func.count()).select_from(Agent).where(Agent.user_id == user_id, _ranked())
        )
        finished = Match.status == MatchStatus.COMPLETED.value
        total_matches = self._session.scalar(
            select(func.count())
            .select_from(Match)
            .where(finished, or_(Match.agent1_id.in_(own_agents), Match.agent2_id.in_(own_agents)))
        )
        total_wins = self._session.scalar(
            select(func.count()).select_from(Match).where(finished, Match.winner_id.in_(own_agents))
        )
        best_rank = self._best_rank(user_id)
        return UserStats(
            total_submissions=total_submissions or 0,
            active_agents=active_agents or 0,
            total_matches=total_matches or 0,
            total_wins=total_wins or 0,
            best_rank=best_rank,
        )

    def _best_rank(self, user_id: uuid.UUID) -> int | None:
        rival = Agent.__table__.alias("rival")
        better = (
            select(func.count())
            .select_from(rival)
            .where(
                rival.c.environment_id == Agent.environment_id,
                rival.c.elo > Agent.elo,
                rival.c.deleted_at.is_(None),
                rival.c.active_submission_id.is_not(None),
            )
            .scalar_subquery()
        )
        best = self._session.scalar(select(func.min(better + 1)).where(Agent.user_id == user_id, _ranked()))
        return int(best) if best is not None else None


class EnvironmentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, environment_id: str) -> Environment | None:
        return self._session.get(Environment, environment_id)

    def list_active(self) -> Sequence[Environment]:
        return self._session.scalars(
            select(Environment).where(Environment.is_active.is_(True)).order_by(Environment.created_at, Environment.id)
        ).all()


class AgentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, agent: Agent) -> None:
        self._session.add(agent)

    def get(self, agent_id: uuid.UUID, *, for_update: bool = False) -> Agent | None:
        query = select(Agent).where(Agent.id == agent_id, _live())
        if for_update:
            query = query.with_for_update()
        return self._session.scalars(query).first()

    def name_taken(self, user_id: uuid.UUID, name: str, *, except_id: uuid.UUID | None = None) -> bool:
        query = select(Agent.id).where(Agent.user_id == user_id, Agent.name == name, _live())
        if except_id is not None:
            query = query.where(Agent.id != except_id)
        return self._session.scalar(query) is not None

    def ranked_view(self, agent: Agent) -> RankedAgent:
        username = self._session.scalar(select(User.username).where(User.id == agent.user_id)) or ""
        return RankedAgent(agent=agent, username=username, rank=self.rank_of(agent))

    def rank_of(self, agent: Agent) -> int | None:
        if agent.deleted_at is not None or agent.active_submission_id is None:
            return None
        better = self._session.scalar(
            select(func.count())
            .select_from(Agent)
            .where(Agent.environment_id == agent.environment_id, Agent.elo > agent.elo, _ranked())
        )
        return (better or 0) + 1

    def page(self, *, offset: int, limit: int) -> tuple[list[RankedAgent], int]:
        total = self._session.scalar(select(func.count()).select_from(Agent).where(_live())) or 0
        env_rank = (
            select(
                Agent.id.label("agent_id"),
                func.rank().over(partition_by=Agent.environment_id, order_by=Agent.elo.desc()).label("rank"),
            )
            .where(_ranked())
            .subquery()
        )
        rows = self._session.execute(
            select(Agent, User.username, env_rank.c.rank)
            .join(User, User.id == Agent.user_id)
            .outerjoin(env_rank, env_rank.c.agent_id == Agent.id)
            .where(_live())
            .order_by(Agent.elo.desc(), Agent.created_at, Agent.id)
            .offset(offset)
            .limit(limit)
        ).all()
        return [RankedAgent(agent=a, username=u, rank=r) for a, u, r in rows], total

    def of_user(self, user_id: uuid.UUID, environment_id: str | None) -> list[RankedAgent]:
        query = select(Agent).where(Agent.user_id == user_id, _live())
        if environment_id:
            query = query.where(Agent.environment_id == environment_id)
        agents = self._session.scalars(query.order_by(Agent.created_at, Agent.id)).all()
        username = self._session.scalar(select(User.username).where(User.id == user_id)) or ""
        return [RankedAgent(agent=a, username=username, rank=self.rank_of(a)) for a in agents]

    def leaderboard(self, *, environment_id: str | None, offset: int, limit: int) -> tuple[list[RankedAgent], int]:
        """Ranked agents by Elo, best first; ranks are positions in this table (competition ranking)."""
        return self._ranking(Agent.elo, environment_id=environment_id, offset=offset, limit=limit)

    def conservative_leaderboard(
        self, *, environment_id: str | None, offset: int, limit: int
    ) -> tuple[list[RankedAgent], int]:
        """The same table ordered by the conservative skill estimate (mu - 3 sigma), Elo breaking ties."""
        conservative = Agent.skill_mu - 3 * Agent.skill_sigma
        return self._ranking(conservative, environment_id=environment_id, offset=offset, limit=limit)

    def _ranking(
        self,
        score: ColumnElement[Any] | InstrumentedAttribute[int],
        *,
        environment_id: str | None,
        offset: int,
        limit: int,
    ) -> tuple[list[RankedAgent], int]:
        """One page of ranked agents ordered by `score` (then Elo, games played, age, id), with the
        total and competition ranks that count every better-scored agent before the page."""
        scope: list[ColumnElement[bool]] = [_ranked()]
        if environment_id:
            scope.append(Agent.environment_id == environment_id)
        total = self._session.scalar(select(func.count()).select_from(Agent).where(*scope)) or 0
        rows = self._session.execute(
            select(Agent, User.username, score)
            .join(User, User.id == Agent.user_id)
            .where(*scope)
            .order_by(score.desc(), Agent.elo.desc(), Agent.total_matches.desc(), Agent.created_at, Agent.id)
            .offset(offset)
            .limit(limit)
        ).all()
        if not rows:
            return [], total
        first_rank = None
        if offset:
            better = self._session.scalar(select(func.count()).select_from(Agent).where(*scope, score > rows[0][2]))
            first_rank = (better or 0) + 1
        ranks = competition_ranks([value for _, _, value in rows], offset=offset, first_rank=first_rank)
        return [RankedAgent(agent=a, username=u, rank=r) for (a, u, _), r in zip(rows, ranks, strict=True)], total

    def head_to_head(self, agent_id: uuid.UUID) -> list[OpponentRecord]:
        # Group on a subquery's column: PostgreSQL will not match a GROUP BY expression whose
        # bound parameters differ from the SELECT's.
        played = (
            select(
                case((Match.agent1_id == agent_id, Match.agent2_id), else_=Match.agent1_id).label("opponent"),
                Match.winner_id.label("winner"),
            )
            .where(
                Match.status == MatchStatus.COMPLETED.value,
                or_(Match.agent1_id == agent_id, Match.agent2_id == agent_id),
            )
            .subquery()
        )
        tally = (
            select(
                played.c.opponent,
                func.sum(case((played.c.winner == agent_id, 1), else_=0)).label("wins"),
                func.sum(case((played.c.winner == played.c.opponent, 1), else_=0)).label("losses"),
                func.sum(case((played.c.winner.is_(None), 1), else_=0)).label("draws"),
                func.count().label("total"),
            )
            .group_by(played.c.opponent)
            .subquery()
        )
        rows = self._session.execute(
            select(tally, Agent.name)
            .join(Agent, Agent.id == tally.c.opponent)
            .order_by(tally.c.total.desc(), Agent.name)
        ).all()
        return [
            OpponentRecord(
                opponent_id=row.opponent,
                opponent_name=row.name,
                wins=int(row.wins),
                losses=int(row.losses),
                draws=int(row.draws),
                total_matches=int(row.total),
            )
            for row in rows
        ]

    def soft_delete(self, agent: Agent, now: datetime) -> None:
        """Hide the agent but keep its row, so opponents' matches and stats still name it."""
        agent.deleted_at = now
        agent.active_submission_id = None

    def retire(self, agent: Agent, now: datetime) -> None:
        """Soft-delete the agent, take it off the queue, deactivate its active submission and
        cancel its matches not yet started."""
        self.soft_delete(agent, now)
        session = self._session
        session.execute(delete(MatchmakingQueueEntry).where(MatchmakingQueueEntry.agent_id == agent.id))
        session.execute(
            update(Submission)
            .where(Submission.agent_id == agent.id, Submission.is_active.is_(True))
            .values(is_active=False, status=SubmissionStatus.INACTIVE.value, updated_at=now)
        )
        session.execute(
            update(Match)
            .where(
                Match.status == MatchStatus.PENDING.value,
                (Match.agent1_id == agent.id) | (Match.agent2_id == agent.id),
            )
            .values(
                status=MatchStatus.CANCELLED.value,
                error_message=AGENT_DELETED,
                end_reason=cancelled_reason(AGENT_DELETED),
                updated_at=now,
            )
        )
