"""Faults injected into `rlarena dev` while slow matches run; after each, nothing played is lost.

Every event is delivered twice and out of order (LOCAL_BROKER_FAULTS=duplicate-shuffle) for the
whole run. The executor is killed (SIGKILL) mid-match, then the platform is stopped with Ctrl-C
(SIGINT) mid-match and started again on the same data. The invariants are then read from the
database itself: no match left pending or running, every rated completed match has its two rating
history rows, every agent's Elo is 1500 plus the sum of its changes, and its record adds up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.postgres import RestartablePostgres
from tests.support.running_platform import (
    RunningPlatform,
    active_agent,
    eventually,
    executor_pid,
    matches,
    start_platform,
)

# About 0.1 s a move: a tic-tac-toe match takes about a second, so one is running most of the time.
SLOW_RANDOM = b"""
import random, time

def agent(observation, configuration):
    time.sleep(0.1)
    legal = [i for i, ok in enumerate(observation["action_mask"]) if ok]
    return random.choice(legal)
"""

OUTAGE_SECONDS = 40

FAST_PLAY = {
    "MATCHMAKER_COOLDOWN": "1s",
    "MATCHMAKER_REMATCH_AFTER": "1s",
    "MATCH_DEADLINE_SLACK": "30s",
    "LOCAL_BROKER_FAULTS": "duplicate-shuffle",
}


def interrupt(running: RunningPlatform, timeout: float = 90) -> int:
    """Ctrl-C, as a terminal sends it; waits for the graceful stop."""
    running.process.send_signal(signal.SIGINT)
    try:
        return running.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired as error:
        running.process.kill()
        running.process.wait()
        message = f"the platform did not stop within {timeout} s of Ctrl-C:\n{running.log()[-4000:]}"
        raise AssertionError(message) from error


def register_agents(arena: RunningPlatform, names: list[str]) -> list[str]:
    return [active_agent(arena, name, SLOW_RANDOM)[1] for name in names]


def uid(value: object) -> str:
    """A UUID as the API spells it, whether the database gave a UUID or SQLite's 32 hex digits."""
    return str(uuid.UUID(str(value)))


def invariants(database_url: str, objects: Path) -> dict[str, int]:
    """Check the books in the database itself (and the stored results); return the counts."""
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as db:
            statuses: Counter[str] = Counter(
                dict(db.execute(text("SELECT status, count(*) FROM matches GROUP BY status")).all())
            )
            assert statuses["pending"] == 0 and statuses["running"] == 0, statuses
            status_of = {uid(i): st for i, st in db.execute(text("SELECT id, status FROM matches")).all()}
            rated = {
                uid(row[0])
                for row in db.execute(text("SELECT id FROM matches WHERE status = 'completed' AND is_rated"))
            }
            history = Counter(uid(row[0]) for row in db.execute(text("SELECT match_id FROM rating_history")))
            assert all(history[match_id] == 2 for match_id in rated), "a rated match without its two history rows"
            assert set(history) <= rated, "rating history for a match that is not a rated completed match"
            for agent_id, elo, wins, losses, draws, total in db.execute(
                text("SELECT id, elo, wins, losses, draws, total_matches FROM agents")
            ).all():
                change, count = db.execute(
                    text("SELECT coalesce(sum(elo_change), 0), count(*) FROM rating_history WHERE agent_id = :a"),
                    {"a": agent_id},
                ).one()
                assert elo == 1500 + change, (agent_id, elo, change)
                assert wins + losses + draws == total == count, (agent_id, wins, losses, draws, total, count)
            unpublished = db.execute(text("SELECT count(*) FROM outbox_events")).scalar_one()
    finally:
        engine.dispose()
    # Every game that finished (its result is stored) ended completed, with that result.
    stored = (objects / "rlarena" / "matches").glob("*/result.json")  # the bucket, not its .meta
    played = [path.parent.name for path in stored if '"SUCCESS"' in path.read_text()]
    lost = [match_id for match_id in played if status_of.get(match_id) != "completed"]
    assert not lost, f"{len(lost)} match(es) played but not completed: {lost[:5]}"
    return {
        "completed": statuses["completed"],
        "failed": statuses["failed"],
        "rated": len(rated),
        "history rows": sum(history.values()),
        "results stored": len(played),
        "outbox left": unpublished,
    }


