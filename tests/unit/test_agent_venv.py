"""The agent runtime's one package list, how a runtime folder is judged, and who reads the list.

The real runtime (made by `make agent-runtime`) is checked in place; stale, missing and closed
folders are made here by hand, each a copy of the real stamp with one thing wrong.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlarena.agent_docs.interface import packages_text
from rlarena.config import Settings, default_agent_runtime_dir
from rlarena.sandbox import agent_venv
from rlarena.sandbox.runtime_install import agent_python, agent_python_for, base_python
from tests.conftest import ROOT

DOCKERFILE = ROOT / "images" / "agent-base.Dockerfile"


def _fake_runtime(folder: Path, stamp: dict[str, object]) -> Path:
    (folder / "bin").mkdir(parents=True)
    (folder / "bin" / "python").symlink_to(base_python(None))
    (folder / agent_venv.STAMP).write_text(json.dumps(stamp))
    return folder


def _real_stamp() -> dict[str, object]:
    stamp = json.loads((agent_venv.default_dir() / agent_venv.STAMP).read_text())
    assert isinstance(stamp, dict)
    return stamp


def test_the_list_pins_numpy_chess_chessnut_and_onnxruntime_and_torch_only_as_an_option() -> None:
    pins = agent_venv.pins()
    assert {pin.name for pin in agent_venv.listed()} == {"numpy", "chess", "Chessnut", "onnxruntime"}
    assert all(pin.version and pin.requirement == f"{pin.name}=={pin.version}" for pin in pins)
    (torch,) = [pin for pin in pins if pin.option]
    assert torch.name == "torch" and torch.option == agent_venv.TORCH_OPTION
    assert "torch" not in {pin.name for pin in agent_venv.wanted()}
    assert "torch" in {pin.name for pin in agent_venv.wanted(torch=True)}
    assert "torch" in {pin.name for pin in agent_venv.listed(torch=True)}


def test_a_line_that_is_not_a_pin_is_refused_with_its_text() -> None:
    with pytest.raises(ValueError, match="numpy>=2"):
        agent_venv.pins("numpy>=2\n")
    assert agent_venv.pins("# a comment\n\nchess==1.0  # listed\n") == [agent_venv.Pin("chess", "1.0", True, None)]


def test_the_made_runtime_is_ready_and_agents_run_on_it() -> None:
    status = agent_venv.inspect(agent_venv.default_dir())
    assert status.state == "ready", status.detail
    assert "numpy 2.4.6" in status.detail
    assert agent_python(None) == str(agent_venv.python_of(agent_venv.default_dir()))
    assert agent_python_for(Settings()) == agent_python(None)


def test_creating_a_ready_runtime_again_changes_nothing_and_is_fast() -> None:
    folder = agent_venv.default_dir()
    before = (folder / agent_venv.STAMP).stat().st_mtime_ns
    started = time.monotonic()
    status = agent_venv.create(folder, base_python=base_python(None), report=pytest.fail)
    assert status.state == "ready"
    assert time.monotonic() - started < 1.0
    assert (folder / agent_venv.STAMP).stat().st_mtime_ns == before


def test_a_missing_runtime_says_how_to_make_it_and_agents_fall_back_to_the_base_python(tmp_path: Path) -> None:
    status = agent_venv.inspect(tmp_path / "nowhere")
    assert status.state == "missing" and not status.usable
    assert "make agent-runtime" in status.detail
    assert agent_python(None, tmp_path / "nowhere") == base_python(None)
    assert agent_python("/usr/bin/python3", tmp_path / "nowhere") == "/usr/bin/python3"
    settings = Settings(AGENT_RUNTIME_DIR=str(tmp_path / "nowhere"))
    assert settings.resolved_agent_runtime_dir == tmp_path / "nowhere"
    assert agent_python_for(settings) == base_python(None)


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder other users may enter (pytest's tmp_path is 0700, closed to pool uids)."""
    folder = Path(tempfile.mkdtemp(prefix="rlarena-agent-venv-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_runtime_made_from_another_list_is_stale_but_still_used(open_folder: Path) -> None:
    tmp_path = open_folder
    stamp = {**_real_stamp(), "packages_sha256": "0" * 64}
    folder = _fake_runtime(tmp_path / "runtime", stamp)
    status = agent_venv.inspect(folder)
    assert status.state == "stale" and status.usable
    assert "agent_packages.txt" in status.detail and "make agent-runtime" in status.detail
    assert agent_python(None, folder) == str(folder / "bin" / "python")
    # The same folder asked for with PyTorch is not what was made either.
    assert agent_venv.inspect(_fake_runtime(tmp_path / "other", _real_stamp()), torch=True).state == "stale"


def test_a_runtime_under_a_closed_folder_is_unreachable_and_not_used(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    folder = _fake_runtime(closed / "runtime", _real_stamp())
    status = agent_venv.inspect(folder)
    if os.geteuid() != 0:  # an unprivileged platform runs sandboxes as itself: nothing is closed to them
        assert status.state == "ready"
        return
    assert status.state == "unreachable" and not status.usable
    assert str(closed) in status.detail and "AGENT_RUNTIME_DIR" in status.detail
    assert agent_python(None, folder) == base_python(None)


def test_the_default_folder_is_readable_by_pool_uids_when_root() -> None:
    folder = default_agent_runtime_dir()
    if os.geteuid() == 0:
        assert folder == Path("/opt/rlarena/agent-runtime")
        for part in [*folder.parents, folder]:
            assert part.stat().st_mode & 0o005 == 0o005, part
    else:
        assert folder.is_relative_to(Path.home())


def test_every_file_of_the_runtime_is_readable_and_none_writable_by_others() -> None:
    folder = agent_venv.default_dir()
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        assert mode & 0o004, path
        assert not mode & 0o022, path


def test_the_agent_base_image_installs_the_same_list() -> None:
    text = DOCKERFILE.read_text()
    assert "COPY shared/src/rlarena/sandbox/agent_packages.txt /opt/rlarena/agent_packages.txt" in text
    assert "-r /opt/rlarena/agent_packages.txt" in text
    assert "--no-deps" in text  # the list pins every dependency, as locally
    assert "/# option: torch/d" in text  # PyTorch only on request, as AGENT_RUNTIME_TORCH locally
    assert "OMP_NUM_THREADS=1" in text and "OPENBLAS_NUM_THREADS=1" in text
    assert agent_venv.PACKAGES_FILE == ROOT / "shared/src/rlarena/sandbox/agent_packages.txt"


def test_the_documented_packages_come_from_the_list() -> None:
    text = packages_text()
    for pin in agent_venv.listed():
        assert f"{pin.name} {pin.version}" in text
    assert "standard library only" not in text


def test_make_dev_test_and_ci_make_the_runtime() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "agent-runtime: $(STAMP)" in makefile
    assert "$(BIN)/python -m rlarena.sandbox.agent_venv" in makefile
    for target in ("dev", "test", "test-integration", "test-e2e"):
        assert f"\n{target}: $(STAMP) agent-runtime" in makefile, target
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.index("make agent-runtime") < ci.index("make test")


def test_start_up_warns_when_the_runtime_is_missing_and_names_the_packages_when_ready(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="rlarena.sandbox.agent_venv"):
        assert agent_venv.announce("the executor", tmp_path / "nowhere").state == "missing"
        assert agent_venv.announce("the executor", agent_venv.default_dir()).state == "ready"
    warning, info = caplog.records
    assert warning.levelno == logging.WARNING
    assert "the executor" in warning.getMessage() and "make agent-runtime" in warning.getMessage()
    assert "standard library only" in warning.getMessage()
    assert info.levelno == logging.INFO and "numpy 2.4.6" in info.getMessage()


def test_both_bootstraps_limit_threads_before_the_agent_runs() -> None:
    from rlarena.adapters.kubernetes_pods import IMAGE_BOOTSTRAP
    from rlarena.sandbox.runtime_install import AgentRuntime

    local = AgentRuntime(python="/usr/bin/python3", path=Path("/runtime")).module_argv("m")[3]
    for bootstrap in (local, IMAGE_BOOTSTRAP):
        assert bootstrap.index("threads.limit()") < bootstrap.index("runpy.run_module")
