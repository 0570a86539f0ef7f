"""The curated agent runtime (numpy, python-chess, onnxruntime) in the strict sandbox, for real.

Agents run on the runtime `make agent-runtime` creates (rlarena.sandbox.agent_venv), driven by the
match runner in bubblewrap with the seccomp filter, a cgroup and a pool uid, as in production:
a numpy agent, an agent reading .npz weights by a relative path, an ONNX agent whose model is
built here with the `onnx` package, a python-chess agent, and one trying to change the runtime.
The agents report what they saw on stderr, which the match result carries back.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from rlarena.adapters.builders.local import PROBE_LIMITS
from rlarena.agent_docs.interface import describe
from rlarena.environments import registry
from rlarena.executor.runner import MATCH_SUCCESS, OK, AgentSpec, MatchResult, run_match
from rlarena.sandbox import agent_venv, support
from rlarena.sandbox.process import MiB, Mount, SandboxLimits, run_sandboxed
from rlarena.sandbox.runtime_install import AgentRuntime, install_runtime
from tests.support.onnx_models import linear_policy

FIRST_LEGAL = """
def agent(observation, configuration):
    return observation["legal_actions"][0]
"""


@pytest.fixture(scope="module")
def runtime() -> AgentRuntime:
    assert not support.detect().missing, f"the strict sandbox is incomplete here: {support.detect().missing}"
    status = agent_venv.inspect(agent_venv.default_dir())
    assert status.state == "ready", status.detail
    return install_runtime(str(status.python))


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-runtime-test-"))
    folder.chmod(0o755)  # run_sandboxed hands it to a pool uid as it is
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _agent(root: Path, name: str, code: str, **files: bytes) -> AgentSpec:
    folder = root / name
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(code))
    for file_name, data in files.items():
        (folder / file_name.replace("__", ".")).write_bytes(data)
    return AgentSpec(agent_id=name, folder=folder, entry_point="main.py")


def _play(runtime: AgentRuntime, game: str, first: AgentSpec, second: AgentSpec, seed: int = 1) -> MatchResult:
    result = run_match(game, [first, second], seed=seed, runtime=runtime)
    assert result.status == MATCH_SUCCESS, result.error_message
    statuses = [(r.status, r.error_message, r.stderr[-2000:]) for r in result.agent_results]
    assert [r.status for r in result.agent_results] == [OK, OK], statuses
    return result


def _reported(stderr: str, key: str) -> object:
    """The value an agent printed as `KEY {json}` on its stderr."""
    found = re.search(rf"^{key} (.*)$", stderr, re.M)
    assert found, f"the agent did not report {key}: {stderr[-2000:]}"
    return json.loads(found.group(1))


def _first_moves(result: MatchResult, player: int) -> list[int]:
    assert result.replay is not None
    return [frame["actions"][player] for frame in result.replay["frames"] if frame["actions"][player] is not None]


def test_a_numpy_agent_plays_a_full_match_in_the_strict_sandbox(runtime: AgentRuntime, root: Path) -> None:
    numpy_agent = """
        import json, os, sys
        import numpy as np

        print("RUNTIME " + json.dumps({"numpy": np.__version__, "python": sys.executable}), file=sys.stderr)

        def agent(observation, configuration):
            board = np.asarray(observation["board"])
            mask = np.asarray(observation["action_mask"], dtype=bool)
            # Centre, then corners, then edges; the cell numbering is 3 * column + row.
            preference = np.array([3, 1, 3, 1, 4, 1, 3, 1, 3], dtype=float) + board.T.reshape(-1) * 0
            return int(np.argmax(np.where(mask, preference, -np.inf)))
    """
    result = _play(runtime, "tic-tac-toe", _agent(root, "numpy", numpy_agent), _agent(root, "plain", FIRST_LEGAL))
    reported = _reported(result.agent_results[0].stderr, "RUNTIME")
    assert reported == {"numpy": "2.4.6", "python": runtime.python}
    assert _first_moves(result, 0)[0] == 4  # numpy's argmax chose the centre
    assert result.total_steps >= 5 and result.replay is not None and result.replay["frames"][-1]["done"] is True


def test_an_agent_loads_its_npz_weights_by_relative_path(runtime: AgentRuntime, root: Path) -> None:
    weights = np.zeros(9)
    weights[[8, 6, 2]] = [9.0, 8.0, 7.0]  # the last corner first: nothing a default would pick
    packed = io.BytesIO()
    np.savez(packed, preference=weights)
    npz_agent = """
        import json, os, sys
        import numpy as np

        # A relative path: the agent's working folder is its own folder.
        PREFERENCE = np.load("weights/policy.npz")["preference"]
        here = os.path.dirname(os.path.abspath(__file__))
        print("CWD " + json.dumps({"cwd_is_own_folder": os.getcwd() == here}), file=sys.stderr)

        def agent(observation, configuration):
            mask = np.asarray(observation["action_mask"], dtype=bool)
            return int(np.argmax(np.where(mask, PREFERENCE, -np.inf)))
    """
    spec = _agent(root, "npz", npz_agent)
    (spec.folder / "weights").mkdir()
    (spec.folder / "weights" / "policy.npz").write_bytes(packed.getvalue())
    result = _play(runtime, "tic-tac-toe", spec, _agent(root, "plain", FIRST_LEGAL))
    assert _reported(result.agent_results[0].stderr, "CWD") == {"cwd_is_own_folder": True}
    # First-legal takes cells 0, 1 as player 1; the weights' order 8, 6, 2 shows in the replay.
    assert _first_moves(result, 0)[:3] == [8, 6, 2]


ONNX_AGENT = """
    import json, os, sys
    import numpy as np
    import onnxruntime as ort

    SESSION = ort.InferenceSession("policy.onnx", providers=["CPUExecutionProvider"])

    def agent(observation, configuration):
        mask = np.asarray(observation["action_mask"], dtype=np.float32).reshape(1, 9)
        (logits,) = SESSION.run(["logits"], {"mask": mask})
        options = SESSION.get_session_options()
        threads = len(os.listdir("/proc/self/task"))
        print("ONNX " + json.dumps({"logits": logits[0].tolist(), "intra": options.intra_op_num_threads,
              "inter": options.inter_op_num_threads, "threads": threads}), file=sys.stderr)
        return int(np.argmax(np.where(mask[0] > 0, logits[0], -np.inf)))