def dead_letters(data_dir: Path) -> list[str]:
    path = data_dir / "dead-letters.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_nothing_played_is_lost_to_a_killed_executor_or_ctrl_c(tmp_path: Path, capsys: Any) -> None:
    arena = start_platform(tmp_path, **FAST_PLAY)
    try:
        register_agents(arena, ["ann", "ben", "cat"])
        eventually(lambda: len(matches(arena, status="completed")) >= 3, 120, "three completed matches")

        # 1. The executor dies mid-match (SIGKILL): that match fails, play goes on.
        eventually(lambda: matches(arena, status="running"), 60, "a running match")
        os.kill(executor_pid(arena), signal.SIGKILL)
        done = len(matches(arena, status="completed"))
        eventually(lambda: len(matches(arena, status="completed")) > done, 120, "play to go on after the kill")

        # 2. Ctrl-C mid-match: the platform stops gracefully, then starts again on the same data.
        eventually(lambda: matches(arena, status="running"), 60, "a running match")
        interrupted = {m["id"] for m in matches(arena, status="running")}
        assert interrupt(arena) == 0, arena.log()[-4000:]
    finally:
        if arena.process.poll() is None:
            arena.process.kill()

    # No matchmaking on the way back (no tick for an hour): what is open must close by itself.
    again = start_platform(tmp_path, **{**FAST_PLAY, "PING_INTERVAL_OVERRIDE": "3600s"})
    try:
        eventually(
            lambda: not matches(again, status="running") and not matches(again, status="pending"),
            90,
            "no match left open after the restart",
        )
        ended = {m["id"]: m for m in matches(again, status="completed") + matches(again, status="failed")}
        assert interrupted <= set(ended), "an interrupted match vanished"
        assert interrupt(again) == 0
    finally:
        if again.process.poll() is None:
            again.process.kill()

    counts = invariants(f"sqlite:///{tmp_path / 'data' / 'rlarena.db'}", tmp_path / "data" / "objects")
    lost = [line for line in dead_letters(tmp_path / "data") if "match.finished" in line]
    with capsys.disabled():
        print(f"\nfaults: {counts}, interrupted by Ctrl-C: {len(interrupted)}, dead-lettered results: {len(lost)}")
    assert counts["outbox left"] == 0
    assert lost == []


class Watcher:
    """Reads a few public routes over and over, keeping every status (a 500 is a bug; a 503 is not)."""

    def __init__(self, arena: RunningPlatform, agent_ids: list[str]) -> None:
        self._arena = arena
        self._paths = [
            "/api/v1/matches?pageSize=5",
            "/api/v1/leaderboard/environment/tic-tac-toe",
            *(f"/api/v1/agents/{agent_id}" for agent_id in agent_ids),
        ]
        self.statuses: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            for path in self._paths:
                try:
                    self.statuses[self._arena.request("GET", path).status] += 1
                except (OSError, ValueError):
                    self.statuses[0] += 1  # no answer at all
            time.sleep(0.1)


def test_nothing_played_is_lost_to_a_postgresql_outage(tmp_path: Path, capsys: Any) -> None:
    database = RestartablePostgres()
    try:
        arena = start_platform(tmp_path, DATABASE_URL=database.url, **FAST_PLAY)
        try:
            agent_ids = register_agents(arena, ["dan", "eve", "fay"])
            eventually(lambda: len(matches(arena, status="completed")) >= 3, 120, "three completed matches")
            with Watcher(arena, agent_ids) as watcher:
                eventually(lambda: matches(arena, status="running"), 60, "a running match")
                database.stop("immediate")
                time.sleep(OUTAGE_SECONDS)  # matches running now end while the database is away
                database.start()
                done = len(matches(arena, status="completed"))
                eventually(lambda: len(matches(arena, status="completed")) > done, 120, "play to go on")
            assert interrupt(arena) == 0, arena.log()[-4000:]
        finally:
            if arena.process.poll() is None:
                arena.process.kill()
        again = start_platform(tmp_path, DATABASE_URL=database.url, **{**FAST_PLAY, "PING_INTERVAL_OVERRIDE": "3600s"})
        try:
            eventually(
                lambda: not matches(again, status="running") and not matches(again, status="pending"),
                90,
                "no match left open after the restart",
            )
            assert interrupt(again) == 0
        finally:
            if again.process.poll() is None:
                again.process.kill()
        counts = invariants(database.url, tmp_path / "data" / "objects")
    finally:
        database.close()
    server_errors = {status: n for status, n in watcher.statuses.items() if status >= 500 and status != 503}
    with capsys.disabled():
        print(f"\npostgresql outage of {OUTAGE_SECONDS} s: {counts}, answers seen: {dict(watcher.statuses)}")
    assert watcher.statuses[503] > 0  # the outage was seen, and answered as one
    assert server_errors == {}
    assert counts["outbox left"] == 0
