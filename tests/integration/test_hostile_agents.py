"""Hostile agents against the strict sandbox, in real matches on the executor's runner.

Every attacker here plays legal moves (so a broken victim, not a broken attacker, would decide the
match) and really tries its attack: it prints one `ATTACK {json}` line to stderr saying what it did
and what it found, and each test first asserts that line is there (the attack ran) and then that
it was contained. Run as root, as CI and servers do; the strict sandbox is required here (CI
installs bubblewrap), so a missing part fails instead of skipping.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rlarena.environments import registry
from rlarena.executor.runner import ERROR, OK, AgentSpec, MatchLimits, MatchResult, run_match
from rlarena.sandbox import support, uid_pool
from rlarena.sandbox.process import MiB, SandboxLimits, run_sandboxed
from rlarena.sandbox.runtime_install import AgentRuntime, agent_python, install_runtime
from tests.support.hostile import REPORT as HOSTILE_REPORT
from tests.support.hostile import SQUAT, attack_report, live_processes_of

# The shared places an agent would leave something for the next one (the host's, outside tests).
SHARED_TEMP = ("/tmp", "/dev/shm", "/var/tmp")  # noqa: S108

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the strict sandbox's pool uids and cgroups need root")

FAST = {"move_timeout_s": 2.0, "overage_s": 2.0, "startup_timeout_s": 15.0, "match_timeout_s": 40.0}
MARKER = "VICTIM-MARKER-7f3a9c"

REPORT = (
    HOSTILE_REPORT
    + """
def first_legal(observation):
    return observation["action_mask"].index(1)
"""
)

VICTIM = f"""
SECRET = "{MARKER}"  # the code an opponent would like to read

def agent(observation, configuration):
    return observation["action_mask"].index(1)
"""


@pytest.fixture(scope="module", autouse=True)
def strict_sandbox() -> None:
    found = support.detect()
    assert found.strict, f"the strict sandbox is incomplete here: {found.missing} {found.problems}"


@pytest.fixture(scope="module")
def runtime() -> AgentRuntime:
    return install_runtime(agent_python(None))


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="rlarena-hostile-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def nothing_left_running() -> Iterator[None]:
    yield
    deadline = time.monotonic() + 5
    while (left := live_processes_of()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"sandbox processes outlived their match: {left}"


def agent_folder(root: Path, name: str, code: str) -> AgentSpec:
    folder = root / name
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(code))
    return AgentSpec(agent_id=name, folder=folder, entry_point="main.py")


def play(runtime: AgentRuntime, root: Path, attacker: str, victim: str = VICTIM, **limits: Any) -> MatchResult:
    """The victim is player 0 and moves first; the attacker strikes on its first move."""
    good = agent_folder(root, "victim", victim)
    bad = agent_folder(root, "attacker", REPORT + textwrap.dedent(attacker))
    spec = registry.spec_of("tic-tac-toe")
    return run_match(
        "tic-tac-toe", [good, bad], seed=3, runtime=runtime, limits=MatchLimits.from_spec(spec, **{**FAST, **limits})
    )


def peaceful_match(runtime: AgentRuntime, root: Path) -> MatchResult:
    """Two well-behaved agents, as another user's match would be."""
    agents = [agent_folder(root, "a", VICTIM), agent_folder(root, "b", VICTIM)]
    limits = MatchLimits.from_spec(registry.spec_of("tic-tac-toe"), **FAST)
    return run_match("tic-tac-toe", agents, seed=1, runtime=runtime, limits=limits)


def assert_fair(result: MatchResult) -> None:
    """Both agents played the whole game: the attack changed nothing of the result."""
    statuses = [(r.status, r.error_message) for r in result.agent_results]
    assert [status for status, _ in statuses] == [OK, OK], statuses
    assert result.total_steps >= 5


ONCE = """
struck = False

def agent(observation, configuration):
    global struck
    if not struck:
        struck = True
        strike()
    return first_legal(observation)
"""


def test_an_agent_cannot_kill_or_signal_its_opponent(runtime: AgentRuntime, root: Path) -> None:
    attacker = """
    import signal

    def strike():
        me = os.getpid()
        visible = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        signalled = []
        for pid in range(1, 70000):  # every pid the kernel would let us signal, not just the visible
            if pid == me:
                continue
            try:
                os.kill(pid, 0)
            except OSError:
                continue
            signalled.append(pid)
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.kill(-1, signal.SIGKILL)  # everything this uid may signal, but itself
            everyone = "sent"
        except OSError as error:
            everyone = str(error)
        report("kill", me=me, visible=visible, signalled=signalled, everyone=everyone)
    """
    result = play(runtime, root, textwrap.dedent(attacker) + ONCE)
    found = attack_report(result.agent_results[1].stderr, "kill")
    assert_fair(result)
    assert result.winner_agent_id != "attacker" or result.outcome_reason != ""
    # Its pid namespace holds itself, as its init (pid 1), and nothing of the opponent's.
    assert found["visible"] == [found["me"]] == [1], found
    assert found["signalled"] == [], found


