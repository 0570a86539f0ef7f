"""Read throughput of the agents function on PostgreSQL with 10,000 ranked agents.

A throwaway PostgreSQL 15 (tests/support/postgres.py) is migrated and filled with 500 users and
10,000 agents spread over the 4 environments, each with an active submission (so all are ranked)
and an Elo drawn from a normal distribution (many ties), with Core executemany inserts. The agents
target is then served by its production entry, `functions-framework --target agents_http`, which
runs gunicorn with its gthread worker (WORKERS processes x THREADS threads, read from the
environment by functions-framework 3.10). Eight client threads in this process, each holding one
keep-alive http.client connection, send GET requests: a warm-up, then a measured phase that ends
after a fixed request count or duration, whichever comes first. Any answer but 200 is an error.

Client, server and PostgreSQL share the machine's cores, so the figures are a lower bound for a
server with cores of its own.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.support import (
    HOST,
    BenchError,
    Probe,
    ServerProcess,
    activate_all,
    agent_row,
    base_environment,
    bulk_insert,
    children_of,
    cpu_seconds,
    environment_ids,
    first_ok,
    free_port,
    function_command,
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
from rlarena.adapters.db.models import Agent
from tests.support.postgres import throwaway_postgres

USERS = 500
AGENTS = 10_000
CONCURRENCY = 8
WARM_UP_REQUESTS = 200
LEADERBOARD = "/api/v1/leaderboard?limit=100"
GAME_LEADERBOARD = "/api/v1/leaderboard/environment/tic-tac-toe?limit=100"
# Issue 18: the leaderboard (limit=100) at 1,000 req/s or more per worker, p99 under 50 ms.
GOAL_LEADERBOARD_PER_WORKER = 1_000.0
GOAL_LEADERBOARD_P99_MS = 50.0
REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class ServerConfig:
    """What the agents process runs with: gunicorn WORKERS x THREADS, and the pool per worker."""

    name: str
    workers: int
    threads: int
    pool_size: int
    max_overflow: int

    def env(self) -> dict[str, str]:
        return {
            "WORKERS": str(self.workers),
            "THREADS": str(self.threads),
            "DB_POOL_SIZE": str(self.pool_size),
            "DB_MAX_OVERFLOW": str(self.max_overflow),
        }


CONFIGS = [
    # functions-framework's defaults on this machine: 1 worker, cpu_count() * 4 = 8 threads.
    ServerConfig("1 worker x 8 threads", workers=1, threads=8, pool_size=8, max_overflow=2),
    ServerConfig("2 workers x 8 threads", workers=2, threads=8, pool_size=8, max_overflow=2),
]


# -- the data -------------------------------------------------------------------------------------


def seed(engine: Engine, rng: random.Random) -> list[uuid.UUID]:
    """500 users, 10,000 ranked agents over the 4 environments (20 per user, 5 per environment)."""
    now = utcnow()
    with engine.begin() as connection:
        environments = environment_ids(connection)
        users = insert_users(connection, USERS, now)
        rows = []
        for index in range(AGENTS):
            games = rng.randrange(0, 200)
            wins = rng.randrange(0, games + 1)
            draws = rng.randrange(0, games - wins + 1)
            rows.append(
                agent_row(
                    uuid.uuid4(),
                    users[index % USERS],
                    environments[(index // USERS) % len(environments)],
                    f"agent-{index}",
                    now - timedelta(seconds=rng.randrange(90 * 86400)),
                    elo=max(100, min(3000, round(rng.gauss(1500, 150)))),
                    record=(wins, games - wins - draws, draws),
                )
            )
        bulk_insert(connection, Agent, rows)
        agent_ids: list[uuid.UUID] = [row["id"] for row in rows]
        activate_all(connection, agent_ids, now)
    # As autovacuum would have by now: no dead index entries from the UPDATE above, fresh statistics.
    # (A separate autocommit engine: a pooled pg8000 connection is already inside a transaction.)
    maintenance = create_engine(engine.url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with maintenance.connect() as connection:
        connection.execute(text("VACUUM ANALYZE"))
    maintenance.dispose()
    return agent_ids


def describe_data(engine: Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        ranked = connection.scalar(text("SELECT count(*) FROM agents WHERE active_submission_id IS NOT NULL"))
        distinct = connection.scalar(text("SELECT count(DISTINCT (environment_id, elo)) FROM agents"))
        counts = connection.execute(text("SELECT environment_id, count(*) FROM agents GROUP BY 1 ORDER BY 1"))
        per_environment: dict[str, int] = {str(row[0]): int(row[1]) for row in counts}
        version = connection.scalar(text("SHOW server_version"))
    return {
        "users": USERS,
        "agents": AGENTS,
        "ranked_agents": ranked,
        "distinct_env_elo_pairs": distinct,
        "agents_per_environment": per_environment,
        "postgresql": version,
    }


# -- the load -------------------------------------------------------------------------------------


@dataclass
class Load:
    ok_latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    connections_opened: int = 0
    elapsed_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        return self.requests - self.statuses.get("200", 0)


def drive(port: int, path_of: Callable[[random.Random], str], *, requests: int, duration: float) -> Load:
    """CONCURRENCY threads, one keep-alive connection each, until `requests` are sent or `duration` passes."""
    lock = threading.Lock()
    issued = 0
    start = threading.Barrier(CONCURRENCY + 1)
    per_thread = [Load() for _ in range(CONCURRENCY)]
    deadline = 0.0

    def client(number: int) -> None:
        nonlocal issued
        load = per_thread[number]
        rng = random.Random(number)
        connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
        start.wait()
        while True:
            with lock:
                if issued >= requests or time.perf_counter() >= deadline:
                    break
                issued += 1
            path = path_of(rng)
            if connection.sock is None:
                load.connections_opened += 1
            began = time.perf_counter()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                status = str(response.status)
            except (OSError, http.client.HTTPException) as error:
                status = type(error).__name__
                connection.close()
            took = time.perf_counter() - began
            load.statuses[status] += 1
            if status == "200":
                load.ok_latencies.append(took)
        connection.close()

    threads = [threading.Thread(target=client, args=(n,), name=f"client-{n}") for n in range(CONCURRENCY)]
    for thread in threads:
        thread.start()
    # No client passes the barrier before this thread reaches it, so every one sees this deadline.
    began = time.perf_counter()
    deadline = began + duration
    start.wait()
    for thread in threads:
        thread.join(timeout=duration + 2 * REQUEST_TIMEOUT)
    if any(thread.is_alive() for thread in threads):
        raise BenchError("a client thread did not finish")
    total = Load(elapsed_s=time.perf_counter() - began)
    for load in per_thread:
        total.ok_latencies.extend(load.ok_latencies)
        total.statuses.update(load.statuses)
        total.connections_opened += load.connections_opened
    return total


def summarise(load: Load, cpu: dict[str, float]) -> dict[str, Any]:
    latencies = sorted(load.ok_latencies)
    ok = len(latencies)
    return {
        "requests": load.requests,
        "ok": ok,
        "errors": load.errors,
        "statuses": dict(load.statuses),
        "elapsed_s": load.elapsed_s,
        "requests_per_s": ok / load.elapsed_s if load.elapsed_s else 0.0,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": (latencies[-1] * 1000) if latencies else float("nan"),
        "connections_opened": load.connections_opened,
        "cpu_ms_per_request": {k: v * 1000 / max(load.requests, 1) for k, v in cpu.items()},
        "cpu_cores_busy": {k: v / max(load.elapsed_s, 1e-9) for k, v in cpu.items()},
    }


class CpuMeter:
    """CPU seconds spent by the client (this process), the server's process group and PostgreSQL."""

    def __init__(self, server: ServerProcess, postmaster: int | None) -> None:
        self._server = server
        self._postmaster = postmaster

    def sample(self) -> dict[str, float]:
        postgres = [self._postmaster, *children_of(self._postmaster)] if self._postmaster else []
        return {
            "client": time.process_time(),
            "server": cpu_seconds(self._server.group_pids()),
            "postgres": cpu_seconds(postgres),
            "machine": system_busy_seconds(),
        }

    @staticmethod
    def spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """Per party; `other` is what the rest of the machine (other people's work) used meanwhile."""
        used = {key: after[key] - before[key] for key in before}
        machine = used.pop("machine")
        used["other"] = max(0.0, machine - sum(used.values()))
        return used


