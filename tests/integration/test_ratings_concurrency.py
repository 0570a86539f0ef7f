"""Many results for the same few agents, applied at once by several workers, every event delivered
twice and shuffled: each match is rated exactly once, no update is lost, and the final ratings are
what replaying the results in the order they were applied gives."""

from __future__ import annotations

import functools
import itertools
import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from cloudevents.conversion import to_binary, to_structured
from sqlalchemy import func, select

from rlarena.adapters.db.models import Agent, Match, ProcessedEvent, RatingHistory
from rlarena.bootstrap import Platform
from rlarena.domain import elo, skill
from rlarena.events.catalogue import AgentResult, EventType, MatchFinished, Source, make_event
from rlarena.events.publisher import RecordingPublisher
from rlarena.service import ratings
from tests.support.seed import insert_match, seed_arena

AGENTS = 6


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    # A connection for every worker, so workers contend on row locks, not on the pool.
    return {"DB_POOL_SIZE": 8, "DB_MAX_OVERFLOW": 4}


@dataclass(frozen=True)
class Result:
    match_id: uuid.UUID
    agent1: uuid.UUID
    agent2: uuid.UUID
    winner: uuid.UUID | None

    def payload(self) -> MatchFinished:
        first = 0.5 if self.winner is None else float(self.winner == self.agent1)
        return MatchFinished(
            match_id=self.match_id,
            environment_id="tic-tac-toe",
            winner_id=self.winner,
            agent_results=[
                AgentResult(agent_id=self.agent1, score=first),
                AgentResult(agent_id=self.agent2, score=1.0 - first),
            ],
        )


def schedule(platform: Platform, agents: list[uuid.UUID], count: int, rng: random.Random) -> list[Result]:
    results = []
    for _ in range(count):
        a, b = rng.sample(agents, 2)
        match_id = uuid.UUID(insert_match(platform, str(a), str(b)))
        results.append(Result(match_id, a, b, rng.choice([a, b, None])))
    return results


def post(target: Any, headers: dict[str, str], body: bytes) -> int:
    return int(target.post("/", headers=headers, data=body).status_code)


def run_concurrently(deliveries: list[Callable[[], Any]], workers: int) -> list[Any]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda deliver: deliver(), deliveries))


@pytest.mark.parametrize("workers", [4])
def test_duplicated_shuffled_results_through_the_function_are_rated_exactly_once(
    workers: int, ratings_target: Any, platform: Platform, published: RecordingPublisher
) -> None:
    rng = random.Random(2026)
    agents = seed_arena(platform, "tic-tac-toe", [1500] * AGENTS)
    results = schedule(platform, agents, 60, rng)
    deliveries: list[Callable[[], Any]] = []
    for result in results:
        # Twice each: a redelivery (same id, the other content mode) or a republication (new id).
        original = make_event(EventType.MATCH_FINISHED, Source.EXECUTOR, result.payload())
        again = make_event(
            EventType.MATCH_FINISHED,
            Source.EXECUTOR,
            result.payload(),
            event_id=original["id"] if rng.random() < 0.5 else None,
        )
        for event, encode in ((original, to_binary), (again, to_structured)):
            headers, body = encode(event)
            deliveries.append(functools.partial(post, ratings_target, headers, body))
    rng.shuffle(deliveries)
    assert run_concurrently(deliveries, workers) == [200] * len(deliveries)
    check_rated_exactly_once(platform, results)
    updates = [e for e in published.events if e["type"] == "dev.rlarena.rating.updated"]
    assert len(updates) == len(results)  # announced once each (the outbox), however often delivered
    assert len({e["id"] for e in updates}) == len(results)


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_eight_workers_on_postgres_lose_no_update(platform: Platform) -> None:
    """Heavier contention straight through the use case: 3 agents, 150 matches, 8 workers."""
    rng = random.Random(11)
    agents = seed_arena(platform, "tic-tac-toe", [1400, 1500, 1600])
    results = schedule(platform, agents, 150, rng)
    deliveries: list[Callable[[], Any]] = [
        functools.partial(ratings.record_result, platform, result.payload()) for result in results for _ in range(2)
    ]
    rng.shuffle(deliveries)
    run_concurrently(deliveries, 8)
    check_rated_exactly_once(platform, results)


