"""Cold start of each function: spawning the production entry to its first 200 OK, plus import costs.

Each run spawns `functions-framework --target <t> --source functions/<f>/main.py` afresh (the
command its container runs) against an already-migrated SQLite file (`--database postgresql`: a
throwaway PostgreSQL server over TCP, what the cluster runs), and polls it every 5 ms:
GET /health for the HTTP targets, and for `ratings_events` a binary-mode
dev.rlarena.match.finished CloudEvent for a running match inserted just before the spawn. The
clock starts right before the spawn and stops when the 200 has been read. Migration and row
inserts happen before the clock starts.

Import costs are measured in separate processes, one right after each timed spawn: the
interpreter alone (`python -c pass`), `import functions_framework`, main.py loaded the way
functions-framework loads it, and then what a worker loads before its first database request:
the settings, and the API (an HTTP target's DeferredApi.load) or the event handler's module, each
with the garbage collector paused as the worker pauses it (rlarena.http.gc_pause). One more run
under `python -X importtime` attributes the time of main.py and of that first-request import to
top-level packages.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from sqlalchemy import Engine, func, insert, select

from bench.support import (
    HOST,
    POLL_INTERVAL,
    PYTHON,
    ROOT,
    TARGETS,
    BenchError,
    Probe,
    Run,
    ServerProcess,
    Spread,
    activate_all,
    agent_row,
    base_environment,
    bulk_insert,
    first_ok,
    free_port,
    function_command,
    insert_users,
    own_cpu_seconds,
    send,
    strong_secret,
    system_busy_seconds,
    table,
    utcnow,
)
from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.migrate import upgrade_to_head
from rlarena.adapters.db.models import Agent, Match
from rlarena.adapters.tokens import TokenService
from rlarena.domain.statuses import MatchStatus
from tests.support.postgres import throwaway_postgres

GOAL_SECONDS = 0.5
# Every HTTP function (and the ratings CloudEvent target): its folder under functions/.
COLD_TARGETS = {
    **TARGETS,
    "submissions_http": "submissions",
    "matchmaker_http": "matchmaker",
    "ws_relay_http": "ws-relay",
}
API_REQUESTS = {
    "auth_http": "GET /api/v1/users/me",
    "agents_http": "GET /api/v1/leaderboard?limit=10",
    "ratings_events": "POST / (match.finished)",
    "submissions_http": "GET /api/v1/submissions/agent/<its agent>",
    "matchmaker_http": "GET /api/v1/matches?pageSize=10",
    "ws_relay_http": "GET /health (the relay's HTTP side reads no database)",
}
# What an event target imports on its first event (an HTTP target's main.py has a DeferredApi `api`).
HANDLER_MODULES = {"ratings_events": "rlarena.entrypoints.ratings"}
TOP_PACKAGES = 6
MARK = "--- main.py ---"

# Loads main.py exactly as functions-framework does (load_function_module, then exec_module), then
# what the worker loads before its first database request (rlarena.http.deferred, functions/ratings).
IMPORT_SNIPPET = f"""
import importlib, json, sys, time
t0 = time.perf_counter()
import functions_framework
from functions_framework import _function_registry
t1 = time.perf_counter()
sys.stderr.write({MARK!r} + "\\n"); sys.stderr.flush()
module, spec = _function_registry.load_function_module(sys.argv[1])
spec.loader.exec_module(module)
t2 = time.perf_counter()
from rlarena import runtime
from rlarena.http.gc_pause import paused_collector
with paused_collector():
    runtime.settings()
t3 = time.perf_counter()
if sys.argv[2]:
    with paused_collector():
        importlib.import_module(sys.argv[2])
else:
    module.api.load()
