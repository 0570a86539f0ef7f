"""The agent runtime's cost: a standard-library agent, a numpy agent and an ONNX agent, sandboxed.

For each agent, at tic-tac-toe, in the strict sandbox on the curated runtime (`make agent-runtime`):

- start-up: spawn to the ready frame (launcher, bubblewrap, interpreter, the agent's imports and
  its model loaded), p50 and p90 over fresh sandboxes;
- per move: the runner's p50 round trip for a move (the agent's own work included), from whole
  matches of the agent against itself;
- matches/s: those matches one after another, start-up and teardown included;
- warm matches/s: the same in warm sandboxes (rlarena.executor.warm_agents: the agent loaded once,
  a forked copy per match) after one warm-up match, and its ratio to the in-process floor: the
  platform's environment with the agent called directly in this process, no sandbox (the ONNX
  agent's floor is the numpy agent's, which computes the same MLP: onnxruntime is in the agents'
  runtime, not the platform's).

The standard-library agent is measured on the interpreter the runtime is made from too (the
"base python" row: what agents ran on before the runtime), to show what the runtime itself costs.

The ONNX agent's model is built here with the `onnx` package: a small MLP (9 -> 64 -> 64 -> 9,
ReLU), about what a tic-tac-toe policy needs; the numpy agent computes the same MLP itself.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.support import percentile, table

AGENTS = ("stdlib", "numpy", "onnx")
STARTS = 30
MATCHES = 30
WARM_MATCHES = 200
ROUNDS = 5
# The goal of issue 18 for a numpy and an ONNX agent in warm sandboxes.
WARM_GOAL = 50.0

STDLIB_AGENT = """
def agent(observation, configuration):
    return observation["legal_actions"][0]
"""

NUMPY_AGENT = """
import numpy as np

WEIGHTS = np.load("policy.npz")

def agent(observation, configuration):
    x = np.asarray(observation["board"], dtype=np.float32).reshape(1, 9)
    for layer in range(3):
        x = x @ WEIGHTS[f"w{layer}"] + WEIGHTS[f"b{layer}"]
        if layer < 2:
            x = np.maximum(x, 0)
    mask = np.asarray(observation["action_mask"], dtype=bool)
    return int(np.argmax(np.where(mask, x[0], -np.inf)))
"""

ONNX_AGENT = """
import numpy as np
import onnxruntime as ort

SESSION = ort.InferenceSession("policy.onnx", providers=["CPUExecutionProvider"])

def agent(observation, configuration):
    board = np.asarray(observation["board"], dtype=np.float32).reshape(1, 9)
    (logits,) = SESSION.run(None, {"board": board})
    mask = np.asarray(observation["action_mask"], dtype=bool)
    return int(np.argmax(np.where(mask, logits[0], -np.inf)))
