"""Matches per second: sandboxed agents (two processes each match) against the in-process floor.

For each environment, the same reference agents (first legal action; pong: follow the ball) play
N seeded matches twice: once through `rlarena.executor.runner.run_match` (each agent its own
sandboxed process, framed JSON over pipes), once called directly in this process with no sandbox.
Per-move overhead is the sandboxed per-move round trip minus the in-process agent call.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.support import percentile, table

FIRST_LEGAL = "def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"
TRACKER = (
    "def agent(observation, configuration):\n"
    "    o = observation['observation']\n"
    "    me = observation['player']\n"
    "    paddle = o[4 + me]\n"
    "    return 1 if abs(o[1] - paddle) < 0.02 else (2 if o[1] > paddle else 0)\n"
)
GAMES = {
    "tic-tac-toe": (FIRST_LEGAL, 20),
    "connect-four": (FIRST_LEGAL, 10),
    "chess": (FIRST_LEGAL, 2),
    "pong": (TRACKER, 3),
}


def _agent_function(code: str) -> Callable[[Any, Any], int]:
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 - the benchmark's own reference agents
    function: Callable[[Any, Any], int] = namespace["agent"]
    return function


def in_process(environment_id: str, code: str, games: int) -> dict[str, float]:
    from rlarena.environments.registry import create

    agent = _agent_function(code)
    calls: list[float] = []
    started = time.perf_counter()
    for seed in range(games):
        env = create(environment_id)
        env.reset(seed)
        while not env.done():
            actions = {}
            for player in env.to_act():
                observation = env.observation(player)
                before = time.perf_counter()
                actions[player] = agent(observation, {})
                calls.append(time.perf_counter() - before)
            env.step(actions)
    elapsed = time.perf_counter() - started
    ordered = sorted(calls)
    return {"matches_per_s": games / elapsed, "moves": len(calls), "agent_call_p50_ms": percentile(ordered, 0.5) * 1000}


def sandboxed(environment_id: str, code: str, games: int, folder: Path, *, parallel: int = 1) -> dict[str, Any]:
    from rlarena.adapters.builders.runtime import agent_python, install_runtime
    from rlarena.executor.runner import AgentSpec, run_match

    runtime = install_runtime(agent_python(None))
    agents = []
    for name in ("a", "b"):
        path = folder / name
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o755)
        (path / "agent.py").write_text(code)
        (path / "agent.py").chmod(0o644)
        agents.append(AgentSpec(name, path, "agent.py"))
    move_times: list[float] = []
    statuses: list[str] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        played = list(
            pool.map(lambda seed: run_match(environment_id, agents, seed, runtime, record_replay=False), range(games))
        )
    elapsed = time.perf_counter() - started
    for result in played:
        statuses.append(result.status)
        for agent_result in result.agent_results:
            move_times.extend(agent_result.move_times)
    ordered = sorted(move_times)
    return {
        "matches_per_s": games / elapsed,
        "moves": len(move_times),
        "move_p50_ms": percentile(ordered, 0.5) * 1000,
        "move_p99_ms": percentile(ordered, 0.99) * 1000,
        "statuses_ok": all(s == "SUCCESS" for s in statuses),
    }


def run(log: Callable[[str], None] = print) -> dict[str, Any]:
    results: dict[str, Any] = {}
    folder = Path(tempfile.mkdtemp(prefix="rlarena-bench-matches-"))
    folder.chmod(0o755)
    try:
        for environment_id, (code, games) in GAMES.items():
            log(f"matches: {environment_id} x {games}")
            floor = in_process(environment_id, code, games)
            boxed = sandboxed(environment_id, code, games, folder / environment_id.replace("-", "_"))
            # The executor runs EXECUTOR_MAX_MATCHES (2) matches at once: the machine's throughput.
            two = sandboxed(environment_id, code, games, folder / f"{environment_id}-2".replace("-", "_"), parallel=2)
            results[environment_id] = {
                "games": games,
                "in_process": floor,
                "sandboxed": boxed,
                "sandboxed_2_at_once": two,
                # The round trip through the sandboxed process minus the agent's own thinking.
                "overhead_p50_ms": boxed["move_p50_ms"] - floor["agent_call_p50_ms"],
            }
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return results


def report(results: dict[str, Any]) -> str:
    rows = [
        [
            environment_id,
            r["games"],
            f"{r['sandboxed']['matches_per_s']:.1f}",
            f"{r['sandboxed_2_at_once']['matches_per_s']:.1f}",
            f"{r['in_process']['matches_per_s']:.1f}",
            f"{r['sandboxed']['move_p50_ms']:.2f} / {r['sandboxed']['move_p99_ms']:.2f}",
            f"{r['overhead_p50_ms']:.2f}",
        ]
        for environment_id, r in results.items()
    ]
    header = "Matches: sandboxed agents (2 processes, framed JSON) vs in-process with no sandbox (the floor)"
    return (
        header
        + "\n"
        + table(
            [
                "environment",
                "games",
                "sandboxed matches/s",
                "2 at once",
                "in-process matches/s",
                "move p50 / p99 ms",
                "overhead p50 ms",
            ],
            rows,
        )
    )


def problems(results: dict[str, Any]) -> list[str]:
    found = [f"{env}: a match did not succeed" for env, r in results.items() if not r["sandboxed"]["statuses_ok"]]
    ttt = results.get("tic-tac-toe")
    if ttt and ttt["sandboxed_2_at_once"]["matches_per_s"] < 10:
        rate = ttt["sandboxed_2_at_once"]["matches_per_s"]
        found.append(f"tic-tac-toe: {rate:.1f} sandboxed matches/s (2 at once) misses the goal of 10")
    if ttt and ttt["overhead_p50_ms"] >= 1.0:
        found.append(f"tic-tac-toe: per-move sandbox overhead p50 {ttt['overhead_p50_ms']:.2f} ms misses 1 ms")
    return found
