"""The sandbox with real child processes: limits, output capture, cleanup of the whole process
group, a scrubbed environment, no network, an unprivileged uid, and the agent probe run in it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rlarena.errors import ServiceUnavailable
from rlarena.sandbox import support, uid_pool
from rlarena.sandbox.process import (
    MiB,
    Mount,
    SandboxLimits,
    SandboxResult,
    network_isolation_available,
    prepare_workdir,
    run_sandboxed,
)
from tests.conftest import ROOT
from tests.support.hostile import live_processes_of

FAST = SandboxLimits(wall_seconds=10, cpu_seconds=10)
IS_ROOT = os.geteuid() == 0


@dataclass(frozen=True)
class Python:
    """An interpreter the sandbox user can run, and how to make `rlarena` importable in it."""

    executable: str
    env: dict[str, str] = field(default_factory=dict)
    isolated: bool = True  # whether `-I` still finds rlarena (it ignores PYTHONPATH)
    mounts: tuple[Mount, ...] = ()  # what the sandbox must be given for rlarena to import

    def run(
        self, code: str, cwd: Path, limits: SandboxLimits = FAST, *, writable: bool = False, **env: str
    ) -> SandboxResult:
        mounts = [*self.mounts, Mount(cwd, writable=writable)]
        argv = [self.executable, "-c", textwrap.dedent(code)]
        return run_sandboxed(argv, cwd=cwd, limits=limits, env={**self.env, **env}, mounts=mounts)


def reachable_folder() -> Path:
    # pytest's tmp_path sits under a 0700 folder of root's, closed to the sandbox user.
    folder = Path(tempfile.mkdtemp(prefix="rlarena-sandbox-test-"))
    prepare_workdir(folder)
    return folder


@pytest.fixture
def workdir() -> Iterator[Path]:
    folder = reachable_folder()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def python() -> Iterator[Python]:
    """This interpreter when the sandbox user can run it; else (root, with the interpreter under
    /root as on a pyenv machine) the system's python3 with the source tree on PYTHONPATH."""
    folder = reachable_folder()
    candidates = [Python(sys.executable)]
    system = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin")
    if system:
        source = ROOT / "shared" / "src"
        candidates.append(Python(system, {"PYTHONPATH": str(source)}, isolated=False, mounts=(Mount(source),)))
    try:
        for candidate in candidates:
            try:
                probe = run_sandboxed(
                    [candidate.executable, "-c", "import rlarena.agent_runtime.loader"],
                    cwd=folder,
                    limits=FAST,
                    env=candidate.env,
                    mounts=candidate.mounts,
                )
            except ServiceUnavailable:
                continue
            if probe.exit_code == 0:
                yield candidate
                return
        pytest.skip("no Python interpreter the sandbox user can run")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_exit_code_and_both_streams_are_captured(workdir: Path) -> None:
    result = run_sandboxed(["sh", "-c", "echo out; echo err >&2; exit 3"], cwd=workdir, limits=FAST)
    assert (result.exit_code, result.signal, result.timed_out) == (3, None, False)
    assert (result.stdout, result.stderr, result.reason) == ("out\n", "err\n", "exited 3")
    assert not result.stdout_truncated and not result.stderr_truncated
    assert result.wall_seconds < 5


def test_stdin_is_fed_and_a_child_that_ignores_it_does_not_hang(workdir: Path) -> None:
    echoed = run_sandboxed(["cat"], cwd=workdir, limits=FAST, stdin=b"hello\n")
    assert echoed.stdout == "hello\n"
    ignored = run_sandboxed(["sh", "-c", "exit 0"], cwd=workdir, limits=FAST, stdin=b"x" * (4 * MiB))
    assert ignored.exit_code == 0


