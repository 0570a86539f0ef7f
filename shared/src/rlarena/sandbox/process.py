"""Run an untrusted command (an agent, its probe) in a sandbox, and supervise it.

On a host that provides it (`rlarena.sandbox.support`), every child gets the **strict sandbox**:

- bubblewrap (`rlarena.sandbox.bwrap`): its own user, pid, mount, ipc, uts, cgroup and network
  namespaces; a filesystem of the system's /usr, the folders it is given (read-only unless a
  `Mount` says otherwise), a private size-capped tmpfs at /tmp and /dev/shm, a minimal /dev and
  the /proc of its own pid namespace; no capabilities, no_new_privs, no nested user namespaces;
- a uid of its own, leased from a host-wide pool for the child's life (`rlarena.sandbox.uid_pool`):
  the launcher drops root to it before it execs bubblewrap, so even the kernel's per-uid
  accounting never mixes two sandboxes;
- a control group (`rlarena.sandbox.cgroups`) capping memory, process count and CPU over all of
  the child's processes together, joined before the drop; at the end every process in it is
  killed, whatever it did (setsid, double fork, ignoring SIGTERM); the agent is its pid
  namespace's init, so when it dies the kernel kills the rest of the namespace too;
- a seccomp filter (`rlarena.sandbox.seccomp_filter`) denying what an agent never needs;
- rlimits per process (CPU seconds, address space, file size, open files, processes, no core);
- a scrubbed environment: only what the caller passes plus PATH, HOME, LANG and two Python
  switches; nothing of the platform's environment (database URLs, secrets) leaks.

Where a part is missing the child still runs with what the host has (the old layers: rlimits, a
network namespace, a pool uid when root, its own process group) and `SandboxResult.strict` says
so; `support.detect().missing` lists what is missing, and production refuses to run untrusted code
that way (`require_strict`).

Paths are the same inside and outside: a folder the child is given appears at its own path.
The set-up between fork and exec runs in a freshly exec'd launcher (`rlarena.sandbox.launch`),
never as Python in a forked copy of this multi-threaded process.
"""

from __future__ import annotations

import contextlib
import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rlarena.errors import ServiceUnavailable
from rlarena.sandbox import bwrap, support, uid_pool
from rlarena.sandbox.cgroups import CgroupLimits, SandboxGroup
from rlarena.sandbox.launch import encode_config

LAUNCHER = Path(__file__).with_name("launch.py")

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"

_READ_CHUNK = 64 * KiB
# Without a pidfd the supervisor polls for the child's exit this often.
_POLL_SECONDS = 0.05
# After the group is killed, how long to keep draining pipes that a process which escaped the
# group may hold open; the output already in the pipes is read well within this.
_DRAIN_GRACE_SECONDS = 0.5
# How long bubblewrap's outer process gets to reap the killed namespace and exit by itself.
_SPARE_EXIT_SECONDS = 0.5
_READ, _EXECUTE = 0o4, 0o1


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 30
    cpu_seconds: int = 30  # per process (RLIMIT_CPU)
    # Per process (RLIMIT_AS, address space) and, in the strict sandbox, for all of the child's
    # processes together (the cgroup: resident memory plus what it wrote to its tmpfs).
    memory_bytes: int = 1 * GiB
    max_file_bytes: int = 16 * MiB  # RLIMIT_FSIZE: per file written
    max_open_files: int = 256
    # Processes and threads: the cgroup's pids limit in the strict sandbox, and RLIMIT_NPROC for
    # the pool uid (which no other live sandbox shares).
    max_processes: int = 64
    output_cap_bytes: int = 64 * KiB  # per stream; the rest is read and dropped
    network: bool = False
    tmp_bytes: int = 64 * MiB  # the private tmpfs at /tmp (and as much again at /dev/shm)
    cpus: float = 1.0  # CPU share over all processes (a cgroup quota of cores)

    def __post_init__(self) -> None:
        numbers = {
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
            "memory_bytes": self.memory_bytes,
            "max_file_bytes": self.max_file_bytes,
            "max_open_files": self.max_open_files,
            "max_processes": self.max_processes,
            "output_cap_bytes": self.output_cap_bytes,
            "tmp_bytes": self.tmp_bytes,
            "cpus": self.cpus,
        }
        for name, value in numbers.items():
            if value <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive, got {value}")


@dataclass(frozen=True)
class Mount:
    """A host folder (or file) the child sees at the same path; read-only unless `writable`.

    A writable folder is handed to the child's pool uid for the run and taken back afterwards."""

    path: Path
    writable: bool = False