def check_rated_exactly_once(platform: Platform, results: list[Result]) -> None:
    by_match = {r.match_id: r for r in results}
    with platform.uow() as uow:
        session = uow.session
        matches = session.scalars(select(Match).where(Match.id.in_(by_match))).all()
        history = session.scalars(select(RatingHistory)).all()
        agents = {a.id: a for a in session.scalars(select(Agent)).all()}
        claims = session.scalar(
            select(func.count()).select_from(ProcessedEvent).where(ProcessedEvent.consumer == ratings.CONSUMER)
        )

    # One rating per distinct match, whatever the duplicates did.
    assert sum(1 for m in matches if m.rated_at is not None and m.status == "completed") == len(results)
    assert claims == len(results)
    assert Counter(h.match_id for h in history) == dict.fromkeys(by_match, 2)

    # Each agent's chain: every row starts where the one applied before it ended.
    rows_of: dict[uuid.UUID, list[RatingHistory]] = defaultdict(list)
    for row in sorted(history, key=lambda h: h.created_at):
        rows_of[row.agent_id].append(row)
    for agent_id, rows in rows_of.items():
        agent = agents[agent_id]
        assert len({r.created_at for r in rows}) == len(rows), "application order must be unambiguous"
        for earlier, later in itertools.pairwise(rows):
            assert later.elo_before == earlier.elo_after
            assert (later.skill_mu_before, later.skill_sigma_before) == (
                earlier.skill_mu_after,
                earlier.skill_sigma_after,
            )
        assert (agent.elo, agent.skill_mu, agent.skill_sigma) == (
            rows[-1].elo_after,
            rows[-1].skill_mu_after,
            rows[-1].skill_sigma_after,
        )
        assert agent.wins + agent.losses + agent.draws == agent.rated_matches == agent.total_matches == len(rows)

    # Replaying the results in the order they were applied gives the same ratings.
    replay = Replay(agents={a: (1500 if not rows_of[a] else rows_of[a][0].elo_before) for a in agents})
    for match in sorted(matches, key=lambda m: (m.rated_at, m.id)):
        change1, change2 = replay.apply(by_match[match.id])
        assert (match.agent1_elo_change, match.agent2_elo_change) == (change1, change2)
    for agent_id, agent in agents.items():
        assert replay.elo[agent_id] == agent.elo
        assert replay.skill[agent_id] == skill.Skill(agent.skill_mu, agent.skill_sigma)
        assert replay.record[agent_id] == Counter(wins=agent.wins, losses=agent.losses, draws=agent.draws)


class Replay:
    """Elo and skill computed from scratch, one result after another."""

    def __init__(self, agents: dict[uuid.UUID, int]) -> None:
        self.elo = dict(agents)
        self.games = dict.fromkeys(agents, 0)
        self.skill = {a: skill.Skill() for a in agents}
        self.record: dict[uuid.UUID, Counter[str]] = {a: Counter() for a in agents}

    def apply(self, result: Result) -> tuple[int, int]:
        a, b = result.agent1, result.agent2
        first = 0.5 if result.winner is None else float(result.winner == a)
        update_a = elo.rate(self.elo[a], self.elo[b], first, self.games[a])
        update_b = elo.rate(self.elo[b], self.elo[a], 1.0 - first, self.games[b])
        self.skill[a], self.skill[b] = skill.rate(self.skill[a], self.skill[b], first)
        for agent, update, score in ((a, update_a, first), (b, update_b, 1.0 - first)):
            self.elo[agent] = update.new_rating
            self.games[agent] += 1
            self.record[agent]["wins" if score == 1.0 else "losses" if score == 0.0 else "draws"] += 1
        return update_a.change, update_b.change
