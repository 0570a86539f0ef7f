"""Rating updates per second on PostgreSQL: 4 concurrent consumers, every event delivered twice.

A throwaway PostgreSQL 15 (tests/support/postgres.py) is migrated and seeded with agents and
running matches between random pairs of them. Each match gets one dev.rlarena.match.finished
event (win, loss or draw at random), delivered twice with the same id, and the 2 x M deliveries
are shuffled and dealt to 4 consumer processes (as 4 pods of the ratings function would get
them from the broker). Each consumer calls the function's handler
(`rlarena.entrypoints.ratings.on_match_finished`: payload parsing, the exactly-once claim, Elo
and skill, history, the commit, and the rating.updated publication to a counting publisher)
with its own pool of one connection. Two scenarios: ratings spread over 1,000 agents, and a hot
spot where every match involves one of only 10 agents, so consumers queue on the same row locks.

At the end the database is checked: every distinct match rated exactly once, each agent's
history chain unbroken, records consistent, and the final Elo and skill equal to a replay of the
results in the order they were applied. Consumers and PostgreSQL share the machine's cores.
"""

from __future__ import annotations

import multiprocessing
import random
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text
from sqlalchemy.pool import NullPool

from bench.support import (
    BenchError,
    activate_all,
    agent_row,
    bulk_insert,
    children_of,
    cpu_seconds,
    environment_ids,
    insert_users,
    percentile,
    postmaster_pid,
    strong_secret,
    system_busy_seconds,
    table,
    utcnow,
)
from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.migrate import upgrade_to_head
from rlarena.adapters.db.models import Agent, Match, ProcessedEvent, RatingHistory
from rlarena.domain import elo, skill
from rlarena.domain.statuses import MatchStatus
from tests.support.postgres import throwaway_postgres

CONSUMERS = 4
DELIVERIES_PER_EVENT = 2
GOAL_MATCHES_PER_S = 300.0


@dataclass(frozen=True)
class Scenario:
    name: str
    agents: int
    matches: int
    hot_agents: int = 0  # if set, every match involves one of the first `hot_agents` agents


SCENARIOS = [
    Scenario("1,000 agents", agents=1_000, matches=4_000),
    Scenario("hot spot: 10 agents in every match", agents=1_000, matches=2_000, hot_agents=10),
]


@dataclass(frozen=True)
class Outcome:
    match_id: uuid.UUID
    agent1: uuid.UUID
    agent2: uuid.UUID
    winner: uuid.UUID | None


# -- the data -------------------------------------------------------------------------------------


def seed(engine: Engine, scenario: Scenario, rng: random.Random) -> list[Outcome]:
    now = utcnow()
    with engine.begin() as connection:
        connection.execute(
            text("TRUNCATE processed_events, rating_history, matches, submissions, agents, users CASCADE")
        )
        environment = "tic-tac-toe" if "tic-tac-toe" in environment_ids(connection) else environment_ids(connection)[0]
        users = insert_users(connection, 50, now)
        rows = [
            agent_row(uuid.uuid4(), users[i % len(users)], environment, f"agent-{i}", now - timedelta(seconds=i))
            for i in range(scenario.agents)
        ]
        bulk_insert(connection, Agent, rows)
        agents: list[uuid.UUID] = [row["id"] for row in rows]
        activate_all(connection, agents, now)
        outcomes = []
        for _ in range(scenario.matches):
            if scenario.hot_agents:
                a = rng.choice(agents[: scenario.hot_agents])
                b = rng.choice([x for x in rng.sample(agents, 2) if x != a])
            else:
                a, b = rng.sample(agents, 2)
            outcomes.append(Outcome(uuid.uuid4(), a, b, rng.choice([a, b, None])))
        bulk_insert(
            connection,
            Match,
            [
                {
                    "id": o.match_id,
                    "environment_id": environment,
                    "agent1_id": o.agent1,
                    "agent2_id": o.agent2,
                    "status": MatchStatus.RUNNING.value,
                    "is_rated": True,
                    "is_public": True,
                    "created_at": now,
                    "updated_at": now,
                    "started_at": now,
                }
                for o in outcomes
            ],
        )
    # Fresh statistics, as autovacuum would have by then (a pooled pg8000 connection is already in a
    # transaction, so an autocommit engine of its own).
    maintenance = create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with maintenance.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    maintenance.dispose()
    return outcomes