t4 = time.perf_counter()
print(json.dumps({{"framework_s": t1 - t0, "main_s": t2 - t1, "settings_s": t3 - t2, "api_s": t4 - t3}}))
"""


# -- the event sink (K_SINK) ---------------------------------------------------------------------


class _Sink(BaseHTTPRequestHandler):
    received: list[str]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        type(self).received.append(self.headers.get("ce-type", ""))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def event_sink() -> Iterator[tuple[str, list[str]]]:
    """A stand-in for the Broker's ingress, so ENV=production's publisher has somewhere to POST."""
    received: list[str] = []
    handler = type("Sink", (_Sink,), {"received": received})
    server = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="event-sink", daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# -- the database ---------------------------------------------------------------------------------

DATABASES = {
    "sqlite": "SQLite file, migrated before timing",
    "postgresql": "PostgreSQL 15 (a throwaway local server, pg8000 over TCP), migrated before timing",
}


@contextmanager
def database_url(database: str, folder: Path) -> Iterator[str]:
    """The functions' DATABASE_URL: a SQLite file in `folder`, or a throwaway PostgreSQL server (what
    the cluster runs)."""
    if database == "sqlite":
        yield f"sqlite:///{folder / 'rlarena.db'}"
        return
    with throwaway_postgres() as url:
        yield url


@dataclass
class Seeded:
    user: uuid.UUID
    agent_a: uuid.UUID
    agent_b: uuid.UUID


def prepare_database(engine: Engine) -> Seeded:
    """Migrate, then two users with one ranked agent each (the players of every rated match)."""
    upgrade_to_head(engine)
    now = utcnow()
    with engine.begin() as connection:
        alice, bob = insert_users(connection, 2, now)
        agent_a, agent_b = uuid.uuid4(), uuid.uuid4()
        rows = [
            agent_row(agent_a, alice, "tic-tac-toe", "cold-start-a", now),
            agent_row(agent_b, bob, "tic-tac-toe", "cold-start-b", now),
        ]
        bulk_insert(connection, Agent, rows)
        activate_all(connection, [agent_a, agent_b], now)
    return Seeded(user=alice, agent_a=agent_a, agent_b=agent_b)


def insert_running_match(engine: Engine, a: uuid.UUID, b: uuid.UUID) -> uuid.UUID:
    now = utcnow()
    match_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            insert(Match).values(
                id=match_id,
                environment_id="tic-tac-toe",
                agent1_id=a,
                agent2_id=b,
                status=MatchStatus.RUNNING.value,
                is_rated=True,
                is_public=True,
                started_at=now,
                created_at=now,
                updated_at=now,
            )
        )
    return match_id


def match_finished(match_id: uuid.UUID, a: uuid.UUID, b: uuid.UUID) -> Probe:
    event = CloudEvent(
        {"type": "dev.rlarena.match.finished", "source": "/rlarena/executor"},
        {
            "matchId": str(match_id),
            "environmentId": "tic-tac-toe",
            "winnerId": str(a),
            "agentResults": [{"agentId": str(a), "score": 1.0}, {"agentId": str(b), "score": 0.0}],
            "totalSteps": 7,
        },
    )
    headers, body = to_binary(event)
    return Probe("POST", "/", body=body, headers=dict(headers))


# -- import costs ---------------------------------------------------------------------------------


def wall_time(command: list[str], env: dict[str, str]) -> tuple[float, str, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=60)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"{command[:3]} failed: {done.stderr[-500:]}")
    return elapsed, done.stdout, done.stderr


@dataclass
class ImportCosts:
    """Per process: interpreter start-up, `import functions_framework`, main.py on top, then the
    settings and the API (or event handler) a worker loads before its first database request."""

    handler_module: str = ""  # an event target's; "" for an HTTP target (main.py's DeferredApi)
    startup: list[float] = field(default_factory=list)
    framework: list[float] = field(default_factory=list)
    main: list[float] = field(default_factory=list)
    settings: list[float] = field(default_factory=list)
    api: list[float] = field(default_factory=list)

    def measure(self, source: str, env: dict[str, str]) -> None:
        self.startup.append(wall_time([str(PYTHON), "-c", "pass"], env)[0])
        _, out, _ = wall_time([str(PYTHON), "-c", IMPORT_SNIPPET, source, self.handler_module], env)
        measured = json.loads(out)
        self.framework.append(measured["framework_s"])
        self.main.append(measured["main_s"])
        self.settings.append(measured["settings_s"])
        self.api.append(measured["api_s"])

    def summary(self, source: str, env: dict[str, str]) -> dict[str, Any]:
        command = [str(PYTHON), "-X", "importtime", "-c", IMPORT_SNIPPET, source, self.handler_module]
        _, _, profile = wall_time(command, env)
        return {
            "processes": len(self.main),
            "python_startup_s": statistics.median(self.startup),
            "framework_import_s": statistics.median(self.framework),
            "main_import_s": statistics.median(self.main),
            "settings_s": statistics.median(self.settings),
            "api_import_s": statistics.median(self.api),
            "main_import_by_package": packages_of(profile),
        }


def packages_of(importtime_log: str) -> list[dict[str, Any]]:
    """Self time of the modules imported after functions_framework (main.py, the settings, the API), by
    top-level package."""
    lines = importtime_log.splitlines()
    after = lines[lines.index(MARK) + 1 :] if MARK in lines else lines
    by_package: dict[str, int] = defaultdict(int)
    for line in after:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, _cumulative, module = (part.strip() for part in line.replace("import time:", "|", 1).split("|"))
        by_package[module.split(".")[0]] += int(self_us)
    total = sum(by_package.values()) or 1
    ranked = sorted(by_package.items(), key=lambda item: item[1], reverse=True)
    top = [
        {"package": name, "self_ms": round(us / 1000, 1), "share": round(us / total, 3)}
        for name, us in ranked[:TOP_PACKAGES]
    ]
    rest = sum(us for _, us in ranked[TOP_PACKAGES:])
    top.append({"package": "(everything else)", "self_ms": round(rest / 1000, 1), "share": round(rest / total, 3)})
    return top


# -- the benchmark --------------------------------------------------------------------------------


def run(repeats: int = 7, log: Callable[[str], None] = print, database: str = "sqlite") -> dict[str, Any]:
    results: dict[str, Any] = {
        "repeats": repeats,
        "warm_up_runs": 1,
        "goal_s": GOAL_SECONDS,
        "poll_interval_s": POLL_INTERVAL,
        "database": DATABASES[database],
        "env": "ENV=production, JWT_SECRET, DATABASE_URL, DATA_DIR, K_SINK (a local stand-in sink)",
        "targets": {},
    }
    with (
        tempfile.TemporaryDirectory(prefix="rlarena-bench-cold-") as folder,
        event_sink() as (sink, received),
        database_url(database, Path(folder)) as url,
    ):
        workdir = Path(folder)
        engine = make_engine(url)
        seeded = prepare_database(engine)
        a, b = seeded.agent_a, seeded.agent_b
        secret = strong_secret()
        env = base_environment(
            ENV="production",
            DATABASE_URL=url,
            JWT_SECRET=secret,
            DATA_DIR=str(workdir / "data"),
            K_SINK=sink,
            LOG_LEVEL="INFO",
        )
        token = TokenService(secret, timedelta(hours=1)).issue(seeded.user, "bench-user-0", utcnow())
        # The first request that needs the database, sent right after /health's 200.
        api_probes: dict[str, Probe | None] = {
            "auth_http": Probe("GET", "/api/v1/users/me", headers={"Authorization": f"Bearer {token}"}),
            "agents_http": Probe("GET", "/api/v1/leaderboard?limit=10"),
            "ratings_events": None,
            "submissions_http": Probe(
                "GET", f"/api/v1/submissions/agent/{a}", headers={"Authorization": f"Bearer {token}"}
            ),
            "matchmaker_http": Probe("GET", "/api/v1/matches?pageSize=10"),
            "ws_relay_http": None,
        }
        began, machine_before, own_before = time.perf_counter(), system_busy_seconds(), own_cpu_seconds()
        for target, folder_name in COLD_TARGETS.items():
            log(f"cold start: {target} ({repeats} runs after 1 warm-up)")
            runs = []
            imports = ImportCosts(handler_module=HANDLER_MODULES.get(target, ""))
            source = str(ROOT / "functions" / folder_name / "main.py")
            for attempt in range(repeats + 1):
                if target == "ratings_events":
                    probe = match_finished(insert_running_match(engine, a, b), a, b)
                else:
                    probe = Probe("GET", "/health")
                log_path = workdir / f"{target}-{attempt}.log"
                runs.append(spawn_and_time(target, folder_name, env, probe, then=api_probes[target], log_path=log_path))
                if attempt:  # interleaved with the spawns, so both see the same machine
                    imports.measure(source, env)
            timed = runs[1:]
            firsts = [r.first_ok_s for r in timed]
            listening = [r.listening_s for r in timed if r.listening_s is not None]
            api = [r.first_api_s for r in timed if r.first_api_s is not None]
            spread = Spread.of(firsts)
            results["targets"][target] = {
                "first_ok_s": spread.as_dict(),
                "listening_s": Spread.of(listening).as_dict() if listening else None,
                "first_api_request": API_REQUESTS[target],
                "first_api_ok_s": Spread.of(api).as_dict(),
                "runs_s": firsts,
                "goal_met": spread.median < GOAL_SECONDS,
                "first_api_goal_met": Spread.of(api).median < GOAL_SECONDS,
                "imports": imports.summary(source, env),
            }
        elapsed = time.perf_counter() - began
        others = (system_busy_seconds() - machine_before) - (own_cpu_seconds() - own_before)
        results["other_processes_cores_busy"] = max(0.0, others) / elapsed
        with engine.connect() as connection:
            completed = connection.scalar(
                select(func.count()).select_from(Match).where(Match.status == MatchStatus.COMPLETED.value)
            )
        engine.dispose()
        results["checks"] = {
            "matches_rated": int(completed or 0),
            "rating_events_published": received.count("dev.rlarena.rating.updated"),
            "expected": repeats + 1,
        }
    return results


def spawn_and_time(
    target: str, folder: str, env: dict[str, str], probe: Probe, *, then: Probe | None, log_path: Path
) -> Run:
    """One fresh process: time to `probe`'s first 200, then (if given) to `then`'s 200 right after."""
    port = free_port()
    with log_path.open("wb") as output:
        server = ServerProcess(function_command(target, port, folder), env, output)
        try:
            result = first_ok(server, port, probe)
            if then is None:
                result.first_api_s = result.first_ok_s
            else:
                send(port, then)
                result.first_api_s = time.perf_counter() - server.started
            return result
        except BenchError as error:
            output.flush()
            tail = log_path.read_text(errors="replace")[-2000:]
            raise BenchError(f"{target}: {error}\n--- server output ---\n{tail}") from None
        finally:
            server.stop()


def report(results: dict[str, Any]) -> str:
    rows = []
    for target, found in results["targets"].items():
        first = found["first_ok_s"]
        rows.append(
            [
                target,
                first["min"],
                first["median"],
                first["max"],
                (found["listening_s"] or {}).get("median", "-"),
                found["first_api_ok_s"]["median"],
                "yes" if found["goal_met"] else "NO",
                {True: "yes", False: "NO", None: "-"}[found.get("first_api_goal_met")],
            ]
        )
    timing = table(
        [
            "target",
            "min s",
            "median s",
            "max s",
            "port open (median) s",
            "first DB request (median) s",
            f"median < {results['goal_s']} s",
            f"first DB request < {results['goal_s']} s",
        ],
        rows,
    )
    import_rows = []
    for target, found in results["targets"].items():
        imports = found["imports"]
        top = ", ".join(f"{p['package']} {p['self_ms']:.0f}" for p in imports["main_import_by_package"][:4])
        parts = ("python_startup_s", "framework_import_s", "main_import_s", "settings_s", "api_import_s")
        total = sum(imports[part] for part in parts)
        import_rows.append(
            [
                target,
                *(imports[part] for part in parts),
                total,
                f"{total / found['first_api_ok_s']['median']:.0%}",
                top,
            ]
        )
    imports_table = table(
        [
            "target",
            "python -c pass s",
            "import functions_framework s",
            "import main.py s",
            "settings s",
            "API import s",
            "sum s",
            "sum / first DB request",
            "self ms by package (main.py on)",
        ],
        import_rows,
    )
    checks = results["checks"]
    requests = "; ".join(f"{t}: {r}" for t, r in API_REQUESTS.items())
    return "\n".join(
        [
            f"Cold start: spawn of functions-framework to first 200 OK (GET /health; ratings: the CloudEvent POST), "
            f"{results['repeats']} fresh processes per target after {results['warm_up_runs']} untimed warm-up, "
            f"polled every {results['poll_interval_s'] * 1000:.0f} ms; database: {results['database']}",
            timing,
            f"first DB request = spawn to the 200 of the first request needing the database, sent right after "
            f"/health's 200 ({requests})",
            "",
            f"Import costs (median of {results['repeats']} processes, each measured right after a timed spawn; "
            "main.py measured after functions_framework, then what the worker loads before its first database "
            "request: the settings and the API (ratings: its handler), with the garbage collector paused as the "
            "worker pauses it; self ms by package, from main.py on, from one -X importtime run, which inflates it):",
            imports_table,
            "",
            f"checks: {checks['matches_rated']} matches rated, {checks['rating_events_published']} "
            f"rating.updated events published (expected {checks['expected']} each); other processes kept "
            f"{results['other_processes_cores_busy']:.2f} cores busy meanwhile on average",
        ]
    )


def problems(results: dict[str, Any]) -> list[str]:
    checks = results["checks"]
    if checks["matches_rated"] == checks["rating_events_published"] == checks["expected"]:
        return []
    return [f"cold start: expected {checks['expected']} rated matches and events, got {checks}"]
