"""The ratings' SQL: the match and both players under lock, rating history written and read
(each row with its opponent, named, and the agent's result)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from rlarena.adapters.db.models import Agent, Match, RatingHistory
from rlarena.domain.records import RatedAgent, outcome
from rlarena.domain.statuses import MatchStatus


@dataclass(frozen=True)
class RatingEntry:
    """A history row as it is read: whom the agent met (rows written before the opponent was
    recorded take it from the match) and how it went (1 win, 0.5 draw, 0 loss; None if unknown)."""

    row: RatingHistory
    opponent_id: uuid.UUID | None
    opponent_name: str | None
    score: float | None


class RatingRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def lock_match(self, match_id: uuid.UUID) -> Match | None:
        return self._session.scalars(select(Match).where(Match.id == match_id).with_for_update()).first()

    def lock_players(self, agent_ids: set[uuid.UUID]) -> dict[uuid.UUID, Agent]:
        """Both agents, locked in id order so concurrent results for shared agents cannot deadlock."""
        query = select(Agent).where(Agent.id.in_(agent_ids)).order_by(Agent.id).with_for_update()
        return {a.id: a for a in self._session.scalars(query)}

    def add_history(
        self, match_id: uuid.UUID, rated: Sequence[RatedAgent], winner_id: uuid.UUID | None, now: datetime
    ) -> None:
        """One row per side, each naming the other side as its opponent, with the side's score."""
        opponents = {side.agent_id: other.agent_id for side, other in zip(rated, reversed(rated), strict=True)}
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
                        "opponent_id": opponents[side.agent_id],
                        "score": outcome(side.agent_id, winner_id),
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

    def page(self, agent_id: uuid.UUID, *, offset: int, limit: int) -> tuple[list[RatingEntry], int]:
        """One page of the agent's history, newest first, and how many rows there are.

        Two statements whatever the page's size: the rows with their matches, then the opponents' names."""
        mine = RatingHistory.agent_id == agent_id
        total = self._session.scalar(select(func.count()).select_from(RatingHistory).where(mine)) or 0
        found = self._session.execute(
            select(RatingHistory, Match.agent1_id, Match.agent2_id, Match.winner_id, Match.status)
            .outerjoin(Match, Match.id == RatingHistory.match_id)
            .where(mine)
            .order_by(RatingHistory.created_at.desc(), RatingHistory.id.desc())
            .offset(offset)
            .limit(limit)
        ).all()
        entries = [
            (row, _opponent(row, first, second), _score(row, winner, status))
            for row, first, second, winner, status in found
        ]
        names = self._names({opponent for _, opponent, _ in entries if opponent is not None})
        return [RatingEntry(row, opponent, names.get(opponent), score) for row, opponent, score in entries], total

    def _names(self, agent_ids: set[uuid.UUID]) -> dict[uuid.UUID | None, str]:
        if not agent_ids:
            return {}
        found = self._session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(agent_ids)))
        return {agent: name for agent, name in found}


def _opponent(row: RatingHistory, first: uuid.UUID | None, second: uuid.UUID | None) -> uuid.UUID | None:
    if row.opponent_id is not None:
        return row.opponent_id
    if first is None:
        return None
    return second if row.agent_id == first else first


def _score(row: RatingHistory, winner_id: uuid.UUID | None, status: str | None) -> float | None:
    if row.score is not None:
        return row.score
    return outcome(row.agent_id, winner_id) if status == MatchStatus.COMPLETED.value else None
