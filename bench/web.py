"""The web function (issue 16): cold start to its first page, and the leaderboard page with 100 agents.

A real `rlarena dev` serves the REST API on an already-populated SQLite file (100 active
tic-tac-toe agents with ratings, inserted before anything is timed). Cold start: each run spawns
`functions-framework --target web_http --source functions/web/main.py` afresh (what its container
runs) with WEB_API_URL at that platform, and times spawn to the first 200 of
GET /games/tic-tac-toe, a page that itself calls the API. Warm: the same page requested again and
again from the warm web function (the whole server side: the API calls and the rendering), and
the rendering alone (rlarena.web.pages.leaderboard on the API's JSON) in this process.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.support import (
    BIN,
    HOST,
    BenchError,
    Probe,
    ServerProcess,
    activate_all,
    agent_row,
    base_environment,
    bulk_insert,
    first_ok,
    free_port,
    function_command,
    insert_users,
    percentile,
    table,
    utcnow,
)

COLD_GOAL_SECONDS = 0.5
RENDER_GOAL_MS = 50.0
AGENTS = 100
GAME = "tic-tac-toe"
PAGE = f"/games/{GAME}"

Log = Callable[[str], None]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as reply:  # noqa: S310 (our own http URL)
        if reply.status != 200:
            raise BenchError(f"GET {url} answered {reply.status}")
        return bytes(reply.read())


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchError(f"the platform exited with status {process.returncode}")
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise BenchError(f"{url} did not answer within {seconds:.0f} s")


def _populate(data_dir: Path) -> None:
    """100 active agents on one ladder, with spread ratings, in the platform's own database."""
    from rlarena.adapters.db.engine import make_engine
    from rlarena.adapters.db.models import Agent
    from rlarena.config import Settings

    settings = Settings.model_validate({"DATA_DIR": str(data_dir)})
    engine = make_engine(settings.resolved_database_url)
    now = utcnow()
    with engine.begin() as connection:
        users = insert_users(connection, AGENTS, now)
        ids = [uuid.uuid4() for _ in users]
        rows = [
            {
                **agent_row(agent_id, user, GAME, f"bench-agent-{i}", now, elo=1200 + 7 * i, record=(i, 3, 1)),
                "skill_mu": 20 + i / 10,
                "skill_sigma": 8 - i / 20,
            }
            for i, (agent_id, user) in enumerate(zip(ids, users, strict=True))
        ]
        bulk_insert(connection, Agent, rows)
        activate_all(connection, ids, now)
    engine.dispose()


def run(*, repeats: int = 7, requests: int = 50, log: Log) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rlarena-bench-web-") as folder:
        data = Path(folder) / "data"
        api_port = free_port()
        platform_env = base_environment(
            DATA_DIR=str(data), HOUSE_AGENTS="false", EXECUTOR_URL=f"{HOST}:{free_port()}", LOG_LEVEL="WARNING"
        )
        log("starting rlarena dev for the API")
        api = ServerProcess([str(BIN / "rlarena"), "dev", "--port", str(api_port)], platform_env)
        try:
            api_url = f"http://{HOST}:{api_port}"
            _wait_for(f"{api_url}/health", api.process)
            _populate(data)
            board = json.loads(_get(f"{api_url}/api/v1/leaderboard/environment/{GAME}?limit=100"))["leaderboard"]
            if len(board) != AGENTS:
                raise BenchError(f"the leaderboard holds {len(board)} agents, not {AGENTS}")
            web_env = base_environment(WEB_API_URL=api_url, DATA_DIR=str(Path(folder) / "web"), LOG_LEVEL="WARNING")
            cold = []
            for index in range(repeats):
                port = free_port()
                web = ServerProcess(function_command("web_http", port, folder="web"), web_env)
                try:
                    cold.append(first_ok(web, port, Probe("GET", PAGE)).first_ok_s)
                    if index == repeats - 1:
                        warm = _warm_page(port, requests)
                finally:
                    web.stop()
                log(f"web cold start {index + 1}/{repeats}: {cold[-1] * 1000:.0f} ms")
        finally:
            api.stop()
    return {
        "agents": AGENTS,
        "cold_start_s": _spread(cold),
        "page_ms": _spread(warm),
        "render_ms": _spread(_render_times(board, requests)),
    }


def _warm_page(port: int, requests: int) -> list[float]:
    url = f"http://{HOST}:{port}{PAGE}"
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        page = _get(url)
        times.append((time.perf_counter() - started) * 1000)
        if page.count(b"bench-agent-") != AGENTS:
            raise BenchError("the leaderboard page does not show every agent")
    return times


def _render_times(board: list[dict[str, Any]], requests: int) -> list[float]:
    from rlarena.web import pages

    environment = {"id": GAME, "name": "Tic-Tac-Toe", "description": ""}
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        pages.leaderboard(environment, board, sort="elo", user=None)
        times.append((time.perf_counter() - started) * 1000)
    return times


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": percentile(ordered, 0.95),
        "max": ordered[-1],
    }


def report(results: dict[str, Any]) -> str:
    measured = [
        (f"cold start to first page ({PAGE})", "s", results["cold_start_s"], COLD_GOAL_SECONDS),
        (f"warm page, {results['agents']} agents (server side + API)", "ms", results["page_ms"], RENDER_GOAL_MS),
        ("rendering alone (pages.leaderboard)", "ms", results["render_ms"], RENDER_GOAL_MS),
    ]
    rows = [[what, unit, s["n"], s["p50"], s["p95"], s["max"], goal] for what, unit, s, goal in measured]
    return "Web function (bench/web.py)\n" + table(["what", "unit", "n", "p50", "p95", "max", "goal (p50)"], rows)


def problems(results: dict[str, Any]) -> list[str]:
    found = []
    if results["cold_start_s"]["p50"] > COLD_GOAL_SECONDS:
        found.append(f"web cold start p50 {results['cold_start_s']['p50']:.2f} s is over {COLD_GOAL_SECONDS} s")
    if results["page_ms"]["p50"] > RENDER_GOAL_MS:
        found.append(
            f"the 100-agent leaderboard page p50 {results['page_ms']['p50']:.1f} ms is over {RENDER_GOAL_MS} ms"
        )
    return found
