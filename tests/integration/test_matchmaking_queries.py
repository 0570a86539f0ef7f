"""The eligibility rule is written once: PostgreSQL's COPY and the plain SELECT read the same agents."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from rlarena.adapters.db import matchmaking_queries as queries
from rlarena.adapters.db.matchmaking_queries import RestRules
from rlarena.adapters.db.models import Agent, MatchmakingQueueEntry, Submission
from rlarena.bootstrap import Platform
from rlarena.domain.pairing import Candidate
from rlarena.domain.statuses import QueueStatus, SubmissionStatus
from tests.support.seed import seed_arena

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
RULES = RestRules(cooldown=timedelta(minutes=5), daily_cap=3, rematch_after=timedelta(minutes=30))


def scatter(platform: Platform, agents: list[uuid.UUID], rng: random.Random) -> None:
    """Queue entries and agents in every state the rule tells apart, around each boundary."""
    offsets = [None, 0, 1, 299, 300, 301, 1799, 1800, 1801, 86_399, 86_400, 86_401]
    with platform.uow() as uow:
        queries.enqueue_missing(uow.session, "tic-tac-toe", NOW - timedelta(minutes=rng.randrange(0, 60)))
        for agent in agents:
            last = rng.choice(offsets)
            day = rng.choice(offsets)
            uow.session.execute(
                update(MatchmakingQueueEntry)
                .where(MatchmakingQueueEntry.agent_id == agent)
                .values(
                    status=rng.choice([QueueStatus.WAITING.value] * 4 + [QueueStatus.MATCHED.value]),
                    enqueued_at=NOW - timedelta(seconds=rng.randrange(0, 4000)),
                    last_match_at=None if last is None else NOW - timedelta(seconds=last),
                    last_side=None if last is None else rng.choice([1, 2]),
                    last_opponent_id=None if last is None else rng.choice(agents),
                    day_started_at=None if day is None else NOW - timedelta(seconds=day),
                    day_count=rng.randrange(0, 5),
                )
            )
            roll = rng.random()
            if roll < 0.05:
                uow.session.execute(update(Agent).where(Agent.id == agent).values(deleted_at=NOW))
            elif roll < 0.10:
                uow.session.execute(update(Submission).where(Submission.agent_id == agent).values(is_active=False))
            elif roll < 0.15:
                uow.session.execute(
                    update(Submission).where(Submission.agent_id == agent).values(status=SubmissionStatus.FAILED.value)
                )
        uow.commit()


def by_agent(candidates: list[Candidate]) -> dict[uuid.UUID, Candidate]:
    return {c.agent_id: c for c in candidates}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # COPY is PostgreSQL's
def test_copy_and_select_read_the_same_rested_agents(platform: Platform) -> None:
    rng = random.Random(12)
    agents = seed_arena(platform, "tic-tac-toe", [rng.randrange(1000, 2000) for _ in range(300)])
    seed_arena(platform, "connect-four", [1500] * 20)  # queued in another environment: never read
    scatter(platform, agents, rng)
    with platform.uow() as uow:
        queries.enqueue_missing(uow.session, "connect-four", NOW)
        by_copy = by_agent(queries.rested_by_copy(uow.session, "tic-tac-toe", NOW, RULES))
        by_select = by_agent(queries.rested_by_select(uow.session, "tic-tac-toe", NOW, RULES))
    assert 50 < len(by_copy) < 250, "the scatter leaves some agents in and some out"
    assert by_copy.keys() == by_select.keys()
    for agent, copied in by_copy.items():
        selected = by_select[agent]
        assert copied._replace(waited=0.0) == selected._replace(waited=0.0)
        assert copied.waited == pytest.approx(selected.waited, abs=1e-6)
    assert any(c.recent_opponents for c in by_copy.values())
    assert any(not c.recent_opponents for c in by_copy.values())


def test_the_copy_query_is_the_select_with_its_values_quoted() -> None:
    query = queries.rested_copy_query("it's-a-game", NOW, RULES)
    assert "'it''s-a-game'" in query
    assert "%(" not in query and "::" not in query
    assert "TIMESTAMPTZ '2026-11-24T11:55:00+00:00'" in query  # the cooldown's cut
    assert "INTERVAL '300.000000 seconds'" in query