# -- checks ---------------------------------------------------------------------------------------


def get_json(port: int, path: str) -> Any:
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"GET {path} answered {response.status}: {body[:300]!r}")
    return json.loads(body)


def check_answers(port: int, agent_id: uuid.UUID) -> None:
    """The endpoints answer what we measure them for: 100 ranked agents, best first; one agent, ranked."""
    board = get_json(port, LEADERBOARD)
    entries = board["leaderboard"]
    if len(entries) != 100 or board["total"] != AGENTS:
        raise BenchError(f"leaderboard: {len(entries)} entries of {board['total']}, expected 100 of {AGENTS}")
    elos = [entry["elo"] for entry in entries]
    if elos != sorted(elos, reverse=True) or any(entry["rank"] is None for entry in entries):
        raise BenchError("leaderboard is not ranked best first")
    agent = get_json(port, f"/api/v1/agents/{agent_id}")["agent"]
    if agent["id"] != str(agent_id) or agent["rank"] is None:
        raise BenchError(f"agent {agent_id}: unexpected answer {agent}")


# -- the benchmark --------------------------------------------------------------------------------


def run(duration: float = 15.0, requests: int = 5000, log: Callable[[str], None] = print) -> dict[str, Any]:
    rng = random.Random(20261124)
    results: dict[str, Any] = {
        "concurrency": CONCURRENCY,
        "warm_up_requests": WARM_UP_REQUESTS,
        "max_requests": requests,
        "max_duration_s": duration,
        "note": "client, server and PostgreSQL share the same cores",
        "configs": [],
    }
    with throwaway_postgres() as url, tempfile.TemporaryDirectory(prefix="rlarena-bench-read-") as folder:
        workdir = Path(folder)
        engine = make_engine(url, pool_size=1, max_overflow=0)
        log("read throughput: migrating and seeding PostgreSQL")
        began = time.perf_counter()
        upgrade_to_head(engine)
        agent_ids = seed(engine, rng)
        results["seed_s"] = time.perf_counter() - began
        results["data"] = describe_data(engine)
        engine.dispose()
        port_of_postgres = make_url(url).port
        postmaster = postmaster_pid(port_of_postgres) if port_of_postgres else None

        def agent_path(client_rng: random.Random) -> str:
            return f"/api/v1/agents/{client_rng.choice(agent_ids)}"

        endpoints: dict[str, Callable[[random.Random], str]] = {
            f"GET {LEADERBOARD}": lambda _rng: LEADERBOARD,
            f"GET {GAME_LEADERBOARD}": lambda _rng: GAME_LEADERBOARD,
            "GET /api/v1/agents/<random id>": agent_path,
        }
        setup = Setup(url, endpoints, agent_ids[0], postmaster, workdir, requests, duration)
        for config in CONFIGS:
            results["configs"].append(serve_and_measure(config, setup, log))
    return results


