"""One matchmaking tick on PostgreSQL with 10,000 and 100,000 waiting agents (goals 0.3 s and 2 s).

The agents wait in one environment (the worst case: a tick matches environment by environment),
with ratings spread like a real ladder and a mix of new and seasoned agents. A tick is timed as
the matchmaker runs it on PingSource: reap, lock the environment, read the queue, pair, write the
matches and queue changes, commit (dispatch is left out: it is one non-blocking gRPC call per
match and is measured by the executor's benchmark). Measured with the default cap on matches per
tick (MATCHMAKER_MAX_MATCHES_PER_TICK) and with no cap, where every eligible agent is booked.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.support import activate_all, agent_row, bulk_insert, insert_users, table, utcnow
from rlarena.adapters.db.migrate import upgrade_to_head
from rlarena.adapters.db.models import Agent
from rlarena.bootstrap import Platform, bootstrap
from rlarena.events.publisher import RecordingPublisher
from rlarena.service import matchmaking
from tests.conftest import make_settings
from tests.support.postgres import throwaway_postgres

SIZES = (10_000, 100_000)
GOALS_S = {10_000: 0.3, 100_000: 2.0}
ENVIRONMENT = "tic-tac-toe"
REPEATS = 3


def seed(platform: Platform, count: int, rng: random.Random) -> None:
    now = utcnow()
    with platform.engine.begin() as connection:
        users = insert_users(connection, max(1, count // 20), now)
        rows = [
            agent_row(
                uuid.uuid4(),
                users[index % len(users)],
                ENVIRONMENT,
                f"agent-{index}",
                now,
                elo=max(100, min(3000, round(rng.gauss(1500, 200)))),
                record=(0, 0, rng.randrange(0, 60)),
            )
            for index in range(count)
        ]
        bulk_insert(connection, Agent, rows)
        activate_all(connection, [row["id"] for row in rows], now)
    with platform.uow() as uow:  # everyone joins the queue (what the first tick does anyway)
        matchmaking._enqueue_missing(uow, ENVIRONMENT, now)
        uow.commit()
    with platform.engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()


def reset(platform: Platform) -> None:
    """Back to everyone waiting, as before the tick."""
    with platform.engine.begin() as connection:
        connection.execute(text("DELETE FROM matchmaking_history"))
        connection.execute(text("DELETE FROM matches"))
        connection.execute(
            text(
                "UPDATE matchmaking_queue SET status = 'waiting', match_id = NULL, last_match_at = NULL, "
                "last_side = NULL, last_opponent_id = NULL, day_started_at = NULL, day_count = 0"
            )
        )


def time_ticks(platform: Platform, cap: int) -> dict[str, Any]:
    platform.settings = platform.settings.model_copy(update={"matchmaker_max_matches_per_tick": cap})
    timings, booked = [], 0
    for _ in range(REPEATS):
        reset(platform)
        began = time.perf_counter()
        report = matchmaking.tick(platform, environment_id=ENVIRONMENT, dispatch=False)
        timings.append(time.perf_counter() - began)
        booked = report.booked
    return {"median_s": statistics.median(timings), "min_s": min(timings), "booked": booked}


def run(log: Callable[[str], None] = print) -> dict[str, Any]:
    results: dict[str, Any] = {"environment": ENVIRONMENT, "repeats": REPEATS, "sizes": {}}
    rng = random.Random(7)
    for size in SIZES:
        with throwaway_postgres() as url, tempfile.TemporaryDirectory(prefix="rlarena-bench-mm-") as folder:
            platform = bootstrap(make_settings(Path(folder), url), publisher=RecordingPublisher())
            upgrade_to_head(platform.engine)
            log(f"matchmaking: seeding {size:,} waiting agents")
            seed(platform, size, rng)
            default_cap = platform.settings.matchmaker_max_matches_per_tick
            log(f"matchmaking: ticks with {size:,} waiting (cap {default_cap}, then no cap)")
            results["sizes"][str(size)] = {
                "default_cap": default_cap,
                "capped": time_ticks(platform, default_cap),
                "uncapped": time_ticks(platform, size),
            }
            platform.close()
    return results


def report(results: dict[str, Any]) -> str:
    rows = []
    for size, figures in results["sizes"].items():
        for name in ("capped", "uncapped"):
            run = figures[name]
            label = f"cap {figures['default_cap']}" if name == "capped" else "no cap"
            rows.append([f"{int(size):,}", label, run["booked"], f"{run['median_s']:.3f}", f"{run['min_s']:.3f}"])
    return "Matchmaking: one tick on PostgreSQL (median of 3)\n" + table(
        ["waiting agents", "matches per tick", "matches booked", "tick s (median)", "tick s (min)"], rows
    )


def problems(results: dict[str, Any]) -> list[str]:
    found = []
    for size, figures in results["sizes"].items():
        goal = GOALS_S[int(size)]
        took = figures["capped"]["median_s"]
        if took > goal:
            found.append(f"matchmaking tick with {int(size):,} waiting took {took:.2f} s (goal {goal} s)")
    return found
