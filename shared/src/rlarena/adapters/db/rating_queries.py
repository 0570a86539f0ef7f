"""The ratings' SQL: the match and both players under lock, rating history written and read
(each row with its opponent, named, and the agent's result).

The rating path is SQL Core, not the ORM's unit of work: the match and its players are read into
detached objects, the use case changes them, and `save_rated` writes them back in as few
statements as the dialect allows (both agents in one UPDATE on PostgreSQL). Every statement is
built once, so SQLAlchemy's compiled cache serves it; pg8000 is pure Python, so each round trip
and each ORM flush is CPU the consumer pays per match."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, TextClause, Update, bindparam, func, select, text, update
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
        """The match under lock, detached from the session: `save_rated` writes it back."""
        row = self._session.connection().execute(_statements().lock_match, {"match_id": match_id}).first()
        return None if row is None else Match(**row._mapping)

    def lock_players(self, agent_ids: set[uuid.UUID]) -> dict[uuid.UUID, Agent]:
        """Both agents, locked in id order so concurrent results for shared agents cannot deadlock;
        detached from the session (their rating columns only): `save_rated` writes them back."""
        rows = self._session.connection().execute(_statements().lock_players, {"agent_ids": sorted(agent_ids)})
        return {row.id: Agent(**row._mapping) for row in rows}

    def save_rated(self, match: Match, agents: Sequence[Agent]) -> None:
        """Write back what the use case changed: the agents' ratings and records (if `agents`), the
        match's ending."""
        connection = self._session.connection()
        statements = _statements()
        if agents and connection.dialect.name == "postgresql":
            values: dict[str, object] = {}
            for n, agent in enumerate(agents):
                values.update({f"{name}{n}": getattr(agent, name) for name in _AGENT_RATING})
            connection.execute(statements.update_two_agents, values)
        else:
            for agent in agents:
                connection.execute(
                    statements.update_agent, {"agent_id": agent.id} | {n: getattr(agent, n) for n in _AGENT_RATING[1:]}
                )
        connection.execute(
            statements.update_match, {"match_id": match.id} | {n: getattr(match, n) for n in _MATCH_ENDING}
        )

    def add_history(
        self, match_id: uuid.UUID, rated: Sequence[RatedAgent], winner_id: uuid.UUID | None, now: datetime
    ) -> None:
        """One row per side, each naming the other side as its opponent, with the side's score."""
        opponents = {side.agent_id: other.agent_id for side, other in zip(rated, reversed(rated), strict=True)}
        if len(rated) != 2:
            raise ValueError(f"a match has two sides, not {len(rated)}")
        # Both rows in one statement (an ORM flush would send one INSERT per row through pg8000),
        # built once with named parameters so its compiled form is cached.
        values: dict[str, object] = {}
        for n, side in enumerate(rated):
            values.update(
                {
                    f"id{n}": uuid.uuid4(),
                    f"agent_id{n}": side.agent_id,
                    f"match_id{n}": match_id,
                    f"elo_before{n}": side.before.elo,
                    f"elo_after{n}": side.after.elo,
                    f"elo_change{n}": side.elo_change,
                    f"skill_mu_before{n}": side.before.skill.mu,
                    f"skill_sigma_before{n}": side.before.skill.sigma,
                    f"skill_mu_after{n}": side.after.skill.mu,
                    f"skill_sigma_after{n}": side.after.skill.sigma,
                    f"opponent_id{n}": opponents[side.agent_id],
                    f"score{n}": outcome(side.agent_id, winner_id),
                    f"created_at{n}": now,
                }
            )
        self._session.connection().execute(_statements().insert_history, values)

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


_AGENT_RATING = (
    "id", "elo", "skill_mu", "skill_sigma", "rated_matches", "total_matches", "wins", "losses", "draws", "updated_at"
)  # fmt: skip
_MATCH_ENDING = (
    "status", "winner_id", "agent1_score", "agent2_score", "agent1_elo_change", "agent2_elo_change", "rated_at",
    "replay_url", "replay_html_url", "completed_at", "updated_at", "agent1_status", "agent2_status", "end_reason",
)  # fmt: skip
_HISTORY = (
    "id", "agent_id", "match_id", "elo_before", "elo_after", "elo_change", "skill_mu_before", "skill_sigma_before",
    "skill_mu_after", "skill_sigma_after", "opponent_id", "score", "created_at",
)  # fmt: skip
_AGENT_TYPES = ("uuid", "integer", "double precision", "double precision") + ("integer",) * 5 + ("timestamptz",)


@dataclass(frozen=True)
class _Statements:
    lock_match: Select[Any]
    lock_players: Select[Any]
    update_agent: Update
    update_two_agents: TextClause
    update_match: Update
    insert_history: TextClause


@functools.cache
def _statements() -> _Statements:
    """Built on first use (nothing at import time), then reused: SQLAlchemy caches their compiled SQL."""
    agents, matches = cast(Table, Agent.__table__), cast(Table, Match.__table__)
    history = cast(Table, RatingHistory.__table__)
    rows = ", ".join(
        "("
        + ", ".join(f"CAST(:{name}{n} AS {kind})" for name, kind in zip(_AGENT_RATING, _AGENT_TYPES, strict=True))
        + ")"
        for n in range(2)
    )
    history_rows = ", ".join("(" + ", ".join(f":{name}{n}" for name in _HISTORY) + ")" for n in range(2))
    assignments = ", ".join(f"{name} = v.{name}" for name in _AGENT_RATING[1:])
    return _Statements(
        lock_match=select(matches).where(matches.c.id == bindparam("match_id")).with_for_update(),
        lock_players=select(*(agents.c[name] for name in ("id", "user_id", "name", *_AGENT_RATING[1:-1])))
        .where(agents.c.id.in_(bindparam("agent_ids", expanding=True)))
        .order_by(agents.c.id)
        .with_for_update(),
        update_agent=update(agents)
        .where(agents.c.id == bindparam("agent_id"))
        .values({name: bindparam(name, type_=agents.c[name].type) for name in _AGENT_RATING[1:]}),
        update_two_agents=text(
            f"UPDATE agents AS a SET {assignments} FROM (VALUES {rows}) AS v({', '.join(_AGENT_RATING)})"  # noqa: S608 - the model's own columns
            " WHERE a.id = v.id"
        ),
        update_match=update(matches)
        .where(matches.c.id == bindparam("match_id"))
        .values({name: bindparam(name, type_=matches.c[name].type) for name in _MATCH_ENDING}),
        # Text, not insert().values([...]): SQLAlchemy does not cache a multi-row VALUES statement.
        insert_history=text(
            f"INSERT INTO rating_history ({', '.join(_HISTORY)}) VALUES {history_rows}"  # noqa: S608 - the model's own columns
        ).bindparams(*(bindparam(f"{name}{n}", type_=history.c[name].type) for n in range(2) for name in _HISTORY)),
    )


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