@dataclass(frozen=True)
class Setup:
    url: str
    endpoints: dict[str, Callable[[random.Random], str]]
    some_agent: uuid.UUID
    postmaster: int | None
    workdir: Path
    requests: int
    duration: float


def serve_and_measure(config: ServerConfig, setup: Setup, log: Callable[[str], None]) -> dict[str, Any]:
    url, workdir, requests, duration = setup.url, setup.workdir, setup.requests, setup.duration
    port = free_port()
    env = base_environment(
        ENV="production",
        DATABASE_URL=url,
        JWT_SECRET=strong_secret(),
        DATA_DIR=str(workdir / "data"),
        LOG_LEVEL="INFO",
        **config.env(),
    )
    log_path = workdir / f"agents-{config.workers}x{config.threads}.log"
    measured: dict[str, Any] = {"config": asdict(config), "endpoints": {}}
    with log_path.open("wb") as output:
        server = ServerProcess(function_command("agents_http", port), env, output)
        try:
            first_ok(server, port, Probe("GET", "/health"))
            check_answers(port, setup.some_agent)
            meter = CpuMeter(server, setup.postmaster)
            for name, path_of in setup.endpoints.items():
                log(f"read throughput: {config.name}: {name}")
                drive(port, path_of, requests=WARM_UP_REQUESTS, duration=60.0)
                before = meter.sample()
                load = drive(port, path_of, requests=requests, duration=duration)
                measured["endpoints"][name] = summarise(load, CpuMeter.spent(before, meter.sample()))
        finally:
            server.stop()
    server_errors = [line for line in log_path.read_text(errors="replace").splitlines() if '"level": "ERROR"' in line]
    measured["server_error_log_lines"] = len(server_errors)
    measured["server_error_samples"] = server_errors[:3]
    return measured