def test_ten_megabytes_of_output_are_capped_without_blocking_the_child(python: Python, workdir: Path) -> None:
    limits = SandboxLimits(wall_seconds=10, output_cap_bytes=64 * 1024)
    result = python.run("import sys; sys.stdout.write('x' * 10_000_000); sys.stderr.write('é')", workdir, limits)
    assert result.exit_code == 0 and not result.timed_out
    assert result.stdout == "x" * 65536 and result.stdout_truncated
    assert result.stderr == "é" and not result.stderr_truncated


def test_the_wall_clock_kills_the_child_and_its_grandchildren(workdir: Path) -> None:
    limits = SandboxLimits(wall_seconds=1)
    started = time.monotonic()
    result = run_sandboxed(["sh", "-c", "sleep 100 & echo $!; sleep 100"], cwd=workdir, limits=limits)
    assert time.monotonic() - started < 5
    assert result.timed_out and result.signal == signal.SIGKILL and result.exit_code is None
    assert result.reason == "timed out after 1 s"
    assert_gone(result, int(result.stdout.split()[0]))


def test_grandchildren_die_when_the_child_exits_normally(workdir: Path) -> None:
    result = run_sandboxed(["sh", "-c", "sleep 100 >/dev/null 2>&1 & echo $!"], cwd=workdir, limits=FAST)
    assert result.exit_code == 0 and not result.timed_out
    assert_gone(result, int(result.stdout))


def assert_gone(result: SandboxResult, pid: int) -> None:
    """The child's grandchild `pid` (as the child saw it) no longer runs. In a pid namespace that
    number means nothing outside, but the pool uid is the sandbox's alone: none of its processes
    may be left."""
    if support.detect().bwrap is None or result.uid is None or not uid_pool.in_pool(result.uid):
        assert_dead(pid)
        return
    deadline = time.monotonic() + 3
    while (alive := live_processes_of({result.uid})) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive, f"processes of uid {result.uid} outlived the sandbox: {alive}"


def assert_dead(pid: int) -> None:
    # Orphans are re-parented to PID 1, which may be slow to reap them: a zombie is dead too.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.02)
    pytest.fail(f"process {pid} outlived the sandbox")


def test_allocating_past_the_memory_limit_fails(python: Python, workdir: Path) -> None:
    limits = SandboxLimits(wall_seconds=10, memory_bytes=256 * MiB)
    result = python.run("data = bytearray(2 * 1024 ** 3)\nprint('allocated')", workdir, limits)
    assert result.exit_code != 0 and "allocated" not in result.stdout
    assert "MemoryError" in result.stderr or result.signal == signal.SIGKILL


def test_a_busy_loop_is_stopped_by_the_cpu_limit_well_before_the_wall_clock(python: Python, workdir: Path) -> None:
    limits = SandboxLimits(wall_seconds=20, cpu_seconds=1)
    result = python.run("while True:\n    pass", workdir, limits)
    assert not result.timed_out and result.wall_seconds < 5
    assert result.signal in (signal.SIGXCPU, signal.SIGKILL)
    assert "CPU time limit" in result.reason


def test_a_child_that_ignores_sigxcpu_is_killed_at_the_hard_limit(python: Python, workdir: Path) -> None:
    limits = SandboxLimits(wall_seconds=20, cpu_seconds=1)
    result = python.run(
        "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True:\n    pass", workdir, limits
    )
    assert result.signal == signal.SIGKILL and not result.timed_out
    assert result.reason == "exceeded CPU time limit (killed by SIGKILL)"


def test_writing_past_the_file_size_limit_fails(python: Python, workdir: Path) -> None:
    limits = SandboxLimits(wall_seconds=10, max_file_bytes=1 * MiB)
    result = python.run("open('big.bin', 'wb').write(b'x' * (2 * 1024 * 1024))", workdir, limits, writable=True)
    assert result.exit_code != 0
    assert "File too large" in result.stderr
    assert (workdir / "big.bin").stat().st_size <= 1 * MiB
    # Programs that do not ignore SIGXFSZ, unlike Python, are killed by it.
    killed = run_sandboxed(
        ["sh", "-c", "head -c 2000000 /dev/zero > big2.bin"],
        cwd=workdir,
        limits=limits,
        mounts=[Mount(workdir, writable=True)],
    )
    assert killed.exit_code != 0