def test_an_agent_cannot_read_its_opponents_code_environment_or_memory(runtime: AgentRuntime, root: Path) -> None:
    attacker = """
    def strike():
        me = os.getpid()
        seen, leaked = [], []
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) == me:
                continue
            seen.append(int(name))
            for part in ("environ", "cmdline", "cwd", "root", "mem", "maps"):
                path = f"/proc/{name}/{part}"
                try:
                    if part in ("cwd", "root"):
                        for entry in os.listdir(path):
                            full = os.path.join(path, entry)
                            if os.path.isfile(full):
                                with open(full, errors="replace") as handle:
                                    if MARKER in handle.read():
                                        leaked.append(full)
                    else:
                        with open(path, "rb") as handle:
                            data = handle.read(1 << 20)
                        if MARKER.encode() in data:
                            leaked.append(path)
                except OSError:
                    pass
        # Anywhere else on its filesystem (not /usr or /proc: the system and itself).
        for folder, folders, files in os.walk("/"):
            if folder == "/":
                folders[:] = [name for name in folders if name not in ("usr", "proc", "sys", "dev")]
            for file in files:
                path = os.path.join(folder, file)
                if not os.path.isfile(path):
                    continue
                try:
                    with open(path, errors="replace") as handle:
                        if MARKER in handle.read(1 << 20) and "/agent/" not in path:
                            leaked.append(path)
                except OSError:
                    pass
        report("read", seen=seen, leaked=leaked)
    """
    result = play(
        runtime, root, textwrap.dedent(attacker).replace("MARKER", f"({MARKER[:6]!r} + {MARKER[6:]!r})") + ONCE
    )
    found = attack_report(result.agent_results[1].stderr, "read")
    assert_fair(result)
    assert found["seen"] == [], found  # it is alone in its pid namespace: no opponent to look at
    assert found["leaked"] == [], found


def test_an_agent_cannot_change_another_agents_files_or_the_runtime(runtime: AgentRuntime, root: Path) -> None:
    victim_folder = root / "victim"
    attacker = f"""
    def strike():
        targets = [{str(victim_folder / "main.py")!r}, {str(runtime.path / "rlarena" / "agent_runtime" / "serve.py")!r},
                   os.path.join(sys.path[0], "rlarena", "agent_runtime", "evil.py"),
                   os.path.join(os.getcwd(), "main.py")]
        outcome = {{}}
        for target in targets:
            try:
                with open(target, "a") as handle:
                    handle.write("\\nraise SystemExit('owned')\\n")
                outcome[target] = "written"
            except OSError as error:
                outcome[target] = type(error).__name__
        report("tamper", outcome=outcome, runtime_on_path=sys.path[0])
    """
    serve = runtime.path / "rlarena" / "agent_runtime" / "serve.py"
    before = serve.read_bytes()
    result = play(runtime, root, textwrap.dedent(attacker) + ONCE)
    found = attack_report(result.agent_results[1].stderr, "tamper")
    assert_fair(result)
    assert "written" not in found["outcome"].values(), found
    assert (victim_folder / "main.py").read_text() == textwrap.dedent(VICTIM)
    assert serve.read_bytes() == before
    assert not (runtime.path / "rlarena" / "agent_runtime" / "evil.py").exists()
    # The runtime is the platform's, fresh and closed to writes by anyone else.
    info = runtime.path.stat()
    assert info.st_uid == 0 and info.st_mode & 0o022 == 0
    assert not runtime.path.name.startswith("rlarena-builds-")


def test_setsid_and_double_fork_children_die_with_the_match(runtime: AgentRuntime, root: Path) -> None:
    attacker = """
    import time

    def strike():
        escaped = []
        for _ in range(3):
            pid = os.fork()
            if pid == 0:
                os.setsid()
                if os.fork() == 0:  # the grandchild: no parent, own session, ignores SIGTERM, burns CPU
                    import signal
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    signal.signal(signal.SIGHUP, signal.SIG_IGN)
                    while True:
                        pass
                os._exit(0)
            os.waitpid(pid, 0)
            escaped.append(pid)
        report("escape", escaped=escaped)
    """
    started = time.monotonic()
    result = play(runtime, root, textwrap.dedent(attacker) + ONCE)
    found = attack_report(result.agent_results[1].stderr, "escape")
    assert_fair(result)
    assert len(found["escaped"]) == 3
    assert time.monotonic() - started < 30
    # nothing_left_running (autouse) asserts no process of any pool uid survived the match.


