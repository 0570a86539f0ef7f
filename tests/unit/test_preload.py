"""What a warm sandbox loads before any match (rlarena.agent_runtime.preload), run in a subprocess on
the agent runtime's interpreter, with the runtime staged and the requirements folder placed on
sys.path exactly as the sandbox's bootstrap does (`AgentRuntime.module_argv`)."""

from __future__ import annotations

import json
import shutil
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlarena.agent_runtime.preload import imported_names
from rlarena.sandbox import staging
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime

REPORT = """
import json, sys
from pathlib import Path
from rlarena.agent_runtime import preload
before = list(sys.path)
loaded = preload.trusted_libraries(Path(sys.argv[1]), "main.py")
during = list(sys.path)
preload.restore_path()
print(json.dumps({
    "loaded": loaded,
    "modules": sorted(name for name in ("numpy", "chess", "helper", "evil", "json", "antigravity")
                      if name in sys.modules),
    "during": during,
    "restored": sys.path == before,
    "conflicts": preload.conflicts(),
}))
"""


@pytest.fixture(scope="module")
def runtime() -> Iterator[AgentRuntime]:
    staged = install_runtime(agent_python(None))
    yield staged
    staging.discard(staged.path)


def preload_in(runtime: AgentRuntime, folder: Path, packages: Path | None = None) -> dict[str, Any]:
    argv = runtime.module_argv("json", packages=packages)  # the bootstrap only: its last step is replaced
    bootstrap = argv[3].rsplit("runpy.run_module", 1)[0]
    done = subprocess.run(
        [runtime.python, "-I", "-c", bootstrap + REPORT, str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=folder,
    )
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def agent(tmp_path: Path, code: str, **files: str) -> Path:
    folder = tmp_path / "agent"
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(code))
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_the_trusted_libraries_an_agent_imports_are_loaded_and_its_own_modules_are_not(
    runtime: AgentRuntime, tmp_path: Path
) -> None:
    folder = agent(
        tmp_path,
        """
        import json
        import numpy as np
        from chess import Board
        import helper, evil
        import antigravity

        def agent(observation, configuration):
            from . import relative  # never looked at: relative
            return 0
        """,
        **{"helper.py": "print('the agent ran')\n"},
    )
    packages = tmp_path / "packages"
    packages.mkdir()
    (packages / "evil.py").write_text("raise SystemExit('the requirements ran')\n")
    found = preload_in(runtime, folder, packages)
    assert found["loaded"] == ["chess", "numpy"], found
    assert found["modules"] == ["chess", "json", "numpy"], found  # not the agent's, not its requirements'
    assert str(packages) not in found["during"] and str(folder) not in found["during"], found
    assert found["restored"] is True
    assert found["conflicts"] == [], found


def test_a_name_the_agent_or_its_requirements_provide_first_is_left_to_the_copy(
    runtime: AgentRuntime, tmp_path: Path
) -> None:
    folder = agent(tmp_path, "import numpy, chess\n", **{"numpy.py": "raise SystemExit('the agent ran')\n"})
    packages = tmp_path / "packages"
    (packages / "chess").mkdir(parents=True)
    (packages / "chess" / "__init__.py").write_text("raise SystemExit('the requirements ran')\n")
    found = preload_in(runtime, folder, packages)
    assert found["loaded"] == [] and found["modules"] == ["json"], found  # json: the report's own


def test_imported_names_come_from_every_python_file_without_running_any(tmp_path: Path) -> None:
    folder = agent(
        tmp_path,
        "import os.path as p\nfrom numpy.linalg import norm\nfrom . import sibling\nraise SystemExit\n",
        **{"broken.py": "def (:\n", "more.py": "def f():\n    import onnxruntime\n", "notes.txt": "import evil\n"},
    )
    (folder / "deep").mkdir()
    (folder / "deep" / "inner.py").write_text("import chess.pgn\n")
    assert imported_names(folder) == {"os.path", "numpy.linalg", "onnxruntime", "chess.pgn"}


def test_an_unreadable_or_huge_file_is_skipped(tmp_path: Path) -> None:
    folder = agent(tmp_path, "import numpy\n")
    (folder / "big.py").write_text("import onnxruntime\n" + "#" * (3 * 1024 * 1024))
    assert imported_names(folder) == {"numpy"}
    shutil.rmtree(folder)
    assert imported_names(folder) == set()


DETECTED = """
import functools

def kaggle(obs, config):
    return obs.board.index(0) if config.columns else obs.mark

def positional(observation):
    ball_x, ball_y, *rest = observation
    return 0

def native(observation, configuration):
    observation = observation["observation"]
    return observation[0]

@functools.lru_cache(maxsize=None)
@staticmethod
def decorated(observation, configuration):
    return observation[1]

class Agent:
    def act(self, obs):
        return obs["mark"]

    async def later(self, observation):
        return observation[-1]
"""


