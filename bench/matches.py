"""Matches per second: sandboxed agents (two processes each match) against the in-process floor.

For each environment, the same reference agents (first legal action; pong: follow the ball) play
N seeded matches through `rlarena.executor.runner.run_match` (each agent its own sandboxed process,
framed JSON over pipes), one and two at a time, and once called directly in this process with no
sandbox. Per-move overhead is the sandboxed per-move round trip minus the in-process agent call.

Tic-tac-toe also runs under the older layers alone (no bubblewrap, no seccomp, no cgroup: what the
platform does on a host that lacks them, and what it did before the strict sandbox), in the same
run, and the cost of starting one sandboxed agent (spawn to its ready frame, and its teardown) is
measured both ways.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
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
# 12.7 matches/s (the older layers, one at a time, on this machine) made at most 25% slower.
STRICT_FLOOR = 12.7 / 1.25
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


@contextlib.contextmanager
def legacy_layers() -> Iterator[None]:
    """The sandbox as on a host without bubblewrap, libseccomp or cgroups (the layers before)."""
    from rlarena.sandbox import support

    real = support.detect
    reduced = dataclasses.replace(real(), bwrap=None, seccomp=False, cgroups=None)
    support.detect = lambda: reduced  # type: ignore[assignment]
    try:
        yield
    finally:
        support.detect = real


def sandbox_start(folder: Path, starts: int = 20) -> dict[str, float]:
    """One agent: spawn to its ready frame (launcher, sandbox set-up, interpreter, runtime and
    agent import), then the teardown (kill, reap, cgroup and uid returned)."""
    from rlarena.executor.runner import SERVE_MODULE
    from rlarena.sandbox import staging
    from rlarena.sandbox.process import Mount, SandboxLimits
    from rlarena.sandbox.runtime_install import agent_python, install_runtime
    from rlarena.sandbox.session import SandboxSession

    runtime = install_runtime(agent_python(None))
    source = folder / "start"
    source.mkdir(parents=True, exist_ok=True)
    (source / "agent.py").write_text(FIRST_LEGAL)
    ready: list[float] = []
    teardown: list[float] = []
    for _ in range(starts):
        code = staging.stage_copy(source, "bench-")
        argv = runtime.module_argv(SERVE_MODULE, str(code), "agent.py", "0")
        before = time.perf_counter()
        session = SandboxSession(argv, cwd=code, limits=SandboxLimits(), mounts=[Mount(code), Mount(runtime.path)])
        frame = session.receive(timeout=30)
        ready.append(time.perf_counter() - before)
        if not isinstance(frame, dict) or not frame.get("ready"):
            raise RuntimeError(f"the agent did not start: {frame!r} {session.stderr_text()[-500:]}")
        before = time.perf_counter()
        session.kill()
        teardown.append(time.perf_counter() - before)
        staging.discard(code)
    return {
        "ready_p50_ms": percentile(sorted(ready), 0.5) * 1000,
        "ready_p90_ms": percentile(sorted(ready), 0.9) * 1000,
        "teardown_p50_ms": percentile(sorted(teardown), 0.5) * 1000,
    }


def sandboxed(environment_id: str, code: str, games: int, folder: Path, *, parallel: int = 1) -> dict[str, Any]:
    from rlarena.executor.runner import AgentSpec, run_match
    from rlarena.sandbox.runtime_install import agent_python, install_runtime

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
    from rlarena.sandbox import support

    support.announce("the matches benchmark", production=False)  # as the executor does at start-up
    results: dict[str, Any] = {"sandbox": support.detect().describe()}
    folder = Path(tempfile.mkdtemp(prefix="rlarena-bench-matches-"))
    folder.chmod(0o755)
    try:
        log("matches: sandbox start, strict and older layers")
        results["start"] = {"strict": sandbox_start(folder / "strict")}
        with legacy_layers():
            results["start"]["older_layers"] = sandbox_start(folder / "older")
            code, games = GAMES["tic-tac-toe"]
            results["tic-tac-toe older layers"] = sandboxed("tic-tac-toe", code, games, folder / "ttt_older")
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
    games = {key: value for key, value in results.items() if key in GAMES}
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
        for environment_id, r in games.items()
    ]
    header = "Matches: sandboxed agents (2 processes, framed JSON) vs in-process with no sandbox (the floor)"
    start = results.get("start", {})
    older = results.get("tic-tac-toe older layers")
    extra = [f"sandbox on this host: {results.get('sandbox')}"]
    for name, figures in start.items():
        extra.append(
            f"one agent's sandbox, {name}: ready p50 {figures['ready_p50_ms']:.1f} ms "
            f"(p90 {figures['ready_p90_ms']:.1f}), teardown p50 {figures['teardown_p50_ms']:.1f} ms"
        )
    if older:
        extra.append(
            f"tic-tac-toe under the older layers alone: {older['matches_per_s']:.1f} matches/s, "
            f"move p50 {older['move_p50_ms']:.2f} ms"
        )
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
        + "\n"
        + "\n".join(extra)
    )


def problems(results: dict[str, Any]) -> list[str]:
    found = [
        f"{env}: a match did not succeed"
        for env, r in results.items()
        if env in GAMES and not r["sandboxed"]["statuses_ok"]
    ]
    ttt = results.get("tic-tac-toe")
    if ttt and ttt["sandboxed_2_at_once"]["matches_per_s"] < 10:
        rate = ttt["sandboxed_2_at_once"]["matches_per_s"]
        found.append(f"tic-tac-toe: {rate:.1f} sandboxed matches/s (2 at once) misses the goal of 10")
    if ttt and ttt["overhead_p50_ms"] >= 1.0:
        found.append(f"tic-tac-toe: per-move sandbox overhead p50 {ttt['overhead_p50_ms']:.2f} ms misses 1 ms")
    # Issue 11: the strict sandbox may make a match at most 25% slower than the 12.7 matches/s
    # (one at a time) of the older layers on this machine, and than those layers in this very run.
    older = results.get("tic-tac-toe older layers")
    if ttt and older:
        strict, before = ttt["sandboxed"]["matches_per_s"], older["matches_per_s"]
        if strict < min(STRICT_FLOOR, before / 1.25):
            found.append(
                f"tic-tac-toe: {strict:.1f} strict matches/s one at a time is more than 25% slower than "
                f"the older layers ({before:.1f} in this run, 12.7 recorded)"
            )
        if not older["statuses_ok"]:
            found.append("tic-tac-toe under the older layers: a match did not succeed")
    return found