def test_a_process_squat_holds_only_its_own_quota_and_dies_with_its_sandbox(runtime: AgentRuntime, root: Path) -> None:
    """The old platform's per-uid process limit was shared host-wide: children parked by one agent
    made another user's sandbox fail to start ("[Errno 11]"). Now each sandbox has its own uid and
    pids cgroup; a second match played while the squatter holds everything it can get runs fine."""
    squatter = (
        "def strike():\n"
        + textwrap.indent(SQUAT, "    ")
        + "    time.sleep(3)  # hold them while the other match plays\n"
    )
    import threading

    outcome: dict[str, MatchResult] = {}
    thread = threading.Thread(
        target=lambda: outcome.update(
            squat=play(runtime, root, textwrap.dedent(squatter) + ONCE, move_timeout_s=6.0, overage_s=0.1)
        )
    )
    thread.start()
    deadline = time.monotonic() + 15
    while len(live_processes_of()) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    squatting = len(live_processes_of())
    other_root = root / "other"
    other_root.mkdir()
    other = peaceful_match(runtime, other_root)
    thread.join(60)
    found = attack_report(outcome["squat"].agent_results[1].stderr, "squat")
    assert squatting >= 40, "the squat never built up"
    assert [r.status for r in other.agent_results] == [OK, OK], [r.error_message for r in other.agent_results]
    # The cgroup stopped it at its own limit (64 tasks, its threads and init included).
    assert 0 < found["children"] < 64 and "Resource temporarily unavailable" in found["error"], found


def test_memory_spread_over_children_is_capped_for_the_whole_sandbox(tmp_path: Path) -> None:
    """Four children of 150 MiB each under a 256 MiB limit: the cgroup holds all of them to it."""
    code = textwrap.dedent(
        """
        import os, sys, time
        for i in range(4):
            if os.fork() == 0:
                block = bytearray(150 * 1024 * 1024)
                for offset in range(0, len(block), 4096):
                    block[offset] = 1
                print(f"child {i} holds 150 MiB", flush=True)
                time.sleep(30)
                os._exit(0)
        print("ATTACK spread", flush=True)
        time.sleep(3)
        """
    )
    limits = SandboxLimits(wall_seconds=10, memory_bytes=256 * MiB)
    result = run_sandboxed(["/usr/bin/python3", "-I", "-c", code], cwd=Path("/usr"), limits=limits)
    assert "ATTACK spread" in result.stdout, result.stderr
    assert result.strict
    assert result.memory_peak_bytes is not None and result.memory_peak_bytes <= 256 * MiB


def test_files_left_in_tmp_and_dev_shm_never_reach_the_next_match(runtime: AgentRuntime, root: Path) -> None:
    writer = """
    def strike():
        wrote = []
        for folder in ("/tmp", "/dev/shm", "/var/tmp"):
            try:
                with open(os.path.join(folder, "left-for-the-next-match"), "w") as handle:
                    handle.write("secret note")
                wrote.append(folder)
            except OSError:
                pass
        report("leave", wrote=wrote, tmp_size=os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize)
    """
    reader = """
    def strike():
        found = []
        # Its own code and the runtime are mounted below /tmp, at the paths they have on the host.
        import rlarena.agent_runtime as runtime
        mine = (os.path.dirname(os.getcwd()), runtime.__file__.rsplit("/rlarena/", 1)[0])
        for top in ("/tmp", "/dev/shm", "/var/tmp"):
            for folder, _, files in os.walk(top):
                found += [os.path.join(folder, name) for name in files if not folder.startswith(mine)]
        report("find", found=found)
    """
    first = play(runtime, root, textwrap.dedent(writer) + ONCE)
    left = attack_report(first.agent_results[1].stderr, "leave")
    assert set(left["wrote"]) == set(SHARED_TEMP[:2]), left  # /var/tmp does not exist in the sandbox
    assert left["tmp_size"] <= 64 * MiB  # a private, size-capped tmpfs
    second_root = root / "second"
    second_root.mkdir()
    second = play(runtime, second_root, textwrap.dedent(reader) + ONCE)
    assert attack_report(second.agent_results[1].stderr, "find")["found"] == []
    assert_fair(first)
    assert_fair(second)
    for folder in SHARED_TEMP:
        assert not (Path(folder) / "left-for-the-next-match").exists()