def report(results: dict[str, Any]) -> str:
    rows = []
    for measured in results["configs"]:
        config = measured["config"]
        for name, found in measured["endpoints"].items():
            cpu = found["cpu_ms_per_request"]
            rows.append(
                [
                    config["name"],
                    name,
                    found["ok"],
                    found["requests_per_s"],
                    found["p50_ms"],
                    found["p99_ms"],
                    found["errors"],
                    f"{cpu['client']:.1f} / {cpu['server']:.1f} / {cpu['postgres']:.1f}",
                    found["cpu_cores_busy"]["client"]
                    + found["cpu_cores_busy"]["server"]
                    + found["cpu_cores_busy"]["postgres"],
                    found["cpu_cores_busy"]["other"],
                ]
            )
    data = results["data"]
    lines = [
        f"Read throughput: agents_http under functions-framework (gunicorn gthread) on PostgreSQL "
        f"{data['postgresql']}, {data['agents']:,} ranked agents of {data['users']} users "
        f"(seeded in {results['seed_s']:.1f} s)",
        f"{results['concurrency']} client threads with keep-alive connections; {results['warm_up_requests']} "
        f"warm-up requests, then {results['max_requests']:,} requests or {results['max_duration_s']:.0f} s, "
        "whichever comes first; any non-200 is an error",
        table(
            [
                "server",
                "endpoint",
                "requests",
                "req/s",
                "p50 ms",
                "p99 ms",
                "errors",
                "CPU ms/req client/server/pg",
                "cores busy",
                "cores busy, other processes",
            ],
            rows,
        ),
        f"NOTE: client, server and PostgreSQL share this machine's {os.cpu_count()} cores. cores busy = their CPU "
        "seconds / wall seconds; other processes = the rest of the machine meanwhile.",
        "Server: ENV=production, WORKERS x THREADS as shown, DB_POOL_SIZE=8 and DB_MAX_OVERFLOW=2 per worker.",
    ]
    for measured in results["configs"]:
        if measured["server_error_log_lines"]:
            lines.append(
                f"{measured['config']['name']}: {measured['server_error_log_lines']} ERROR lines in the server log, "
                f"e.g. {measured['server_error_samples'][0][:300]}"
            )
    return "\n".join(lines)


def problems(results: dict[str, Any]) -> list[str]:
    found = []
    for measured in results["configs"]:
        name = measured["config"]["name"]
        for endpoint, figures in measured["endpoints"].items():
            if figures["errors"]:
                found.append(f"read throughput: {name}, {endpoint}: {figures['errors']} errors {figures['statuses']}")
        if measured["server_error_log_lines"]:
            found.append(f"read throughput: {name}: {measured['server_error_log_lines']} ERROR lines in the server log")
        board = measured["endpoints"].get(f"GET {LEADERBOARD}")
        if measured["config"]["workers"] == 1 and board is not None and _misses_goal(board):
            found.append(
                f"read throughput: {name}: the leaderboard at {board['requests_per_s']:.0f} req/s, p99 "
                f"{board['p99_ms']:.1f} ms misses the goal ({GOAL_LEADERBOARD_PER_WORKER:.0f} req/s per "
                f"worker, p99 < {GOAL_LEADERBOARD_P99_MS:.0f} ms; client and PostgreSQL share the cores)"
            )
    return found


def _misses_goal(figures: dict[str, Any]) -> bool:
    return bool(figures["requests_per_s"] < GOAL_LEADERBOARD_PER_WORKER or figures["p99_ms"] >= GOAL_LEADERBOARD_P99_MS)