"""


def test_an_onnx_agent_plays_legal_moves_with_one_thread(runtime: AgentRuntime, root: Path) -> None:
    generator = np.random.default_rng(15)
    weights, bias = generator.normal(size=(9, 9)), generator.normal(size=9)
    spec = _agent(root, "onnx", ONNX_AGENT, policy__onnx=linear_policy(weights, bias))
    result = _play(runtime, "tic-tac-toe", spec, _agent(root, "plain", FIRST_LEGAL))
    expected_logits = np.ones(9) @ weights + bias  # the empty board: every cell legal
    reported = _reported(result.agent_results[0].stderr, "ONNX")
    assert isinstance(reported, dict)
    assert np.allclose(reported["logits"], expected_logits, atol=1e-4)
    assert _first_moves(result, 0)[0] == int(np.argmax(expected_logits))
    # The runtime's bootstrap gives onnxruntime one intra-op and one inter-op thread.
    assert (reported["intra"], reported["inter"]) == (1, 1)
    assert reported["threads"] <= 2, reported


def test_a_python_chess_agent_plays_chess(runtime: AgentRuntime, root: Path) -> None:
    chess_agent = """
        import json, sys
        import chess

        print("CHESS " + json.dumps({"version": chess.__version__}), file=sys.stderr)

        def agent(observation, configuration):
            board = chess.Board(observation["fen"])
            moves = sorted(board.legal_moves, key=lambda move: (not board.is_capture(move), move.uci()))
            uci = moves[0].uci()
            return observation["legal_actions"][observation["legal_moves"].index(uci)]
    """
    first, second = _agent(root, "white", chess_agent), _agent(root, "black", chess_agent)
    result = _play(runtime, "chess", first, second)
    assert _reported(result.agent_results[0].stderr, "CHESS") == {"version": "1.11.2"}
    assert result.total_steps > 10 and result.replay is not None and result.replay["frames"][-1]["done"] is True


def test_the_runtime_is_read_only_from_inside(runtime: AgentRuntime, root: Path) -> None:
    tamperer = """
        import errno, json, os, sys
        import numpy

        tried = {}
        targets = [os.path.join(os.path.dirname(numpy.__file__), "planted.py"), os.path.join(sys.prefix, "planted")]
        for target in targets:
            try:
                with open(target, "w") as handle:
                    handle.write("print('owned')")
                tried[target] = "written"
            except OSError as error:
                tried[target] = errno.errorcode.get(error.errno, str(error.errno))
        print("TRIED " + json.dumps(tried), file=sys.stderr)

        def agent(observation, configuration):
            return observation["legal_actions"][0]
    """
    result = _play(runtime, "tic-tac-toe", _agent(root, "tamperer", tamperer), _agent(root, "plain", FIRST_LEGAL))
    tried = _reported(result.agent_results[0].stderr, "TRIED")
    assert isinstance(tried, dict) and len(tried) == 2
    assert set(tried.values()) == {"EROFS"}, tried  # the mount is read-only, whatever the modes say
    folder = agent_venv.default_dir()
    assert not list(folder.glob("lib/python3*/site-packages/numpy/planted.py"))
    assert not (folder / "planted").exists()


def test_the_listed_versions_are_what_the_runtime_has(runtime: AgentRuntime, root: Path) -> None:
    wanted = {agent_venv.normalized(pin.name): pin.version for pin in agent_venv.wanted()}
    script = (
        "import importlib.metadata as m, json; "
        "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    )
    result = run_sandboxed([runtime.python, "-I", "-c", script], cwd=root, limits=SandboxLimits(), mounts=[Mount(root)])
    assert result.exit_code == 0 and result.strict, (result.reason, result.stderr)
    inside = {agent_venv.normalized(name): version for name, version in json.loads(result.stdout).items()}
    assert inside == wanted  # exactly the file's pins: nothing missing, nothing unlisted
    assert agent_venv.installed_versions(agent_venv.default_dir()) == wanted
    listed = describe(registry.spec_of("tic-tac-toe"))["packages"]["preinstalled"]
    assert {(entry["name"], entry["version"]) for entry in listed} == {
        (pin.name, pin.version) for pin in agent_venv.listed()
    }
    assert {entry["name"] for entry in listed} == {"numpy", "chess", "Chessnut", "onnxruntime"}


def test_a_model_near_the_upload_limit_loads_within_the_probes_limits(runtime: AgentRuntime, root: Path) -> None:
    """An ~88 MiB ONNX model (the upload limit is 100 MiB) loads and runs under the limits the
    builder's probe gives an agent (1 GiB, 30 s), well inside a game's start-up budget."""
    hidden = 4800
    generator = np.random.default_rng(7)
    first = generator.normal(size=(9, hidden)).astype(np.float32)
    second = generator.normal(size=(hidden, hidden)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "first"], ["h"]), helper.make_node("MatMul", ["h", "second"], ["y"])],
        "large",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 9])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, hidden])],
        initializer=[numpy_helper.from_array(first, "first"), numpy_helper.from_array(second, "second")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    (root / "model.onnx").write_bytes(model.SerializeToString())
    assert 80 * MiB < (root / "model.onnx").stat().st_size < 100 * MiB
    expected = float((np.ones((1, 9), np.float32) @ first @ second)[0, 0])
    script = (
        "import json, time, numpy as np, onnxruntime as ort; started = time.perf_counter(); "
        "session = ort.InferenceSession('model.onnx'); "
        "y = session.run(None, {'x': np.ones((1, 9), np.float32)})[0]; "
        "print(json.dumps({'seconds': time.perf_counter() - started, 'first': float(y[0, 0])}))"
    )
    bootstrap = f"import sys; sys.path.insert(0, {str(runtime.path)!r}); import rlarena.agent_runtime.threads as t; "
    result = run_sandboxed(
        [runtime.python, "-I", "-c", bootstrap + "t.limit(); " + script],
        cwd=root,
        limits=PROBE_LIMITS,
        mounts=[Mount(root), Mount(runtime.path)],
    )
    assert result.exit_code == 0 and result.strict, (result.reason, result.stderr[-2000:])
    loaded = json.loads(result.stdout)
    assert abs(loaded["first"] - expected) <= 1e-3 * max(1.0, abs(expected))
    spec = registry.spec_of("tic-tac-toe")
    assert loaded["seconds"] < min(spec.startup_timeout_s, PROBE_LIMITS.wall_seconds) / 5