def test_the_environment_is_scrubbed(python: Python, workdir: Path) -> None:
    os.environ["RLARENA_TEST_SECRET"] = "hunter2"
    result = python.run("import json, os; print(json.dumps(dict(os.environ)))", workdir, PASSED="yes")
    environment = json.loads(result.stdout)
    assert "RLARENA_TEST_SECRET" not in environment and "hunter2" not in result.stdout
    # HOME is the private /tmp in the strict sandbox (its one writable place), else the work folder.
    home = "/tmp" if support.detect().bwrap else str(workdir)  # noqa: S108
    assert environment["PASSED"] == "yes" and environment["HOME"] == home
    assert environment["LANG"] == "C.UTF-8" and environment["PYTHONUNBUFFERED"] == "1"
    assert set(environment) - set(python.env) <= {
        "PATH", "HOME", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PASSED", "LC_CTYPE", "PWD",
    }  # fmt: skip


def test_open_files_are_limited(python: Python, workdir: Path) -> None:
    limits = SandboxLimits(wall_seconds=10, max_open_files=32)
    result = python.run("handles = [open('/dev/null') for _ in range(100)]", workdir, limits)
    assert result.exit_code != 0 and "Too many open files" in result.stderr


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


CONNECT = """
    import socket, sys
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
        print("connected")
    except OSError as error:
        print("refused", error)
"""


@pytest.mark.skipif(not network_isolation_available(), reason="this kernel does not allow network namespaces")
def test_without_network_even_loopback_is_unreachable(python: Python, workdir: Path, listener: int) -> None:
    isolated = python.run(CONNECT.format(port=listener), workdir)
    assert isolated.stdout.startswith("refused") and isolated.network_isolated
    assert "network isolation" not in isolated.reason
    allowed = python.run(CONNECT.format(port=listener), workdir, SandboxLimits(wall_seconds=10, network=True))
    assert allowed.stdout.startswith("connected") and not allowed.network_isolated


@pytest.mark.skipif(not IS_ROOT, reason="privileges are only dropped when the platform runs as root")
def test_as_root_the_child_runs_as_a_pool_uid_of_its_own(workdir: Path) -> None:
    secret = workdir / "root-only.txt"
    secret.write_text("secret")
    secret.chmod(0o600)
    assert secret.stat().st_uid == 0
    result = run_sandboxed(["sh", "-c", "id -u; id -G; cat root-only.txt"], cwd=workdir, limits=FAST)
    uid, groups = result.stdout.split()[:2]
    assert result.uid is not None and int(uid) == result.uid and uid_pool.in_pool(result.uid)
    assert "0" not in groups.split(",")
    assert result.exit_code != 0 and "Permission denied" in result.stderr and "secret" not in result.stdout
    # The work folder is read-only unless given writable; then it is the child's for the run only.
    refused = run_sandboxed(["sh", "-c", "echo hi > made.txt"], cwd=workdir, limits=FAST)
    assert refused.exit_code != 0 and not (workdir / "made.txt").exists()
    wrote = run_sandboxed(
        ["sh", "-c", "echo hi > made.txt; id -u"], cwd=workdir, limits=FAST, mounts=[Mount(workdir, writable=True)]
    )
    assert wrote.exit_code == 0 and uid_pool.in_pool(int(wrote.stdout.split()[0]))
    made = (workdir / "made.txt").stat()
    assert made.st_uid == 0 and made.st_mode & 0o022 == 0  # taken back, not writable by others