def event_body(outcome: Outcome, environment: str = "tic-tac-toe") -> dict[str, Any]:
    first = 0.5 if outcome.winner is None else float(outcome.winner == outcome.agent1)
    return {
        "matchId": str(outcome.match_id),
        "environmentId": environment,
        "winnerId": str(outcome.winner) if outcome.winner else None,
        "agentResults": [
            {"agentId": str(outcome.agent1), "score": first},
            {"agentId": str(outcome.agent2), "score": 1.0 - first},
        ],
        "totalSteps": 9,
    }


# -- the consumers (separate processes, as separate pods) ------------------------------------------


def consume(
    url: str, data_dir: str, deliveries: list[tuple[str, dict[str, Any]]], barriers: tuple[Barrier, Barrier], out: Any
) -> None:
    """One consumer: the ratings function's handler over its own one-connection pool. It stays
    connected until the parent has read PostgreSQL's CPU time (the second barrier)."""
    from cloudevents.http import CloudEvent

    from rlarena import runtime
    from rlarena.bootstrap import bootstrap
    from rlarena.config import Settings
    from rlarena.entrypoints.ratings import on_match_finished

    settings = Settings(
        ENV="production",
        DATABASE_URL=url,
        JWT_SECRET=strong_secret(),
        DATA_DIR=Path(data_dir),
        DB_POOL_SIZE=1,
        DB_MAX_OVERFLOW=0,
    )
    publisher = CountingPublisher()
    platform = bootstrap(settings, publisher=publisher)
    runtime.install(platform)
    with platform.engine.connect() as connection:  # connect before the clock starts
        connection.execute(text("SELECT 1"))
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    start, finish = barriers
    start.wait()
    cpu_began = time.process_time()
    for event_id, body in deliveries:
        event = CloudEvent({"type": "dev.rlarena.match.finished", "source": "/rlarena/executor", "id": event_id}, body)
        began = time.perf_counter()
        try:
            on_match_finished(event)
        except Exception as error:  # a failed delivery is what this benchmark looks for
            failures[type(error).__name__] += 1
        latencies.append(time.perf_counter() - began)
    cpu = time.process_time() - cpu_began
    out.put({"latencies": latencies, "failures": dict(failures), "published": publisher.count, "cpu_s": cpu})
    finish.wait()
    platform.close()


class CountingPublisher:
    def __init__(self) -> None:
        self.count = 0

    def publish(self, event: Any) -> None:
        self.count += 1


# -- verification ---------------------------------------------------------------------------------


