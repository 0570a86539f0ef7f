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
