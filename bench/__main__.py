"""Run the benchmarks, print their tables and write bench/.out/results.json.

python -m bench                    # everything (what `make bench` runs)
python -m bench cold-start         # one of them
python -m bench read-throughput --duration 5
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import agent_runtime, cold_start, matches, matchmaking, play, ratings, read_throughput, relay, uploads, web
from bench.support import code_version, load_average, machine

OUT = Path(__file__).resolve().parent / ".out"
BENCHMARKS = (
    "cold-start",
    "read-throughput",
    "uploads",
    "matches",
    "relay",
    "ratings",
    "matchmaking",
    "play",
    "agent-runtime",
    "web",
)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", metavar="|".join(BENCHMARKS), help="benchmarks to run (default: all)")
    parser.add_argument("--repeats", type=int, default=7, help="cold-start: fresh processes per target")
    parser.add_argument("--duration", type=float, default=15.0, help="read-throughput: seconds per endpoint")
    parser.add_argument("--requests", type=int, default=5000, help="read-throughput: requests per endpoint")
    parser.add_argument("--out", type=Path, default=OUT / "results.json", help="where the JSON goes")
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.which if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}: choose from {', '.join(BENCHMARKS)}")
    if arguments.repeats < 1 or arguments.duration <= 0 or arguments.requests < 1:
        parser.error("--repeats, --duration and --requests must be positive")
    return arguments


def progress(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def finite(value: Any) -> Any:
    """JSON has no NaN: write null instead."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [finite(item) for item in value]
    return value


def print_code(code: dict[str, Any]) -> None:
    changed = code["uncommitted_changes"]
    if changed:
        listed = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
        print(f"code: {code['commit']} plus uncommitted changes to {listed}\n")
    else:
        print(f"code: {code['commit']}\n")


def main(argv: list[str]) -> int:
    arguments = parse(argv)
    chosen = arguments.which or list(BENCHMARKS)
    results: dict[str, Any] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code_version(),
        "load_average": {"start": load_average()},
    }
    reports = []
    trouble: list[str] = []
    began = time.perf_counter()
    if "cold-start" in chosen:
        results["cold_start"] = cold_start.run(repeats=arguments.repeats, log=progress)
        reports.append(cold_start.report(results["cold_start"]))
        trouble += cold_start.problems(results["cold_start"])
        results["load_average"]["after cold start"] = load_average()
    if "read-throughput" in chosen:
        results["read_throughput"] = read_throughput.run(
            duration=arguments.duration, requests=arguments.requests, log=progress
        )
        reports.append(read_throughput.report(results["read_throughput"]))
        trouble += read_throughput.problems(results["read_throughput"])
        results["load_average"]["after read throughput"] = load_average()
    if "uploads" in chosen:
        results["uploads"] = uploads.run(log=progress)
        reports.append(uploads.report(results["uploads"]))
        trouble += uploads.problems(results["uploads"])
        results["load_average"]["after uploads"] = load_average()
    if "matches" in chosen:
        results["matches"] = matches.run(log=progress)
        reports.append(matches.report(results["matches"]))
        trouble += matches.problems(results["matches"])
        results["load_average"]["after matches"] = load_average()
    if "relay" in chosen:
        results["relay"] = relay.run(log=progress)
        reports.append(relay.report(results["relay"]))
        trouble += relay.problems(results["relay"])
        results["load_average"]["after relay"] = load_average()
    if "ratings" in chosen:
        results["ratings"] = ratings.run(log=progress)
        reports.append(ratings.report(results["ratings"]))
        trouble += ratings.problems(results["ratings"])
        results["load_average"]["after ratings"] = load_average()
    if "matchmaking" in chosen:
        results["matchmaking"] = matchmaking.run(log=progress)
        reports.append(matchmaking.report(results["matchmaking"]))
        trouble += matchmaking.problems(results["matchmaking"])
        results["load_average"]["after matchmaking"] = load_average()
    if "play" in chosen:
        results["play"] = play.run(log=progress)
        reports.append(play.report(results["play"]))
        trouble += play.problems(results["play"])
        results["load_average"]["after play"] = load_average()
    if "agent-runtime" in chosen:
        results["agent_runtime"] = agent_runtime.run(log=progress)
        reports.append(agent_runtime.report(results["agent_runtime"]))
        trouble += agent_runtime.problems(results["agent_runtime"])
        results["load_average"]["after agent runtime"] = load_average()
    if "web" in chosen:
        results["web"] = web.run(repeats=arguments.repeats, log=progress)
        reports.append(web.report(results["web"]))
        trouble += web.problems(results["web"])
        results["load_average"]["after web"] = load_average()
    results["wall_time_s"] = time.perf_counter() - began
    results["problems"] = trouble
    host = results["machine"]
    print(
        f"\nRL Arena benchmarks, {results['measured_at']}: {host['cpus']} CPUs ({host['cpu_model']}), "
        f"{host['memory_gib']} GiB, Linux {host['kernel']}, Python {host['python']}"
    )
    loads = "; ".join(f"{when}: {value}" for when, value in results["load_average"].items())
    print(f"load average (1/5/15 min; other work on the machine skews the figures): {loads}\n")
    print_code(results["code"])
    print("\n\n".join(reports))
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(finite(results), indent=2, default=str) + "\n")
    print(f"\n{results['wall_time_s']:.0f} s in all; JSON written to {arguments.out}")
    if trouble:
        print("\nPROBLEMS:\n" + "\n".join(f"  - {line}" for line in trouble))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