def verify(engine: Engine, outcomes: list[Outcome]) -> dict[str, Any]:
    """Exactly once, no lost update: counts, history chains, records, and a replay in applied order."""
    by_match = {o.match_id: o for o in outcomes}
    problems: list[str] = []
    with engine.connect() as connection:
        rated = connection.scalar(select(func.count()).select_from(Match).where(Match.rated_at.is_not(None))) or 0
        history_rows = connection.scalar(select(func.count()).select_from(RatingHistory)) or 0
        claims = connection.scalar(select(func.count()).select_from(ProcessedEvent)) or 0
        broken_links = connection.scalar(
            text(
                "SELECT count(*) FROM (SELECT elo_before, skill_mu_before, lag(elo_after) OVER w AS prev_elo,"
                " lag(skill_mu_after) OVER w AS prev_mu FROM rating_history"
                " WINDOW w AS (PARTITION BY agent_id ORDER BY created_at)) t"
                " WHERE prev_elo IS NOT NULL AND (prev_elo <> elo_before OR prev_mu <> skill_mu_before)"
            )
        )
        order = connection.execute(
            select(Match.id, Match.agent1_elo_change, Match.agent2_elo_change).order_by(Match.rated_at, Match.id)
        ).all()
        agents = {
            row.id: row
            for row in connection.execute(
                select(
                    Agent.id, Agent.elo, Agent.skill_mu, Agent.skill_sigma, Agent.wins, Agent.losses, Agent.draws,
                    Agent.rated_matches, Agent.total_matches,
                )
            )
        }  # fmt: skip
    if rated != len(outcomes):
        problems.append(f"{rated} matches rated, {len(outcomes)} distinct matches finished")
    if history_rows != 2 * len(outcomes) or claims != len(outcomes):
        problems.append(f"{history_rows} history rows and {claims} claims for {len(outcomes)} matches")
    if broken_links:
        problems.append(f"{broken_links} history rows do not start where the agent's previous one ended")
    replay_elo = dict.fromkeys(agents, 1500)
    replay_games = dict.fromkeys(agents, 0)
    replay_skill = {a: skill.Skill() for a in agents}
    record: dict[uuid.UUID, Counter[str]] = {a: Counter() for a in agents}
    for match_id, change1, change2 in order:
        o = by_match[match_id]
        first = 0.5 if o.winner is None else float(o.winner == o.agent1)
        one = elo.rate(replay_elo[o.agent1], replay_elo[o.agent2], first, replay_games[o.agent1])
        two = elo.rate(replay_elo[o.agent2], replay_elo[o.agent1], 1.0 - first, replay_games[o.agent2])
        if (one.change, two.change) != (change1, change2):
            problems.append(f"match {match_id}: stored Elo changes differ from the replay")
        replay_skill[o.agent1], replay_skill[o.agent2] = skill.rate(
            replay_skill[o.agent1], replay_skill[o.agent2], first
        )
        for agent, update, score in ((o.agent1, one, first), (o.agent2, two, 1.0 - first)):
            replay_elo[agent] = update.new_rating
            replay_games[agent] += 1
            record[agent]["wins" if score == 1.0 else "losses" if score == 0.0 else "draws"] += 1
    mismatched = [
        a
        for a, row in agents.items()
        if (row.elo, row.skill_mu, row.skill_sigma) != (replay_elo[a], replay_skill[a].mu, replay_skill[a].sigma)
        or Counter(wins=row.wins, losses=row.losses, draws=row.draws) != record[a]
        or not row.wins + row.losses + row.draws == row.rated_matches == row.total_matches == replay_games[a]
    ]
    if mismatched:
        problems.append(f"{len(mismatched)} agents' final ratings or records differ from the replay")
    return {
        "rated_matches": rated,
        "history_rows": history_rows,
        "claims": claims,
        "broken_history_links": broken_links,
        "agents_differing_from_replay": len(mismatched),
        "problems": problems[:10],
    }


# -- the benchmark --------------------------------------------------------------------------------


