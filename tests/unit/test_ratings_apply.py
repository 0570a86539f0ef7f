"""The ratings use case applying the domain's rules to rows, on a fake unit of work (no database)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import cast

import pytest

from rlarena.adapters.db.models import Agent, Match
from rlarena.bootstrap import Platform
from rlarena.domain.records import RatedAgent
from rlarena.domain.statuses import MatchStatus
from rlarena.errors import EventRejected
from rlarena.events.catalogue import AgentResult, MatchFinished, RatingUpdated
from rlarena.service import ratings
from rlarena.service.unit_of_work import UnitOfWorkLike

NOW = datetime(2026, 12, 4, 7, 0, tzinfo=UTC)


class FakeRatings:
    def __init__(self, agents: Sequence[Agent]) -> None:
        self.agents = {a.id: a for a in agents}
        self.locked: list[set[uuid.UUID]] = []
        self.history: list[tuple[uuid.UUID, list[RatedAgent], uuid.UUID | None, datetime]] = []
        self.saved: list[tuple[uuid.UUID, list[uuid.UUID]]] = []

    def lock_players(self, agent_ids: set[uuid.UUID]) -> dict[uuid.UUID, Agent]:
        self.locked.append(set(agent_ids))
        return {i: self.agents[i] for i in sorted(agent_ids)}

    def add_history(
        self, match_id: uuid.UUID, rated: Sequence[RatedAgent], winner_id: uuid.UUID | None, now: datetime
    ) -> None:
        self.history.append((match_id, list(rated), winner_id, now))

    def save_rated(self, match: Match, agents: Sequence[Agent]) -> None:
        self.saved.append((match.id, [a.id for a in agents]))


def agent(number: int, *, elo: int = 1500, rated_matches: int = 0) -> Agent:
    return Agent(
        id=uuid.UUID(int=number),
        user_id=uuid.UUID(int=100 + number),
        environment_id="tic-tac-toe",
        name=f"agent-{number}",
        elo=elo,
        skill_mu=25.0,
        skill_sigma=25.0 / 3,
        wins=0,
        losses=0,
        draws=0,
        total_matches=rated_matches,
        rated_matches=rated_matches,
    )


def match_between(first: Agent, second: Agent, *, is_rated: bool = True) -> Match:
    return Match(
        id=uuid.UUID(int=999),
        environment_id="tic-tac-toe",
        agent1_id=first.id,
        agent2_id=second.id,
        status=MatchStatus.RUNNING.value,
        is_rated=is_rated,
    )


def finished(match: Match, winner: uuid.UUID | None, *ids: uuid.UUID) -> MatchFinished:
    scored = ids or (match.agent1_id, match.agent2_id)
    return MatchFinished(
        match_id=match.id,
        environment_id="tic-tac-toe",
        winner_id=winner,
        agent_results=[AgentResult(agent_id=i, score=1.0 if i == winner else 0.0) for i in scored],
    )


def apply(fake: FakeRatings, match: Match, result: MatchFinished) -> RatingUpdated:
    uow = cast(UnitOfWorkLike, SimpleNamespace(ratings=fake))
    platform = cast(Platform, SimpleNamespace(clock=lambda: NOW))
    return ratings._apply(uow, platform, match, result)


def test_a_rated_win_updates_both_rows_the_match_and_writes_both_history_entries() -> None:
    first, second = agent(1), agent(2)
    fake, match = FakeRatings([first, second]), match_between(first, second)
    update = apply(fake, match, finished(match, second.id))
    assert fake.locked == [{first.id, second.id}]
    assert (first.elo, first.losses, first.rated_matches, first.total_matches) == (1480, 1, 1, 1)
    assert (second.elo, second.wins, second.rated_matches, second.total_matches) == (1520, 1, 1, 1)
    assert first.updated_at == second.updated_at == match.rated_at == NOW
    assert (match.status, match.winner_id, match.agent1_score, match.agent2_score) == ("completed", second.id, 0.0, 1.0)
    assert (match.agent1_elo_change, match.agent2_elo_change) == (-20, 20)
    [(match_id, rated, winner_id, when)] = fake.history
    assert (match_id, winner_id, when) == (match.id, second.id, NOW)
    assert [(r.agent_id, r.before.elo, r.after.elo) for r in rated] == [(first.id, 1500, 1480), (second.id, 1500, 1520)]
    assert [(c.agent_id, c.user_id, c.elo_change) for c in update.changes] == [
        (first.id, first.user_id, -20),
        (second.id, second.user_id, 20),
    ]
    assert update.changes[1].skill_mu_after == second.skill_mu > 25.0
    assert fake.saved == [(match.id, [first.id, second.id])]  # written back once, both agents


def test_an_unrated_match_completes_without_touching_ratings_or_history() -> None:
    first, second = agent(1), agent(2)
    fake, match = FakeRatings([first, second]), match_between(first, second, is_rated=False)
    update = apply(fake, match, finished(match, None))
    assert update.changes == [] and fake.history == []
    assert fake.saved == [(match.id, [])]  # the match's ending only
    assert (first.elo, first.draws, first.total_matches, match.status) == (1500, 0, 0, "completed")


def test_a_result_naming_someone_else_is_rejected_before_any_lock() -> None:
    first, second = agent(1), agent(2)
    fake, match = FakeRatings([first, second]), match_between(first, second)
    with pytest.raises(EventRejected, match="other than its two players"):
        apply(fake, match, finished(match, first.id, first.id, uuid.UUID(int=3)))
    with pytest.raises(EventRejected, match="winner who did not play"):
        apply(fake, match, finished(match, uuid.UUID(int=3)))
    assert fake.locked == [] and match.status == "running"
