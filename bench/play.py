"""`rlarena play` throughput: matches per second for each game, as an author gets them.

Each line runs the installed command (`rlarena play GAME A B --games N`) in a subprocess, so the
figures include everything an author waits for: the command's start-up, resolving the agents,
installing the agent runtime, and N sandboxed matches played one after another. The command's
own progress lines (stderr) give the time of the matches alone, so start-up is shown apart.

Agents run in warm sandboxes (WARM_SANDBOXES, the default): loaded once, a forked copy per match.
Tic-tac-toe random against random is also played cold (WARM_SANDBOXES=false) for comparison, and
each game's matches/s is set against the in-process floor measured in the same run (the platform's
environment and the same agent called directly, no sandbox, no replay).

CPU ms/match: all the CPU time of the command, its sandboxes and their copies, per game (what
bounds matches/s on a machine shared with other work: 2 cores give at most 2000 / that).

Per-move overhead: the sandboxed random agent's p50 move time (the runner's round trip through
its process) minus the same agent's p50 call made directly in this process. The command prints
move times to 0.1 ms; the same matches (tic-tac-toe, random against random, 2 at once as the
command plays them) are also played in this process through `rlarena play`'s own arena, for the
same figure to the microsecond.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.matches import in_process
from bench.support import percentile, table

RLARENA = Path(sys.executable).parent / "rlarena"
# (game, agent A, agent B, games): random against random, then the strong house agent against it.
RUNS = (
    ("tic-tac-toe", "house:random", "house:random", 200),
    ("tic-tac-toe", "house:negamax", "house:random", 20),
    ("connect-four", "house:random", "house:random", 10),
    ("connect-four", "house:negamax", "house:random", 4),
    ("chess", "house:random", "house:random", 2),
    ("chess", "house:search", "house:random", 2),
    ("pong", "house:random", "house:random", 3),
    ("pong", "house:follower", "house:random", 3),
)
_LAST_PROGRESS = re.compile(r"^(\d+)/(\d+)  .*\(([\d.]+) s\)$", re.MULTILINE)
_MOVE_TIME = re.compile(r"^move time of ([AB]): p50 ([\d.]+) ms, p95 ([\d.]+) ms, max ([\d.]+) ms", re.MULTILINE)
_RESULTS = re.compile(r"^A: (\d+) won, (\d+) drawn, (\d+) lost$", re.MULTILINE)


# The same game cold, every agent a fresh sandbox (what `rlarena play` did before warm sandboxes).
COLD_RUNS = (("tic-tac-toe", "house:random", "house:random", 20),)


def play(game: str, agent_a: str, agent_b: str, games: int, *, warm: bool = True) -> dict[str, Any]:
    cpu_before = _children_cpu_s()
    started = time.perf_counter()
    finished = subprocess.run(
        [str(RLARENA), "play", game, agent_a, agent_b, "--games", str(games)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
        env={**os.environ, "WARM_SANDBOXES": "true" if warm else "false"},
    )
    wall = time.perf_counter() - started
    # The command, its sandboxes and their copies: every one is reaped by its parent in turn.
    cpu = _children_cpu_s() - cpu_before
    if finished.returncode != 0:
        raise RuntimeError(f"rlarena play {game} {agent_a} {agent_b} failed: {finished.stderr[-2000:]}")
    progress = _LAST_PROGRESS.findall(finished.stderr)
    matches_s = float(progress[-1][2])
    moves = {letter: [float(value) for value in rest] for letter, *rest in _MOVE_TIME.findall(finished.stdout)}
    results = _RESULTS.search(finished.stdout)
    return {
        "games": games,
        "command_s": wall,
        "matches_s": matches_s,
        "start_up_s": wall - matches_s,
        "matches_per_s": games / matches_s,
        "end_to_end_matches_per_s": games / wall,
        "cpu_ms_per_match": cpu / games * 1000,  # start-up included, spread over the games
        "move_ms_a": moves.get("A"),  # p50, p95, max
        "move_ms_b": moves.get("B"),
        "a_wins_draws_losses": [int(value) for value in results.groups()] if results else None,
        "all_ok": "ERROR 0, TIMEOUT 0, INVALID 0" in finished.stdout and "status of A: OK 0" not in finished.stdout,
    }


def precise_moves(game: str, games: int, jobs: int = 2) -> dict[str, float]:
    """A's move times to the microsecond: `games` matches of the random house agent against
    itself through the arena `rlarena play` uses (warm sandboxes, `jobs` matches at once)."""
    from concurrent.futures import ThreadPoolExecutor

    from rlarena.authoring.local_matches import local_arena
    from rlarena.config import load_settings

    with local_arena(game, "house:random", "house:random", load_settings()) as arena:
        arena.play(0, 0, a_first=True)  # loads both warm sandboxes, as the command's first game does
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            records = list(pool.map(lambda index: arena.play(index, index, a_first=index % 2 == 0), range(games)))
    times = sorted(time for record in records for time in record.move_times[0])
    return {"moves": len(times), "p50_ms": percentile(times, 0.5) * 1000, "p95_ms": percentile(times, 0.95) * 1000}


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(log: Callable[[str], None] = print) -> dict[str, Any]:
    from rlarena.house import catalogue

    results: dict[str, Any] = {"runs": [], "cold_runs": []}
    for game, agent_a, agent_b, games in RUNS:
        log(f"play: {game} {agent_a} vs {agent_b} x {games}")
        results["runs"].append({"game": game, "a": agent_a, "b": agent_b, **play(game, agent_a, agent_b, games)})
    for game, agent_a, agent_b, games in COLD_RUNS:
        log(f"play, cold: {game} {agent_a} vs {agent_b} x {games}")
        figures = play(game, agent_a, agent_b, games, warm=False)
        results["cold_runs"].append({"game": game, "a": agent_a, "b": agent_b, **figures})
    overhead = {}
    for game in dict.fromkeys(game for game, *_ in RUNS):
        code = (catalogue.lookup(game, "random").folder / "main.py").read_text()
        boxed = next(r for r in results["runs"] if r["game"] == game and r["a"] == r["b"] == "house:random")
        in_process(game, code, 1)  # the first game imports PettingZoo: not part of the floor
        direct = in_process(game, code, min(boxed["games"], 50))
        overhead[game] = {
            "agent_call_p50_ms": direct["agent_call_p50_ms"],
            "sandboxed_move_p50_ms": boxed["move_ms_a"][0],
            "overhead_p50_ms": boxed["move_ms_a"][0] - direct["agent_call_p50_ms"],
            "in_process_matches_per_s": direct["matches_per_s"],
            "ratio_to_in_process": boxed["matches_per_s"] / direct["matches_per_s"],
        }
    results["per_move_overhead"] = overhead
    log("play: tic-tac-toe house:random vs house:random x 200, in this process (move times to the microsecond)")
    precise = precise_moves("tic-tac-toe", 200)
    precise["overhead_p50_ms"] = precise["p50_ms"] - overhead["tic-tac-toe"]["agent_call_p50_ms"]
    results["precise_tic_tac_toe"] = precise
    return results


def report(results: dict[str, Any]) -> str:
    rows = [
        [
            r["game"],
            f"{r['a']} vs {r['b']}",
            r["games"],
            f"{r['matches_per_s']:.2f}",
            f"{r['start_up_s']:.2f}",
            f"{r['end_to_end_matches_per_s']:.2f}",
            f"{r['cpu_ms_per_match']:.1f}",
            " / ".join(f"{value:.1f}" for value in r["move_ms_a"]),
            "-".join(str(value) for value in r["a_wins_draws_losses"]),
        ]
        for r in results["runs"]
    ]
    headers = [
        "game",
        "agents",
        "games",
        "matches/s",
        "start-up s",
        "end to end/s",
        "CPU ms/match",
        "A move p50/p95/max ms",
        "A W-D-L",
    ]
    overhead = "; ".join(
        f"{game} {figures['overhead_p50_ms']:.2f} ms" for game, figures in results["per_move_overhead"].items()
    )
    floors = "; ".join(
        f"{game} {figures['in_process_matches_per_s']:.0f}/s (warm sandboxed at {figures['ratio_to_in_process']:.2f}x)"
        for game, figures in results["per_move_overhead"].items()
    )
    cold = "; ".join(
        f"{r['game']} {r['a']} vs {r['b']} x {r['games']}: {r['matches_per_s']:.2f} matches/s, "
        f"{r['cpu_ms_per_match']:.1f} CPU ms/match"
        for r in results.get("cold_runs", [])
    )
    precise = results.get("precise_tic_tac_toe")
    exact = (
        f"\nthe same to the microsecond (tic-tac-toe random x 200, 2 at once, in this process): A move p50 "
        f"{precise['p50_ms']:.3f} ms, p95 {precise['p95_ms']:.3f} ms; "
        f"per-move overhead p50 {precise['overhead_p50_ms']:.3f} ms"
        if precise
        else ""
    )
    return (
        "rlarena play: matches one after another in warm sandboxes (matches/s: the matches alone; "
        "end to end: the whole command)\n" + table(headers, rows) + f"\nper-move overhead p50 (sandboxed round trip "
        f"minus the direct call of the random agent): {overhead}\nin-process floor (random agents, no sandbox): "
        f"{floors}\ncold sandboxes (WARM_SANDBOXES=false): {cold}{exact}"
    )


def problems(results: dict[str, Any]) -> list[str]:
    found = [f"play: {r['game']} {r['a']} vs {r['b']}: an agent failed" for r in results["runs"] if not r["all_ok"]]
    for r in results["runs"]:
        strong = r["a"] in ("house:negamax", "house:search", "house:follower")
        if strong and r["a_wins_draws_losses"] and r["a_wins_draws_losses"][2] > 0:
            found.append(f"play: {r['game']} {r['a']} lost to {r['b']}")
    return found
