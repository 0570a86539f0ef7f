"""What the platform says about its sandbox, and how it degrades where a part is missing."""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rlarena.environments import registry
from rlarena.errors import ServiceUnavailable
from rlarena.executor.runner import OK, AgentSpec, MatchLimits, run_match
from rlarena.http.health import sandbox_state
from rlarena.sandbox import bwrap, process, seccomp_filter, support
from rlarena.sandbox.process import SandboxLimits, run_sandboxed, spawn_sandboxed
from rlarena.sandbox.runtime_install import agent_python, install_runtime

AGENT = "def agent(observation, configuration):\n    return observation['action_mask'].index(1)\n"


@pytest.fixture
def degraded(monkeypatch: pytest.MonkeyPatch) -> Iterator[support.SandboxSupport]:
    """This host as if bubblewrap and libseccomp were not installed."""
    without = dataclasses.replace(support.detect(), bwrap=None, seccomp=False)
    monkeypatch.setattr(support, "detect", lambda: without)
    yield without


def test_this_host_gives_the_strict_sandbox() -> None:
    # CI installs bubblewrap and libseccomp and runs as root: anything less is a regression.
    found = support.detect()
    if os.geteuid() != 0:  # a developer's account: exactly the parts that need root are missing
        assert found.missing == [
            "a uid of its own per sandbox (the platform is not root)",
            "writable cgroups with memory, pids and cpu controllers",
        ], found.problems
        return
    assert found.missing == [], found.problems
    assert found.describe() == "strict" and sandbox_state(use_k8s=False) == "strict"
    assert sandbox_state(use_k8s=True) == "kubernetes"


def test_a_missing_part_is_named_in_health_and_refused_in_production(
    degraded: support.SandboxSupport, caplog: pytest.LogCaptureFixture
) -> None:
    state = sandbox_state(use_k8s=False)
    assert isinstance(state, list)
    assert any("bubblewrap" in item and support.INSTALL_HINT in item for item in state)
    assert any("seccomp" in item for item in state)
    with pytest.raises(ServiceUnavailable, match="refuses to run agents' code without the strict sandbox"):
        support.announce("the executor", production=True)
    with caplog.at_level(logging.WARNING):
        support.announce("the executor", production=False)
    assert "WITHOUT the strict sandbox" in caplog.text and "bubblewrap" in caplog.text


def test_without_bubblewrap_matches_still_run_with_the_older_layers(degraded: support.SandboxSupport) -> None:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-degraded-"))
    try:
        (folder / "agent.py").write_text(AGENT)
        result = run_match(
            "tic-tac-toe",
            [AgentSpec("a", folder, "agent.py"), AgentSpec("b", folder, "agent.py")],
            seed=2,
            runtime=install_runtime(agent_python(None)),
            limits=MatchLimits.from_spec(registry.spec_of("tic-tac-toe"), startup_timeout_s=15),
        )
        assert [r.status for r in result.agent_results] == [OK, OK], [r.error_message for r in result.agent_results]
        probe = run_sandboxed(["sh", "-c", "ls /proc | grep -c '^[0-9]'"], cwd=Path("/usr"), limits=SandboxLimits())
        assert probe.exit_code == 0 and not probe.strict
        assert int(probe.stdout) > 3  # no pid namespace here: the host's processes show
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_bubblewrap_command_shows_only_what_it_is_given(tmp_path: Path) -> None:
    argv = bwrap.command(
        "/usr/bin/bwrap",
        mounts=[(tmp_path / "code", False), (tmp_path / "out", True)],
        cwd=tmp_path / "code",
        tmp_bytes=1024 * 1024,
        network=False,
        seccomp_fd=7,
    )
    text = " ".join(argv)
    for flag in ("--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert "--share-net" not in argv and argv[-1] == "--"
    assert f"--ro-bind {tmp_path / 'code'} {tmp_path / 'code'}" in text
    assert f"--bind {tmp_path / 'out'} {tmp_path / 'out'}" in text
    assert "--size 1048576 --tmpfs /tmp" in text and "--seccomp 7" in text
    # Nothing of the host beyond /usr and the system's library links.
    bound = {argv[i + 1] for i, arg in enumerate(argv) if arg in ("--ro-bind", "--bind")}
    assert bound <= {"/usr", "/etc/ld.so.cache", "/etc/localtime", str(tmp_path / "code"), str(tmp_path / "out")}
    assert "--share-net" in bwrap.command(
        "/usr/bin/bwrap", mounts=[], cwd=tmp_path, tmp_bytes=1, network=True, seccomp_fd=None
    )


def test_the_seccomp_filter_compiles_and_denies_what_it_lists() -> None:
    assert seccomp_filter.available(), "libseccomp (libseccomp2) and pyseccomp must be installed"
    program = seccomp_filter.bpf()
    assert len(program) % 8 == 0 and len(program) > 8 * len(seccomp_filter.DENIED)
    code = textwrap.dedent(
        """
        import ctypes, errno
        libc = ctypes.CDLL(None, use_errno=True)
        print(libc.unshare(0x10000000), errno.errorcode[ctypes.get_errno()])
        """
    )
    result = run_sandboxed(["/usr/bin/python3", "-I", "-c", code], cwd=Path("/usr"), limits=SandboxLimits())
    # The filter is handed to bubblewrap, which `.ci/run` installs (and the README asks for).
    assert support.detect().bwrap is not None, support.detect().problems
    assert result.stdout.split() == ["-1", "EPERM"], result.stderr


def test_favouring_cgroup_changes_keeps_the_mounts_other_options(monkeypatch: pytest.MonkeyPatch) -> None:
    from rlarena.sandbox import cgroups

    mounts = [("cgroup", Path("/sys/fs/cgroup/memory"), "rw,memory"), ("cgroup2", Path("/cg2"), "rw,nsdelegate")]
    calls: list[list[str]] = []
    monkeypatch.setattr(cgroups, "_mounts", lambda: mounts)

    def run(argv: list[str], **_: object) -> subprocess.CompletedProcess[bytes]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0)

    monkeypatch.setattr(subprocess, "run", run)
    assert cgroups.favor_dynamic_changes()
    assert calls == [["/bin/mount", "-o", "remount,nsdelegate,favordynmods", "/cg2"]]
    mounts[1] = ("cgroup2", Path("/cg2"), "rw,nsdelegate,favordynmods")
    assert cgroups.favor_dynamic_changes() and len(calls) == 1  # already on: nothing remounted
    monkeypatch.setattr(cgroups, "_mounts", lambda: mounts[:1])
    assert not cgroups.favor_dynamic_changes()  # no cgroup2 mount to set it on