@dataclass(frozen=True)
class SandboxResult:
    exit_code: int | None  # None when a signal ended the child
    signal: int | None
    timed_out: bool
    stdout: str
    stderr: str
    stdout_truncated: bool
    stderr_truncated: bool
    wall_seconds: float
    reason: str  # for people: "exited 0", "timed out after 30 s", ...
    network_isolated: bool = False  # True only when network=False was asked for and enforced
    uid: int | None = None  # the uid the child ran as
    strict: bool = False  # whether the strict sandbox ran it
    memory_peak_bytes: int | None = None  # all of its processes together, when the cgroup tells


def network_isolation_available() -> bool:
    """Whether `network=False` is enforced on this host."""
    found = support.detect()
    return found.bwrap is not None or _isolation_method() is not None


def require_strict(what: str) -> None:
    """ServiceUnavailable unless the strict sandbox is complete here (production's rule)."""
    missing = support.detect().missing
    if missing:
        raise ServiceUnavailable(f"{what} needs the strict sandbox, which lacks: {'; '.join(missing)}")


def prepare_workdir(path: Path) -> None:
    """Make a folder tree readable, and not writable, by sandboxes: folders 0755, files keep their
    execute bits and lose group/other write, others may read. The owner does not change (root's
    trees stay root's). Symbolic links are never followed (an upload may hold one to /etc/shadow).
    The folders above `path` must be searchable by others: `spawn_sandboxed` checks."""
    for _, _, names, folder_fd in os.fwalk(path):
        _make_readable(folder_fd, folder=True)
        for name in names:
            entry = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
            if stat.S_ISREG(entry.st_mode):
                # Through a descriptor opened without following links: no race with a swap.
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
                file_fd = os.open(name, flags, dir_fd=folder_fd)
                try:
                    _make_readable(file_fd, folder=False)
                finally:
                    os.close(file_fd)


def run_sandboxed(
    argv: Sequence[str],
    *,
    cwd: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
    mounts: Sequence[Mount] = (),
) -> SandboxResult:
    """Run `argv` in `cwd` (given to the child read-only unless a writable `Mount` covers it) under
    `limits` and report how it ended.

    The child's misbehaviour (crash, timeout, limit hit, garbage output) is reported in the
    result, never raised. ServiceUnavailable is raised for the platform's own problems: the
    program is missing or not reachable by the sandbox, or the limits could not be applied.
    """
    started = time.monotonic()
    child = spawn_sandboxed(argv, cwd=cwd, limits=limits, env=env, stdin=stdin is not None, mounts=mounts)
    process = child.process
    supervisor = _Supervisor(process, stdin, limits.output_cap_bytes)
    try:
        try:
            timed_out = supervisor.run(deadline=started + limits.wall_seconds)
        finally:
            cpu_used = supervisor.finish(child.end_all)
        cpu_used = max(cpu_used, child.cpu_seconds() or 0.0)
        memory_peak, oom = child.memory_report()
    finally:
        child.release()
    elapsed = time.monotonic() - started
    returncode = process.returncode
    assert returncode is not None  # finish() reaped it
    returncode = child.translate(returncode)
    isolated = child.network_isolated
    reason = _describe(returncode, timed_out, limits, cpu_used, oom)
    if child.under_bwrap and returncode == bwrap.SETUP_FAILED and supervisor.stderr.text().startswith("bwrap:"):
        reason = "sandbox set-up failed: " + supervisor.stderr.text().strip()[:300]
    if not limits.network and not isolated:
        reason += "; network isolation unavailable"
    return SandboxResult(
        exit_code=returncode if returncode >= 0 else None,
        signal=-returncode if returncode < 0 else None,
        timed_out=timed_out,
        stdout=supervisor.stdout.text(),
        stderr=supervisor.stderr.text(),
        stdout_truncated=supervisor.stdout.truncated,
        stderr_truncated=supervisor.stderr.truncated,
        wall_seconds=elapsed,
        reason=reason,
        network_isolated=isolated,
        uid=child.uid,
        strict=child.strict,
        memory_peak_bytes=memory_peak,
    )