"""


def _weights() -> dict[str, Any]:
    import numpy as np

    generator = np.random.default_rng(15)
    sizes = [(9, 64), (64, 64), (64, 9)]
    weights: dict[str, Any] = {}
    for layer, (rows, columns) in enumerate(sizes):
        weights[f"w{layer}"] = generator.normal(scale=0.3, size=(rows, columns)).astype(np.float32)
        weights[f"b{layer}"] = generator.normal(scale=0.1, size=columns).astype(np.float32)
    return weights


def _onnx_model(weights: dict[str, Any]) -> bytes:
    from onnx import TensorProto, helper, numpy_helper

    nodes = []
    current = "board"
    for layer in range(3):
        nodes.append(helper.make_node("MatMul", [current, f"w{layer}"], [f"m{layer}"]))
        if layer < 2:
            nodes.append(helper.make_node("Add", [f"m{layer}", f"b{layer}"], [f"s{layer}"]))
            nodes.append(helper.make_node("Relu", [f"s{layer}"], [f"a{layer}"]))
            current = f"a{layer}"
        else:
            nodes.append(helper.make_node("Add", [f"m{layer}", f"b{layer}"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "policy",
        [helper.make_tensor_value_info("board", TensorProto.FLOAT, [1, 9])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 9])],
        initializer=[numpy_helper.from_array(value, name) for name, value in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    serialized: bytes = model.SerializeToString()
    return serialized


def _agent_folders(root: Path) -> dict[str, Path]:
    import numpy as np

    weights = _weights()
    packed = io.BytesIO()
    np.savez(packed, **weights)
    files = {
        "stdlib": {"agent.py": STDLIB_AGENT.encode()},
        "numpy": {"agent.py": NUMPY_AGENT.encode(), "policy.npz": packed.getvalue()},
        "onnx": {"agent.py": ONNX_AGENT.encode(), "policy.onnx": _onnx_model(weights)},
    }
    folders = {}
    for name, contents in files.items():
        folder = root / name
        folder.mkdir(parents=True)
        for file_name, data in contents.items():
            (folder / file_name).write_bytes(data)
        folders[name] = folder
    return folders


def start_up(runtime: Any, folder: Path, starts: int) -> list[float]:
    """Seconds from spawn to ready, `starts` times, each a fresh sandbox and copy of the agent."""
    from rlarena.executor.runner import SERVE_MODULE
    from rlarena.sandbox import staging
    from rlarena.sandbox.process import Mount, SandboxLimits
    from rlarena.sandbox.session import SandboxSession

    ready: list[float] = []
    for _ in range(starts):
        code = staging.stage_copy(folder, "bench-")
        argv = runtime.module_argv(SERVE_MODULE, str(code), "agent.py", "0")
        before = time.perf_counter()
        session = SandboxSession(argv, cwd=code, limits=SandboxLimits(), mounts=[Mount(code), Mount(runtime.path)])
        try:
            frame = session.receive(timeout=30)
            ready.append(time.perf_counter() - before)
            if not isinstance(frame, dict) or not frame.get("ready"):
                raise RuntimeError(f"the agent did not start: {frame!r} {session.stderr_text()[-500:]}")
        finally:
            session.kill()
            staging.discard(code)
    return ready


def matches(runtime: Any, folder: Path, games: int, warm: Any = None) -> tuple[list[float], float, bool]:
    """`games` tic-tac-toe matches of the agent against itself, one after another: every move's
    round trip in seconds, the seconds they took, and whether every match and agent was OK."""
    from rlarena.executor.runner import AgentSpec, run_match

    agents = [AgentSpec("a", folder, "agent.py"), AgentSpec("b", folder, "agent.py")]
    move_times: list[float] = []
    statuses: list[str] = []
    started = time.perf_counter()
    for seed in range(games):
        result = run_match("tic-tac-toe", agents, seed=seed, runtime=runtime, record_replay=False, warm=warm)
        statuses += [result.status, *(agent.status for agent in result.agent_results)]
        for agent in result.agent_results:
            move_times += agent.move_times
    return move_times, time.perf_counter() - started, set(statuses) <= {"SUCCESS", "OK"}


def warm_matches(runtime: Any, folder: Path, games: int) -> tuple[list[float], float, bool, str]:
    """`matches` in warm sandboxes after one warm-up match; and why the agent played cold, if it did."""
    from rlarena.executor.warm_agents import WarmAgents

    pool = WarmAgents(memory_budget_bytes=1024 * 1024 * 1024)
    try:
        matches(runtime, folder, 1, warm=pool)  # the warm-up: both zygotes start and load the agent
        played, elapsed, fine = matches(runtime, folder, games, warm=pool)
        return played, elapsed, fine, pool.cold_reason(folder, "agent.py")
    finally:
        pool.close()


def in_process_floor(folder: Path, code: str, games: int) -> float:
    """Matches/s of the agent called directly in this process (no sandbox, no replay)."""
    from bench.matches import in_process

    here = Path.cwd()
    os.chdir(folder)  # the agent loads its model by a relative path, as in its sandbox
    try:
        return in_process("tic-tac-toe", code, games)["matches_per_s"]
    finally:
        os.chdir(here)


def run(
    log: Callable[[str], None] = print, *, starts: int = STARTS, games: int = MATCHES, rounds: int = ROUNDS
) -> dict[str, Any]:
    """Every agent in turn, `rounds` times over (a shared machine's load then weighs on all of
    them alike), `starts` start-ups and `games` matches each in all."""
    from rlarena.sandbox import agent_venv, support
    from rlarena.sandbox.runtime_install import base_python, install_runtime

    status = agent_venv.inspect(agent_venv.default_dir())
    if status.state != "ready":
        raise RuntimeError(status.detail)
    runtime = install_runtime(str(status.python))
    root = Path(tempfile.mkdtemp(prefix="rlarena-bench-runtime-"))
    try:
        folders = _agent_folders(root)
        base = install_runtime(base_python(None))
        plans = [("stdlib, base python", base, folders["stdlib"])]
        plans += [(name, runtime, folders[name]) for name in AGENTS]
        ready: dict[str, list[float]] = {name: [] for name, *_ in plans}
        moves: dict[str, list[float]] = {name: [] for name, *_ in plans}
        seconds = dict.fromkeys(ready, 0.0)
        ok = dict.fromkeys(ready, True)
        warm_seconds = dict.fromkeys(ready, 0.0)
        warm_moves: dict[str, list[float]] = {name: [] for name in ready}
        cold_reasons: dict[str, str] = dict.fromkeys(ready, "")
        floors: dict[str, float] = {}
        for round_number in range(rounds):
            log(f"agent runtime: round {round_number + 1} of {rounds}")
            for name, used, folder in plans:
                ready[name] += start_up(used, folder, max(starts // rounds, 1))
                played, elapsed, fine = matches(used, folder, max(games // rounds, 1))
                moves[name] += played
                seconds[name] += elapsed
                ok[name] = ok[name] and fine
                played, elapsed, fine, cold = warm_matches(used, folder, WARM_MATCHES // rounds)
                warm_moves[name] += played
                warm_seconds[name] += elapsed
                ok[name] = ok[name] and fine
                cold_reasons[name] = cold_reasons[name] or cold
        for name, _, folder in plans:
            floor_folder = folders["numpy"] if name == "onnx" else folder
            floor_code = NUMPY_AGENT if name in ("numpy", "onnx") else STDLIB_AGENT
            with contextlib.suppress(ImportError):
                floors[name] = in_process_floor(floor_folder, floor_code, WARM_MATCHES)
        played_games = max(games // rounds, 1) * rounds
        agents = {
            name: {
                "ready_p50_ms": percentile(sorted(ready[name]), 0.5) * 1000,
                "ready_p90_ms": percentile(sorted(ready[name]), 0.9) * 1000,
                "move_p50_ms": percentile(sorted(moves[name]), 0.5) * 1000,
                "move_p90_ms": percentile(sorted(moves[name]), 0.9) * 1000,
                "matches_per_s": played_games / seconds[name],
                "all_ok": ok[name],
                "starts": len(ready[name]),
                "games": played_games,
                "warm_matches_per_s": (WARM_MATCHES // rounds * rounds) / warm_seconds[name],
                "warm_move_p50_ms": percentile(sorted(warm_moves[name]), 0.5) * 1000,
                "warm_cold_reason": cold_reasons[name],
                "in_process_matches_per_s": floors.get(name),
                "warm_ratio_to_in_process": (WARM_MATCHES // rounds * rounds) / warm_seconds[name] / floors[name]
                if floors.get(name)
                else None,
            }
            for name in ready
        }
        return {"strict_sandbox": support.detect().strict, "runtime": status.detail, "agents": agents}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def report(results: dict[str, Any]) -> str:
    rows = [
        [
            name,
            f"{figures['ready_p50_ms']:.0f}",
            f"{figures['ready_p90_ms']:.0f}",
            f"{figures['move_p50_ms']:.2f}",
            f"{figures['move_p90_ms']:.2f}",
            f"{figures['matches_per_s']:.2f}",
            f"{figures['warm_matches_per_s']:.1f}" + (" (cold!)" if figures["warm_cold_reason"] else ""),
            f"{figures['warm_move_p50_ms']:.2f}",
            "-" if figures["warm_ratio_to_in_process"] is None else f"{figures['warm_ratio_to_in_process']:.2f}",
        ]
        for name, figures in results["agents"].items()
    ]
    headers = [
        "agent",
        "start-up p50 ms",
        "p90 ms",
        "move p50 ms",
        "move p90 ms",
        "tic-tac-toe matches/s",
        "warm matches/s",
        "warm move p50 ms",
        "warm / in-process",
    ]
    sandbox = "strict sandbox" if results["strict_sandbox"] else "sandbox WITHOUT its strict layers"
    return f"agent runtime ({results['runtime']}; {sandbox})\n" + table(headers, rows)


def problems(results: dict[str, Any]) -> list[str]:
    found = [f"agent runtime: the {name} agent failed" for name, r in results["agents"].items() if not r["all_ok"]]
    if not results["strict_sandbox"]:
        found.append("agent runtime: measured without the strict sandbox")
    for name in ("numpy", "onnx"):
        figures = results["agents"][name]
        if figures["warm_cold_reason"]:
            found.append(f"agent runtime: the {name} agent played cold: {figures['warm_cold_reason']}")
        if figures["warm_matches_per_s"] < WARM_GOAL:
            rate = figures["warm_matches_per_s"]
            found.append(f"agent runtime: the {name} agent's {rate:.1f} warm matches/s miss the goal of {WARM_GOAL:g}")
    return found