# The agent: a shell that starts an escaper in a session of its own (`setsid`, out of the child's
# process group), says the escaper's pid, and never exits by itself.
ESCAPER = "setsid sleep 600 & echo $!; exec sleep 600"


def _ended_waits(monkeypatch: pytest.MonkeyPatch) -> tuple[list[int], bool, int]:
    """Spawn ESCAPER and end it: the pids end_all waited for to leave by themselves (sparing them
    from the cgroup's kill), whether the child was then dead, and the escaper's pid as the agent saw
    it (under bubblewrap, a pid of its own namespace; without it, checked to have left the child's
    session before the end)."""
    waited: list[int] = []
    real_wait = process._await_exit

    def recording(pid: int, seconds: float) -> None:
        waited.append(pid)
        real_wait(pid, seconds)

    monkeypatch.setattr(process, "_await_exit", recording)
    child = spawn_sandboxed(["sh", "-c", ESCAPER], cwd=Path("/usr"), limits=SandboxLimits(), stdin=False)
    try:
        assert child.process.stdout is not None
        escaper = int(child.process.stdout.readline())
        if not child.under_bwrap:  # it tried: the escaper runs in a session of its own
            assert _left_session(escaper, child.process.pid), "the escaper never left the child's session"
        child.end_all()
        _, status = os.waitpid(child.process.pid, 0)
        killed = child.translate(os.waitstatus_to_exitcode(status)) == -9  # bubblewrap reports 128 + 9
    finally:
        for stream in (child.process.stdout, child.process.stderr):
            if stream is not None:
                stream.close()
        child.release()
    return waited, killed, escaper


def _stat_fields(pid: int) -> list[str]:
    """/proc/<pid>/stat after the command name: state, ppid, pgrp, session, ..."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _left_session(pid: int, child: int) -> bool:
    for _ in range(200):
        if int(_stat_fields(pid)[3]) != int(_stat_fields(child)[3]):
            return True
        time.sleep(0.01)
    return False


def _gone_from_host(pid: int) -> bool:
    """No live process `pid` on the host (a dead one may linger as a zombie until init reaps it)."""
    for _ in range(200):
        try:
            state = _stat_fields(pid)[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.01)
    return False


def test_without_bubblewrap_the_end_of_a_child_does_not_wait_for_the_agent_to_leave(
    degraded: support.SandboxSupport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under bubblewrap the child is bubblewrap's outer process, spared by the cgroup's kill so that
    # it reaps its namespace and leaves; without it the child is the agent, which never leaves by
    # itself: sparing it cost 0.5 s at the end of every agent's session (1.8 matches/s, not 130).
    # The agent's escaper in a session of its own dies all the same (the cgroup's kill).
    waited, killed, escaper = _ended_waits(monkeypatch)
    assert waited == [] and killed
    assert _gone_from_host(escaper), f"the agent's escaper {escaper} outlived its session"


def test_under_bubblewrap_the_end_spares_its_outer_process_from_the_cgroups_kill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if support.detect().cgroups is None or os.geteuid() != 0:
        pytest.fail("CI runs as root with writable cgroups (test_this_host_gives_the_strict_sandbox)")
    waited, killed, _ = _ended_waits(monkeypatch)
    assert len(waited) == 1 and killed