@dataclass
class SpawnedChild:
    """A child started by `spawn_sandboxed`. The caller owns its pipes and must, in this order,
    `end_all()`, reap the process, then `release()` (the uid, the cgroup, writable folders)."""

    process: subprocess.Popen[bytes]
    network_isolated: bool
    uid: int
    strict: bool = False
    group: SandboxGroup | None = None
    # The child is bubblewrap's outer process (not the agent itself, as on a host without it).
    under_bwrap: bool = False
    _lease: uid_pool.UidLease | None = None
    _writable: list[Path] = field(default_factory=list)
    _released: bool = False

    def end_all(self) -> None:
        """SIGKILL every process of the child: under bubblewrap first everything in its cgroup but
        bubblewrap's outer process (which then reaps the namespace's init and exits by itself,
        leaving no orphan for the host's init), then its process group, bubblewrap included; on a
        host without bubblewrap the child is the agent itself, killed with its group and cgroup at
        once (sparing it would only wait for an exit that never comes). Call it before reaping the
        child, so the group id cannot have been reused by then."""
        if self.group is not None and self.under_bwrap:
            self.group.kill(spare=self.process.pid)
            _await_exit(self.process.pid, _SPARE_EXIT_SECONDS)
        _kill_group(self.process.pid)
        if self.group is not None:
            self.group.kill()

    def translate(self, returncode: int) -> int:
        """bubblewrap reports a command killed by signal N as exit status 128 + N: as Popen would."""
        if self.under_bwrap and 128 < returncode < 128 + 65:
            return -(returncode - 128)
        return returncode

    def cpu_seconds(self) -> float | None:
        """CPU time of all its processes together (the cgroup's count; bubblewrap's own init
        does not pass its children's time up to wait4)."""
        return self.group.cpu_seconds() if self.group is not None else None

    def memory_report(self) -> tuple[int | None, bool]:
        """(peak bytes of all its processes, whether the memory limit killed one), when known."""
        if self.group is None:
            return None, False
        return self.group.memory_peak(), self.group.oom_killed()

    def release(self) -> None:
        """Remove the cgroup, take writable folders back and return the uid. Idempotent."""
        if self._released:
            return
        self._released = True
        try:
            if self.group is not None:
                self.group.kill()
                self.group.remove()
            for folder in self._writable:
                _take_back(folder)
        finally:
            if self._lease is not None:
                self._lease.release()


def spawn_sandboxed(
    argv: Sequence[str],
    *,
    cwd: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None = None,
    stdin: bool = True,
    mounts: Sequence[Mount] = (),
    control: int | None = None,
) -> SpawnedChild:
    """Start `argv` with every layer of `run_sandboxed` but leave the pipes to the caller, for
    long-lived children such as an agent serving moves (`limits.wall_seconds` is not enforced
    here: the caller supervises time). stdout and stderr are pipes; stdin too when asked.

    `control`: a descriptor (a socket) to give the child as its stdin instead of a pipe.

    Raises ServiceUnavailable, as `run_sandboxed` does, for the platform's own problems.
    """
    if not argv:
        raise ValueError("argv must name a program")
    workdir = Path(os.path.abspath(cwd))
    given = _with_workdir(mounts, workdir)
    host = support.detect()
    strict_namespaces = host.bwrap is not None
    child_env = _child_environment(workdir, env, private_home=strict_namespaces)
    program = _locate(argv[0], workdir, child_env["PATH"])
    root = os.geteuid() == 0
    if root:
        _require_reachable(program, [m.path for m in given])
    lease = uid_pool.lease() if root else None
    cleanup = SpawnedChild(
        process=None,  # type: ignore[arg-type] # set below, once started
        network_isolated=False,
        uid=lease.uid if lease else os.getuid(),
        strict=host.strict,
        under_bwrap=strict_namespaces,
        _lease=lease,
    )
    seccomp_fd: int | None = None
    try:
        if host.cgroups is not None and lease is not None:
            cleanup.group = SandboxGroup(host.cgroups, f"uid-{lease.uid}")
            cleanup.group.create(CgroupLimits(limits.memory_bytes, limits.max_processes, limits.cpus))
        for mount in given:
            if mount.writable and lease is not None:
                _hand_to(mount.path, lease.uid)
                cleanup._writable.append(mount.path)
        if strict_namespaces:
            assert host.bwrap is not None
            if host.seccomp:
                from rlarena.sandbox import seccomp_filter

                seccomp_fd = seccomp_filter.memfd()
            wrapper = bwrap.command(
                host.bwrap,
                mounts=[(m.path, m.writable) for m in given] + bwrap.interpreter_mounts(program),
                cwd=workdir,
                tmp_bytes=limits.tmp_bytes,
                network=limits.network,
                seccomp_fd=seccomp_fd,
            )
            isolation = None
            cleanup.network_isolated = not limits.network
        else:
            wrapper = []
            isolation = None if limits.network else _isolation_method()
            cleanup.network_isolated = isolation is not None
        launcher = _launcher(limits, lease=lease, isolation=isolation, cgroup=cleanup.group)
        try:
            cleanup.process = subprocess.Popen(  # noqa: S603 - argv is a list, never a shell line
                [*launcher, *wrapper, program, *argv[1:]],
                cwd=workdir,
                env=child_env,
                stdin=control if control is not None else subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
                pass_fds=(seccomp_fd,) if seccomp_fd is not None else (),
            )
        except OSError as error:
            raise ServiceUnavailable(f"the sandbox could not start {argv[0]!r}: {error.strerror or error}") from error
    except BaseException:
        cleanup.release()
        raise
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
    return cleanup