def test_functions_of_a_file_read_whole_get_the_evidence_their_own_source_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    from rlarena.agent_runtime import detection

    monkeypatch.setattr(detection, "_FUNCTIONS", {})
    path = tmp_path / "detected.py"
    path.write_text(DETECTED)
    spec = importlib.util.spec_from_file_location("detected_for_test", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    functions = [
        module.kaggle,
        module.positional,
        module.native,
        module.decorated.__wrapped__,
        module.Agent().act,
        module.Agent().later,
    ]

    def evidence() -> list[tuple[str | None, str | None]]:
        return [(detection.kaggle_evidence(f), detection.positional_evidence(f)) for f in functions]

    from_source = evidence()
    assert from_source == [
        ("config.columns", None),
        (None, "unpacking observation"),
        (None, None),  # rebound: proves nothing
        (None, "observation[1]"),
        ('obs["mark"]', None),
        (None, "observation[-1]"),
    ]
    detection.read_file(str(path), path.read_bytes())
    assert len(detection._FUNCTIONS) == 6
    path.write_text("# the source is gone: only the whole-file reading can answer now\n")
    import linecache

    linecache.clearcache()
    assert evidence() == from_source


COMPILED_REPORT = """
import json, sys
from pathlib import Path
from rlarena.agent_runtime import preload
folder = Path(sys.argv[1])
preload.compile_agent(folder)
kept = {name: code for name, (_, _, code) in preload._COMPILED.items()}
(folder / "changed.py").write_text("VALUE = 'changed after compiling'\\n")
preload.use_compiled()
sys.path.insert(0, str(folder))
import same, changed
print(json.dumps({
    "compiled": sorted(Path(name).name for name in kept),
    "same_reused": same.CODE is kept[str(folder.resolve() / "same.py")],
    "changed": changed.VALUE,
}))
"""


def test_a_copy_imports_the_agents_files_from_the_code_compiled_once_unless_they_changed(
    runtime: AgentRuntime, tmp_path: Path
) -> None:
    folder = agent(
        tmp_path,
        "import same\n",
        **{
            "same.py": "import sys\nCODE = sys._getframe().f_code\n",
            "changed.py": "VALUE = 'as compiled'\n",
            "broken.py": "def (:\n",
        },
    )
    argv = runtime.module_argv("json")
    bootstrap = argv[3].rsplit("runpy.run_module", 1)[0]
    done = subprocess.run(
        [runtime.python, "-I", "-B", "-c", bootstrap + COMPILED_REPORT, str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert found == {
        "compiled": ["changed.py", "main.py", "same.py"],
        "same_reused": True,
        "changed": "changed after compiling",
    }


def test_the_onnx_warm_up_model_is_the_one_onnx_helper_makes() -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from rlarena.agent_runtime.preload import WARM_UP_MODEL

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["m"]),
            helper.make_node("Add", ["m", "b"], ["s"]),
            helper.make_node("Relu", ["s"], ["y"]),
        ],
        "warm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        initializer=[
            numpy_helper.from_array(np.eye(2, dtype=np.float32), "w"),
            numpy_helper.from_array(np.zeros(2, np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9, producer_name="rlarena")
    onnx.checker.check_model(model)
    assert model.SerializeToString() == WARM_UP_MODEL


WARMED_REPORT = """
import json, os, sys
from pathlib import Path
from rlarena.agent_runtime import preload
loaded = preload.trusted_libraries(Path(sys.argv[1]), "main.py")
print(json.dumps({
    "loaded": loaded,
    "companions": [name for name in ("numpy.random", "numpy.lib.format", "zipfile") if name in sys.modules],
    "threads": len(os.listdir("/proc/self/task")),
    "descriptors": sorted(int(fd) for fd in os.listdir("/proc/self/fd"))[3:],
}))
"""


def test_numpy_and_onnxruntime_are_warmed_up_without_a_thread_or_a_descriptor_left(
    runtime: AgentRuntime, tmp_path: Path
) -> None:
    folder = agent(tmp_path, "import numpy as np\nimport onnxruntime as ort\n")
    argv = runtime.module_argv("json")
    bootstrap = argv[3].rsplit("runpy.run_module", 1)[0]
    done = subprocess.run(
        [runtime.python, "-I", "-c", bootstrap + WARMED_REPORT, str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert found["loaded"] == ["numpy", "onnxruntime"], found
    assert found["companions"] == ["numpy.random", "numpy.lib.format", "zipfile"], found
    assert found["threads"] == 1, found  # onnxruntime's telemetry thread kept from starting
    assert found["descriptors"] == [3], found  # the listing's own descriptor only


def test_a_library_that_imports_what_the_agent_provides_itself_is_a_conflict(
    runtime: AgentRuntime, tmp_path: Path
) -> None:
    folder = agent(tmp_path, "import onnxruntime\n")
    packages = tmp_path / "packages"
    (packages / "numpy").mkdir(parents=True)
    (packages / "numpy" / "__init__.py").write_text("raise SystemExit('the requirements ran')\n")
    found = preload_in(runtime, folder, packages)
    assert found["loaded"] == ["onnxruntime"], found  # onnxruntime itself is the platform's
    assert found["conflicts"] == ["numpy"], found  # but it loaded the platform's numpy, not the agent's pin