@pytest.mark.skipif(not IS_ROOT, reason="only a root platform checks what the sandbox user can reach")
def test_a_work_folder_the_sandbox_user_cannot_reach_is_refused_not_run_as_root(tmp_path: Path) -> None:
    closed = Path(tempfile.mkdtemp(prefix="rlarena-closed-"))  # 0700, owned by root
    try:
        inner = closed / "work"
        inner.mkdir()
        prepare_workdir(inner)
        with pytest.raises(ServiceUnavailable, match=f"{closed} is closed to other users"):
            run_sandboxed(["true"], cwd=inner, limits=FAST)
    finally:
        shutil.rmtree(closed)


def test_a_missing_program_is_the_platforms_error(workdir: Path) -> None:
    with pytest.raises(ServiceUnavailable, match="cannot"):
        run_sandboxed(["no-such-program-rlarena"], cwd=workdir, limits=FAST)
    with pytest.raises(ServiceUnavailable, match="cannot"):
        run_sandboxed([str(workdir / "missing")], cwd=workdir, limits=FAST)


def test_prepare_workdir_does_not_follow_links_out_of_the_tree(workdir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("platform file")
    outside.chmod(0o600)
    (workdir / "sub").mkdir()
    (workdir / "sub" / "code.py").write_text("x = 1\n")
    (workdir / "sub" / "code.py").chmod(0o000)
    (workdir / "link").symlink_to(outside)
    prepare_workdir(workdir)
    assert outside.stat().st_uid == os.geteuid() and oct(outside.stat().st_mode & 0o777) == "0o600"
    # Readable by sandboxes, writable only by the platform, which keeps owning it.
    code = (workdir / "sub" / "code.py").stat()
    assert oct(code.st_mode & 0o777) == "0o644" and code.st_uid == os.geteuid()
    assert oct((workdir / "sub").stat().st_mode & 0o777) == "0o755"


GOOD_AGENT = """
print("loading weights")  # must not reach the report on stdout

class PongAgent:
    def act(self, observation):
        return 1
"""

BAD_AGENT = """
import helpers_for_probe

def agent(observation, configuration):
    return 0
"""

BAD_HELPER = """
def load():
    raise FileNotFoundError("weights.bin")

load()
"""


def run_probe(python: Python, folder: Path, entry_point: str) -> SandboxResult:
    flags = ["-I"] if python.isolated else []
    argv = [python.executable, *flags, "-m", "rlarena.agent_runtime.probe", str(folder), entry_point]
    return run_sandboxed(argv, cwd=folder, limits=FAST, env=python.env, mounts=python.mounts)


def test_the_probe_reports_a_loadable_agent_on_one_json_line(python: Python, workdir: Path) -> None:
    (workdir / "pong_agent.py").write_text(GOOD_AGENT)
    prepare_workdir(workdir)
    result = run_probe(python, workdir, "pong_agent.py")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "ok": True, "interface": "single class", "method": "act", "target": "PongAgent().act", "layer": "native",
    }  # fmt: skip
    assert result.stdout.count("\n") == 1
    assert "loading weights" in result.stderr


def test_the_probe_reports_an_import_failure_with_the_users_traceback(python: Python, workdir: Path) -> None:
    (workdir / "agent.py").write_text(BAD_AGENT)
    (workdir / "helpers_for_probe.py").write_text(BAD_HELPER)
    prepare_workdir(workdir)
    result = run_probe(python, workdir, "agent.py")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert report["error"] == "importing agent.py failed: FileNotFoundError: weights.bin"
    trace = report["traceback"]
    assert f'File "{workdir / "agent.py"}", line 2, in <module>' in trace
    assert 'helpers_for_probe.py", line 3, in load' in trace
    assert "agent_runtime" not in trace


def test_the_probe_reports_a_missing_interface(python: Python, workdir: Path) -> None:
    (workdir / "agent.py").write_text("WEIGHTS = [1, 2, 3]\n")
    prepare_workdir(workdir)
    report = json.loads(run_probe(python, workdir, "agent.py").stdout)
    assert report["ok"] is False and "create_agent" in report["error"] and report["traceback"] == ""