def _await_exit(pid: int, seconds: float) -> None:
    """Wait (without reaping) up to `seconds` for the child `pid` to exit."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return
        except ChildProcessError:
            return
        time.sleep(0.001)


def kill_process_group(pgid: int) -> None:
    """SIGKILL every process of a sandboxed child's group (its pid is the group id); call it
    before reaping the child, so the id cannot have been reused by then."""
    _kill_group(pgid)


def _with_workdir(mounts: Sequence[Mount], workdir: Path) -> list[Mount]:
    given = [Mount(Path(os.path.abspath(m.path)), m.writable) for m in mounts]
    if not any(workdir == m.path or workdir.is_relative_to(m.path) for m in given):
        given.append(Mount(workdir))
    return given


def _child_environment(workdir: Path, extra: Mapping[str, str] | None, *, private_home: bool) -> dict[str, str]:
    environment = {
        "PATH": MINIMAL_PATH,
        # The private /tmp is the one writable place in the strict sandbox.
        "HOME": "/tmp" if private_home else str(workdir),  # noqa: S108 - the sandbox's own tmpfs
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    environment.update(extra or {})
    return environment


def _make_readable(fd: int, *, folder: bool) -> None:
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    wanted = (mode | (0o755 if folder else 0o644)) & ~0o022
    if folder:
        wanted &= ~0o7000  # no set-id or sticky bits on a sandbox's folders
    else:
        wanted &= ~0o6000
    if wanted != mode:
        os.fchmod(fd, wanted)


def _hand_to(path: Path, uid: int) -> None:
    """Give a writable folder tree to the pool uid for one run (links: only the link itself)."""
    for _, _, names, folder_fd in os.fwalk(path):
        os.fchown(folder_fd, uid, uid)
        os.fchmod(folder_fd, 0o700)
        for name in names:
            os.chown(name, uid, uid, dir_fd=folder_fd, follow_symlinks=False)


def _take_back(path: Path) -> None:
    """Return a folder tree a sandbox could write to the platform, readable and not writable by
    others, without following the links the sandbox may have planted."""
    owner = os.geteuid()
    with contextlib.suppress(FileNotFoundError):
        for _, _, names, folder_fd in os.fwalk(path):
            os.fchown(folder_fd, owner, owner)
            _make_readable(folder_fd, folder=True)
            for name in names:
                os.chown(name, owner, owner, dir_fd=folder_fd, follow_symlinks=False)
                entry = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
                if stat.S_ISREG(entry.st_mode):
                    os.chmod(name, (stat.S_IMODE(entry.st_mode) | 0o644) & 0o755, dir_fd=folder_fd)


# --- what the child does between fork and exec -------------------------------------------------


def _isolation_method() -> str | None:
    return _isolation_method_cached()


def _probe(method: str) -> bool:
    command = [sys.executable, "-I", "-S", str(LAUNCHER), "--probe", method, "65534", "65534"]
    return subprocess.run(command, capture_output=True, timeout=30, check=False).returncode == 0  # noqa: S603


def _isolation_method_uncached() -> str | None:
    """How `network=False` is enforced without bubblewrap: "netns" (root makes a plain network
    namespace), "userns" (a user namespace holding one, for an unprivileged child) or None."""
    if os.geteuid() == 0 and _probe("netns"):
        return "netns"
    return "userns" if _probe("userns") else None


_isolation_cache: list[str | None] = []


def _isolation_method_cached() -> str | None:
    if not _isolation_cache:
        _isolation_cache.append(_isolation_method_uncached())
    return _isolation_cache[0]


def _launcher(
    limits: SandboxLimits, *, lease: uid_pool.UidLease | None, isolation: str | None, cgroup: SandboxGroup | None
) -> list[str]:
    """argv prefix that joins the cgroup, applies the limits and drops to the pool uid in a fresh
    interpreter and then execs the rest (see rlarena.sandbox.launch: no Python runs between fork
    and exec, safe beside threads)."""
    early = [
        (resource.RLIMIT_CORE, 0, 0),  # a 1 GiB core file helps nobody
        # SIGXCPU at the soft limit, SIGKILL a second later for a child that catches SIGXCPU.
        (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1),
        (resource.RLIMIT_FSIZE, limits.max_file_bytes, limits.max_file_bytes),
        (resource.RLIMIT_NOFILE, limits.max_open_files, limits.max_open_files),
    ]
    if lease is not None:
        early.append((resource.RLIMIT_NPROC, limits.max_processes, limits.max_processes))
    rlimits = [[which, *values] for which, values in (_within_hard_limit(*setting) for setting in early)]
    which, (soft, hard) = _within_hard_limit(resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes)
    config = {
        "rlimits": rlimits,
        "address_space": [which, soft, hard],
        "isolation": isolation,
        "drop": lease is not None,
        "uid": lease.uid if lease else None,
        "gid": lease.gid if lease else None,
        "cgroups": cgroup.procs_files if cgroup else [],
    }
    # By path and without site (-S): the launcher is standard-library only, and every ms counts here.
    return [sys.executable, "-I", "-S", str(LAUNCHER), encode_config(config), "--"]


def _within_hard_limit(which: int, soft: int, hard: int) -> tuple[int, tuple[int, int]]:
    # An unprivileged platform cannot raise a hard limit, so never ask for more than it has.
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    return which, (soft, hard)


# --- checks before starting --------------------------------------------------------------------


def _locate(program: str, workdir: Path, path_variable: str) -> str:
    """The program as an absolute path (bubblewrap's PATH is the child's, but a clear error
    here beats a confusing one from inside)."""
    if os.sep in program:
        located = Path(os.path.abspath(workdir / program))
        if not located.exists():
            raise ServiceUnavailable(f"the sandbox cannot find the program {located}")
        return str(located)
    found = shutil.which(program, path=path_variable)
    if found is None:
        raise ServiceUnavailable(f"the sandbox cannot find {program!r} on PATH={path_variable}")
    return found


def _require_reachable(program: str, folders: Sequence[Path]) -> None:
    """Fail with a clear message, instead of a confusing child failure, when a pool uid (which
    owns nothing and belongs to no group) cannot reach the program or a folder it is given (e.g.
    an interpreter under /root, or a folder below a 0700 parent)."""
    checks = [(folder, "folder", _READ | _EXECUTE) for folder in folders]
    checks.append((Path(program), "program", _EXECUTE))
    for target, what, need in checks:
        blocked = _blocked_part(target, need)
        if blocked is not None:
            raise ServiceUnavailable(
                f"a sandbox cannot reach the {what} {target}: {blocked} is closed to other users. Keep "
                "the interpreter and the folders given to sandboxes where other users can read them "
                "(not under /root or a 0700 folder), or run the platform as an unprivileged user"
            )


def require_readable_tree(path: Path, what: str) -> None:
    """ServiceUnavailable when a sandbox could not read the folder `path` (e.g. a copy of the agent
    runtime under a 0700 folder): the platform's fault, better said before a child fails with
    ModuleNotFoundError. A no-op unless the platform is root (no uid drop otherwise)."""
    if os.geteuid() != 0:
        return
    blocked = _blocked_part(Path(os.path.abspath(path)), _READ | _EXECUTE)
    if blocked is not None:
        raise ServiceUnavailable(f"a sandbox cannot reach the {what} {path}: {blocked} is closed to other users")


def _blocked_part(path: Path, need: int) -> Path | None:
    """The first component of `path` (as written and with links resolved) that other users may
    not search, or `path` itself when it lacks `need`. Mode bits only: ACLs are not consulted."""
    for candidate in dict.fromkeys((path, path.resolve())):
        chain = [*reversed(candidate.parents), candidate]
        for index, part in enumerate(chain):
            wanted = need if index == len(chain) - 1 else _EXECUTE
            try:
                info = part.stat()
            except OSError:
                return part
            if info.st_mode & wanted != wanted:
                return part
    return None


# --- supervising the running child -------------------------------------------------------------


class _Capture:
    """One output stream: the first `cap` bytes are kept, the rest read and dropped so the child
    never blocks on a full pipe."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.truncated = False

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        if len(chunk) > room:
            self.truncated = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class _Supervisor:
    def __init__(self, process: subprocess.Popen[bytes], stdin: bytes | None, cap: int) -> None:
        self.process = process
        self.stdout = _Capture(cap)
        self.stderr = _Capture(cap)
        self._pending = memoryview(stdin or b"")
        self._selector = selectors.DefaultSelector()
        self._pidfd: int | None = None

    def run(self, deadline: float) -> bool:
        """Pump the pipes until the child exits or the deadline passes; True when it ran out."""
        process = self.process
        assert process.stdout is not None and process.stderr is not None
        self._selector.register(process.stdout.fileno(), selectors.EVENT_READ, self.stdout)
        self._selector.register(process.stderr.fileno(), selectors.EVENT_READ, self.stderr)
        if process.stdin is not None:
            os.set_blocking(process.stdin.fileno(), False)
            self._selector.register(process.stdin.fileno(), selectors.EVENT_WRITE, "stdin")
        with contextlib.suppress(AttributeError, OSError):  # no pidfd before Linux 5.3: poll
            self._pidfd = os.pidfd_open(process.pid)
            self._selector.register(self._pidfd, selectors.EVENT_READ, "exited")
        while not self._exited():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return True
            self._pump(remaining if self._pidfd is not None else min(remaining, _POLL_SECONDS))
        return False

    def finish(self, end_all: Callable[[], None]) -> float:
        """Kill all of the child's processes, reap it, drain what is left; its CPU seconds."""
        process = self.process
        end_all()  # before reaping, so the group id cannot have been reused
        cpu_used = 0.0
        if process.returncode is None:
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            cpu_used = usage.ru_utime + usage.ru_stime
        self._close_stdin()
        if self._pidfd is not None:
            with contextlib.suppress(KeyError):
                self._selector.unregister(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        grace = time.monotonic() + _DRAIN_GRACE_SECONDS
        while self._selector.get_map() and time.monotonic() < grace:
            self._pump(grace - time.monotonic())
        self._selector.close()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
        return cpu_used

    def _exited(self) -> bool:
        # WNOWAIT: look without reaping, so the pid (and group id) stays ours until finish().
        return os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    def _pump(self, timeout: float) -> None:
        for key, _ in self._selector.select(max(timeout, 0)):
            if isinstance(key.data, _Capture):
                chunk = os.read(key.fd, _READ_CHUNK)
                if chunk:
                    key.data.add(chunk)
                else:
                    self._selector.unregister(key.fd)
            elif key.data == "stdin":
                self._feed(key.fd)

    def _feed(self, fd: int) -> None:
        try:
            written = os.write(fd, self._pending[:_READ_CHUNK])
        except BlockingIOError:
            return
        except OSError:  # the child closed its stdin or died: the rest is not wanted
            self._close_stdin()
            return
        self._pending = self._pending[written:]
        if not self._pending:
            self._close_stdin()

    def _close_stdin(self) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.closed:
            return
        with contextlib.suppress(KeyError, ValueError):
            self._selector.unregister(stdin.fileno())
        with contextlib.suppress(OSError):
            stdin.close()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


_SIGNAL_REASONS: dict[int, str] = {
    signal.SIGXCPU: "exceeded CPU time limit (SIGXCPU)",
    signal.SIGXFSZ: "exceeded the file size limit (SIGXFSZ)",
    signal.SIGKILL: "killed by SIGKILL (memory or CPU limit?)",
}


def _describe(  # noqa: PLR0911 - one answer per way a child can end
    returncode: int, timed_out: bool, limits: SandboxLimits, cpu_used: float, oom: bool = False
) -> str:
    if timed_out:
        return f"timed out after {limits.wall_seconds:g} s"
    if oom:
        ended = f"exited {returncode}" if returncode >= 0 else "killed"
        return f"{ended}; exceeded the memory limit of {limits.memory_bytes // MiB} MiB (all its processes)"
    if returncode >= 0:
        return f"exited {returncode}"
    number = -returncode
    # The hard CPU limit kills with SIGKILL a child that survives SIGXCPU; the child's own CPU
    # time tells that apart from the kernel's out-of-memory killer.
    if number == signal.SIGKILL and cpu_used >= limits.cpu_seconds:
        return "exceeded CPU time limit (killed by SIGKILL)"
    if number in _SIGNAL_REASONS:
        return _SIGNAL_REASONS[number]
    try:
        return f"killed by {signal.Signals(number).name}"
    except ValueError:
        return f"killed by signal {number}"
