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
from types import ModuleType
from typing import Any

from bench import agent_runtime, cold_start, matches, matchmaking, play, ratings, read_throughput, relay, uploads, web
from bench.support import code_version, load_average, machine

OUT = Path(__file__).resolve().parent / ".out"
# Each benchmark is a module with run(log=..., **options), report(results) and problems(results); they run in
# this order, and their results go under the name with "_" for "-".
MODULES: dict[str, ModuleType] = {
    "cold-start": cold_start,
    "read-throughput": read_throughput,
    "uploads": uploads,
    "matches": matches,
    "relay": relay,
    "ratings": ratings,
    "matchmaking": matchmaking,
    "play": play,
    "agent-runtime": agent_runtime,
    "web": web,
}
BENCHMARKS = tuple(MODULES)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("which", nargs="*", metavar="|".join(BENCHMARKS), help="benchmarks to run (default: all)")
    parser.add_argument("--repeats", type=int, default=7, help="cold-start: fresh processes per target")
    parser.add_argument(
        "--database",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="cold-start: the functions' database (postgresql: a throwaway local server)",
    )
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


def _options(name: str, arguments: argparse.Namespace) -> dict[str, Any]:
    """What a benchmark takes beyond `log`, from the command line."""
    if name == "cold-start":
        return {"repeats": arguments.repeats, "database": arguments.database}
    if name == "web":
        return {"repeats": arguments.repeats}
    if name == "read-throughput":
        return {"duration": arguments.duration, "requests": arguments.requests}
    return {}


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
    for name in BENCHMARKS:
        if name not in chosen:
            continue
        module, key = MODULES[name], name.replace("-", "_")
        results[key] = module.run(log=progress, **_options(name, arguments))
        reports.append(module.report(results[key]))
        trouble += module.problems(results[key])
        results["load_average"][f"after {name.replace('-', ' ')}"] = load_average()
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