def run_scenario(url: str, folder: str, scenario: Scenario, log: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(20261124)
    engine = make_engine(url, pool_size=1, max_overflow=0)
    log(f"ratings: seeding {scenario.name} ({scenario.matches} matches)")
    outcomes = seed(engine, scenario, rng)
    deliveries = [(f"finished-{o.match_id}", event_body(o)) for o in outcomes for _ in range(DELIVERIES_PER_EVENT)]
    rng.shuffle(deliveries)
    shares = [deliveries[i::CONSUMERS] for i in range(CONSUMERS)]
    context = multiprocessing.get_context("spawn")
    start, finish = context.Barrier(CONSUMERS + 1), context.Barrier(CONSUMERS + 1)
    out = context.Queue()
    processes = [
        context.Process(target=consume, args=(url, folder, share, (start, finish), out), name=f"consumer-{n}")
        for n, share in enumerate(shares)
    ]
    for process in processes:
        process.start()
    log(f"ratings: {CONSUMERS} consumers, {len(deliveries)} deliveries")
    postmaster = postmaster_pid(engine.url.port) if engine.url.port else None
    engine.dispose()  # our own idle backend out of the way: what remains is the consumers'

    def postgres_cpu() -> float:
        return cpu_seconds([postmaster, *children_of(postmaster)]) if postmaster else 0.0

    start.wait(timeout=120)
    postgres_before, machine_before = postgres_cpu(), system_busy_seconds()
    began = time.perf_counter()
    reports = [out.get(timeout=900) for _ in processes]
    elapsed = time.perf_counter() - began
    postgres = postgres_cpu() - postgres_before
    machine = system_busy_seconds() - machine_before
    finish.wait(timeout=60)
    for process in processes:
        process.join(timeout=30)
    consumers = sum(r["cpu_s"] for r in reports)
    log("ratings: verifying")
    checked = verify(engine, outcomes)
    engine.dispose()
    latencies = sorted(x for r in reports for x in r["latencies"])
    failures: Counter[str] = Counter()
    for report_ in reports:
        failures.update(report_["failures"])
    return {
        "scenario": scenario.name,
        "agents": scenario.agents,
        "matches": len(outcomes),
        "deliveries": len(deliveries),
        "elapsed_s": elapsed,
        "matches_per_s": len(outcomes) / elapsed,
        "deliveries_per_s": len(deliveries) / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "failures": dict(failures),
        "published": sum(r["published"] for r in reports),
        "cpu_ms_per_match": {
            "consumers": consumers * 1000 / len(outcomes),
            "postgres": postgres * 1000 / len(outcomes),
        },
        # "other": the rest of the machine's busy time meanwhile (other people's work skews the figures).
        "cores_busy": {
            "consumers": consumers / elapsed,
            "postgres": postgres / elapsed,
            "other": max(0.0, machine - consumers - postgres) / elapsed,
        },
        "verification": checked,
    }


def run(log: Callable[[str], None] = print) -> dict[str, Any]:
    results: dict[str, Any] = {
        "consumers": CONSUMERS,
        "deliveries_per_event": DELIVERIES_PER_EVENT,
        "goal_matches_per_s": GOAL_MATCHES_PER_S,
        "scenarios": [],
    }
    with throwaway_postgres() as url, tempfile.TemporaryDirectory(prefix="rlarena-bench-ratings-") as folder:
        engine = make_engine(url, pool_size=1, max_overflow=0)
        log("ratings: migrating PostgreSQL")
        upgrade_to_head(engine)
        engine.dispose()
        for scenario in SCENARIOS:
            results["scenarios"].append(run_scenario(url, folder, scenario, log))
    return results


def report(results: dict[str, Any]) -> str:
    rows = [
        [
            s["scenario"],
            s["matches"],
            s["deliveries"],
            f"{s['elapsed_s']:.1f}",
            f"{s['matches_per_s']:.0f}",
            f"{s['deliveries_per_s']:.0f}",
            f"{s['p50_ms']:.1f} / {s['p99_ms']:.1f}",
            f"{s['cpu_ms_per_match']['consumers']:.1f} / {s['cpu_ms_per_match']['postgres']:.1f}",
            f"{s['cores_busy']['consumers']:.2f} / {s['cores_busy']['postgres']:.2f} / {s['cores_busy']['other']:.2f}",
            "yes" if not s["verification"]["problems"] and not s["failures"] else "NO",
        ]
        for s in results["scenarios"]
    ]
    header = (
        f"Ratings: {results['consumers']} consumer processes, every event delivered "
        f"{results['deliveries_per_event']} times, PostgreSQL (goal {results['goal_matches_per_s']:.0f} matches/s)"
    )
    columns = [
        "scenario",
        "matches",
        "deliveries",
        "s",
        "matches/s",
        "deliveries/s",
        "p50 / p99 ms",
        "CPU ms/match consumers / pg",
        "cores consumers / pg / other",
        "exactly once",
    ]
    return header + "\n" + table(columns, rows)


def problems(results: dict[str, Any]) -> list[str]:
    found = []
    for s in results["scenarios"]:
        found += [f"ratings, {s['scenario']}: {p}" for p in s["verification"]["problems"]]
        if s["failures"]:
            found.append(f"ratings, {s['scenario']}: failed deliveries {s['failures']}")
        if s["published"] != s["matches"]:  # one rating.updated per match (the outbox), however often delivered
            found.append(f"ratings, {s['scenario']}: {s['published']} publications for {s['matches']} matches")
    first = results["scenarios"][0] if results["scenarios"] else None
    if first and first["matches_per_s"] < GOAL_MATCHES_PER_S:
        found.append(
            f"ratings: {first['matches_per_s']:.0f} distinct matches/s misses the goal of {GOAL_MATCHES_PER_S:.0f}"
        )
    return found


if __name__ == "__main__":
    import json
    import sys

    outcome = run(log=lambda message: print(f"  .. {message}", file=sys.stderr, flush=True))
    print(report(outcome))
    print(json.dumps(outcome["scenarios"], indent=2, default=str)[:4000])
    if problems(outcome):
        raise BenchError("; ".join(problems(outcome)))