def test_the_kernel_interfaces_an_agent_never_needs_are_closed(runtime: AgentRuntime, root: Path) -> None:
    attacker = """
    import ctypes, errno

    def strike():
        libc = ctypes.CDLL(None, use_errno=True)
        tried = {}
        def attempt(name, call):
            ctypes.set_errno(0)
            tried[name] = "succeeded" if call() == 0 else errno.errorcode.get(ctypes.get_errno(), "?")
        attempt("unshare(user)", lambda: libc.unshare(0x10000000))
        attempt("unshare(mount)", lambda: libc.unshare(0x00020000))
        attempt("ptrace(traceme)", lambda: libc.ptrace(0, 0, None, None))
        attempt("ptrace(attach 1)", lambda: libc.ptrace(16, 1, None, None))
        attempt("mount(tmpfs)", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
        attempt("keyctl", lambda: libc.syscall(250, 0, 0, 0, 0, 0))
        attempt("bpf", lambda: libc.syscall(321, 0, 0, 0))
        attempt("perf_event_open", lambda: libc.syscall(298, 0, 0, -1, -1, 0))
        attempt("process_vm_readv", lambda: libc.syscall(310, 1, 0, 0, 0, 0, 0))
        attempt("setuid(0)", lambda: libc.setuid(0))
        try:
            with open("/sys/fs/cgroup/cgroup.procs", "w") as handle:
                handle.write(str(os.getpid()))
            tried["leave the cgroup"] = "succeeded"
        except OSError as error:
            tried["leave the cgroup"] = type(error).__name__
        status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
        report("kernel", tried=tried, uid=os.getuid(), cap_eff=status["CapEff"].strip(),
               no_new_privs=status["NoNewPrivs"].strip(), seccomp=status["Seccomp"].strip(),
               datadir=os.path.exists("/root") or os.path.exists("/home") or os.path.exists("/var"))
    """
    victim = REPORT + "\nimport os\nreport('uid', uid=os.getuid())\n" + VICTIM
    result = play(runtime, root, textwrap.dedent(attacker) + ONCE, victim=victim)
    found = attack_report(result.agent_results[1].stderr, "kernel")
    assert_fair(result)
    assert "succeeded" not in found["tried"].values(), found
    assert found["cap_eff"] == "0000000000000000" and found["no_new_privs"] == "1" and found["seccomp"] == "2"
    assert found["datadir"] is False  # no /root, /home or /var in its view
    victim_uid = attack_report(result.agent_results[0].stderr, "uid")["uid"]
    assert uid_pool.in_pool(found["uid"]) and uid_pool.in_pool(victim_uid) and found["uid"] != victim_uid


def test_a_huge_error_text_is_capped(runtime: AgentRuntime, root: Path) -> None:
    attacker = """
    def agent(observation, configuration):
        report("shout")
        raise RuntimeError("A" * 300_000)
    """
    result = play(runtime, root, attacker)
    attack_report(result.agent_results[1].stderr, "shout")
    bad = result.agent_results[1]
    assert bad.status == ERROR and "AAAA" in bad.error_message
    assert len(bad.error_message) <= 10_000 and len(bad.stderr) <= 10_100


def test_a_hijacked_runtime_path_is_never_used(root: Path) -> None:
    """The old platform installed the runtime at a predictable /tmp path, reused it if it existed
    and chmod-ed files there following links. Pre-create that path with a trojan: a new platform
    process never looks at it."""
    import hashlib

    marker = root / "trojan-ran"
    data_dir = Path(".data").resolve()
    tag = hashlib.sha256(str(data_dir).encode()).hexdigest()[:10]
    trap = Path(tempfile.gettempdir()) / f"rlarena-builds-{tag}" / "runtime" / "rlarena" / "agent_runtime"
    trap.mkdir(parents=True, exist_ok=True)
    trojan = f"open({str(marker)!r}, 'w').write('ran')\n"
    try:
        (trap / "serve.py").write_text(trojan)
        (trap.parent.parent / "link").symlink_to("/etc/shadow")
        fresh = install_runtime(agent_python(None))
        assert not fresh.path.is_relative_to(trap.parent.parent.parent)
        assert (fresh.path / "rlarena" / "agent_runtime" / "serve.py").read_text() != trojan
        shadow = Path("/etc/shadow").stat()
        assert_fair(peaceful_match(fresh, root))
        assert not marker.exists()
        assert Path("/etc/shadow").stat().st_mode == shadow.st_mode
    finally:
        shutil.rmtree(trap.parent.parent.parent, ignore_errors=True)
