"""The ratings' SQL: the match and both players under lock, rating history written and read."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import Agent, Match, RatingHistory
from rlarena.domain.records import RatedAgent


class RatingRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def lock_match(self, match_id: uuid.UUID) -> Match | None:
        return self._session.scalars(select(Match).where(Match.id == match_id).with_for_update()).first()

    def lock_players(self, agent_ids: set[uuid.UUID]) -> dict[uuid.UUID, Agent]:
        """Both agents, locked in id order so concurrent results for shared agents cannot deadlock."""
        query = select(Agent).where(Agent.id.in_(agent_ids)).order_by(Agent.id).with_for_update()
        return {a.id: a for a in self._session.scalars(query)}

    def add_history(self, match_id: uuid.UUID, rated: Sequence[RatedAgent], now: datetime) -> None:
        # All rows in one statement (an ORM flush would send one INSERT per row through pg8000).
        self._session.execute(
            insert(RatingHistory).values(
                [
                    {
                        "id": uuid.uuid4(),
                        "agent_id": side.agent_id,
                        "match_id": match_id,
                        "elo_before": side.before.elo,
                        "elo_after": side.after.elo,
                        "elo_change": side.elo_change,
                        "skill_mu_before": side.before.skill.mu,
                        "skill_sigma_before": side.before.skill.sigma,
                        "skill_mu_after": side.after.skill.mu,
                        "skill_sigma_after": side.after.skill.sigma,
                        "created_at": now,
                    }
                    for side in rated
                ]
            )
        )

    def of_match(self, match_id: uuid.UUID) -> list[tuple[RatingHistory, uuid.UUID]]:
        """The match's history rows, each with its agent's owner."""
        rows = self._session.execute(
            select(RatingHistory, Agent.user_id)
            .join(Agent, Agent.id == RatingHistory.agent_id)
            .where(RatingHistory.match_id == match_id)
        ).all()
        return [(h, user_id) for h, user_id in rows]

    def page(self, agent_id: uuid.UUID, *, offset: int, limit: int) -> tuple[list[RatingHistory], int]:
        """One page of the agent's history, newest first, and how many rows there are."""
        mine = RatingHistory.agent_id == agent_id
        total = self._session.scalar(select(func.count()).select_from(RatingHistory).where(mine)) or 0
        rows = self._session.scalars(
            select(RatingHistory)
            .where(mine)
            .order_by(RatingHistory.created_at.desc(), RatingHistory.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        return list(rows), total
