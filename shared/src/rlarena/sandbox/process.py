"""Run an untrusted command in a child process with layered limits.

Layers, each cheap and each independent of the others:

- a scrubbed environment: only what the caller passes plus a minimal PATH, HOME=cwd, LANG and two
  Python switches; nothing of the platform's own environment (database URLs, secrets) leaks;
- its own session and process group, killed as a whole with SIGKILL when the command ends or the
  wall clock runs out, so grandchildren die with it; the child itself (not its descendants) also
  gets SIGKILL if the platform process dies first (PR_SET_PDEATHSIG);
- rlimits: CPU seconds, address space, file size, open files, no core dumps and, when the child
  runs under the dedicated sandbox uid, a process count (RLIMIT_NPROC counts every process of the
  real uid system-wide and does not bind root, so it is only set when the platform is root and
  the child becomes SANDBOX_UID);
- no network when `network=False`: a fresh network namespace (even loopback is down) made with
  unshare(2) as root, or inside a new user namespace when the platform is not root and the kernel
  allows unprivileged user namespaces; where neither works the child still runs and the result
  says `network_isolated=False` (see `network_isolation_available()`);
- no_new_privs, so set-uid programs on the host cannot raise the child's privileges;
- when the platform runs as root, the child drops to SANDBOX_UID/SANDBOX_GID (nobody) with no
  supplementary groups, so it cannot read root-only files. The program and the working folder
  must then be reachable by that uid: `prepare_workdir()` hands a folder tree to it, and
  `run_sandboxed()` refuses (ServiceUnavailable) rather than falling back to root when a folder
  on the way is closed to it.

Not covered here (a container or VM is the boundary for those): totals across the child's
processes (rlimits are per process: each of up to max_processes may use memory_bytes and
cpu_seconds; no cgroup is involved), the filesystem view (the child
sees every world-readable file and can write to world-writable places like /tmp, each file capped
by RLIMIT_FSIZE but not the total), pathname UNIX sockets (a network namespace does not hide
them), other processes running as the same uid (concurrent sandboxes share SANDBOX_UID and can
signal or trace each other), and descendants that leave the process group with setsid(2) (they
keep every rlimit but escape the final SIGKILL).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from rlarena.errors import ServiceUnavailable

LAUNCHER = Path(__file__).with_name("launch.py")

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

# nobody:nogroup on Debian-family systems. Shared by every sandbox of the host, which is why the
# module docstring does not promise isolation between concurrent sandboxes.
SANDBOX_UID = 65534
SANDBOX_GID = 65534
MINIMAL_PATH = "/usr/local/bin:/usr/bin:/bin"

_READ_CHUNK = 64 * KiB
# Without a pidfd the supervisor polls for the child's exit this often.
_POLL_SECONDS = 0.05
# After the group is killed, how long to keep draining pipes that a process which escaped the
# group (setsid) may hold open; the output already in the pipes is read well within this.
_DRAIN_GRACE_SECONDS = 0.5
_READ, _EXECUTE = 0o4, 0o1


@dataclass(frozen=True)
class SandboxLimits:
    wall_seconds: float = 30
    cpu_seconds: int = 30
    memory_bytes: int = 1 * GiB  # RLIMIT_AS: address space, not resident memory
    max_file_bytes: int = 16 * MiB  # RLIMIT_FSIZE: per file written
    max_open_files: int = 256
    # RLIMIT_NPROC, set only when the child runs as SANDBOX_UID (see the module docstring). It
    # counts threads too, and every process of that uid on the host, concurrent sandboxes included.
    max_processes: int = 64
    output_cap_bytes: int = 64 * KiB  # per stream; the rest is read and dropped
    network: bool = False

    def __post_init__(self) -> None:
        numbers = {
            "wall_seconds": self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
            "memory_bytes": self.memory_bytes,
            "max_file_bytes": self.max_file_bytes,
            "max_open_files": self.max_open_files,
            "max_processes": self.max_processes,
            "output_cap_bytes": self.output_cap_bytes,
        }
        for name, value in numbers.items():
            if value <= 0:
                raise ValueError(f"SandboxLimits.{name} must be positive, got {value}")


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


def network_isolation_available() -> bool:
    """Whether `network=False` is enforced on this host; probed once per process."""
    return _isolation_method() is not None


def prepare_workdir(path: Path) -> None:
    """Hand a folder tree to the sandbox user before running commands in it.

    As root the tree is chowned to SANDBOX_UID/SANDBOX_GID; in any case the owner gets read and
    write (and search on folders) and group/other lose write. Nothing is widened for others.
    Symbolic links are never followed (an upload may contain one pointing at /etc/shadow). The
    folders above `path` must already be searchable by the sandbox user: `run_sandboxed` checks.
    """
    owner = (SANDBOX_UID, SANDBOX_GID) if os.geteuid() == 0 else None
    for _, _, names, folder_fd in os.fwalk(path):
        _hand_over(folder_fd, owner, folder=True)
        for name in names:
            entry = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
            if stat.S_ISREG(entry.st_mode):
                # Through a descriptor opened without following links: no race with a swap.
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
                file_fd = os.open(name, flags, dir_fd=folder_fd)
                try:
                    _hand_over(file_fd, owner, folder=False)
                finally:
                    os.close(file_fd)
            elif owner is not None:  # links, pipes, sockets: ownership only, the link itself
                os.chown(name, *owner, dir_fd=folder_fd, follow_symlinks=False)


def run_sandboxed(
    argv: Sequence[str],
    *,
    cwd: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None = None,
    stdin: bytes | None = None,
) -> SandboxResult:
    """Run `argv` in `cwd` under `limits` and report how it ended.

    The child's misbehaviour (crash, timeout, limit hit, garbage output) is reported in the
    result, never raised. ServiceUnavailable is raised for the platform's own problems: the
    program is missing or not executable by the sandbox user, or the limits could not be applied.
    """
    started = time.monotonic()
    child = spawn_sandboxed(argv, cwd=cwd, limits=limits, env=env, stdin=stdin is not None)
    process = child.process
    supervisor = _Supervisor(process, stdin, limits.output_cap_bytes)
    try:
        timed_out = supervisor.run(deadline=started + limits.wall_seconds)
    finally:
        cpu_used = supervisor.finish()
    elapsed = time.monotonic() - started
    returncode = process.returncode
    assert returncode is not None  # finish() reaped it
    isolated = child.network_isolated
    reason = _describe(returncode, timed_out, limits, cpu_used)
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
    )


@dataclass(frozen=True)
class SpawnedChild:
    """A child started by `spawn_sandboxed`; the caller owns its pipes and must end it with
    `kill_process_group(process.pid)` and reap it."""

    process: subprocess.Popen[bytes]
    network_isolated: bool
    uid: int


def spawn_sandboxed(
    argv: Sequence[str],
    *,
    cwd: Path,
    limits: SandboxLimits,
    env: Mapping[str, str] | None = None,
    stdin: bool = True,
) -> SpawnedChild:
    """Start `argv` with every layer of `run_sandboxed` but leave the pipes to the caller, for
    long-lived children such as an agent serving moves (`limits.wall_seconds` is not enforced
    here: the caller supervises time). stdout and stderr are pipes; stdin too when asked.

    Raises ServiceUnavailable, as `run_sandboxed` does, for the platform's own problems.
    """
    if not argv:
        raise ValueError("argv must name a program")
    workdir = Path(os.path.abspath(cwd))
    child_env = _child_environment(workdir, env)
    drop = os.geteuid() == 0
    method = None if limits.network else _isolation_method()
    if drop:
        _require_reachable(argv[0], workdir, child_env["PATH"])
    try:
        process = subprocess.Popen(  # noqa: S603 - argv is a list, never a shell line
            [*_launcher(limits, drop=drop, isolation=method), *argv],
            cwd=workdir,
            env=child_env,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as error:
        raise ServiceUnavailable(f"the sandbox could not start {argv[0]!r}: {error.strerror or error}") from error
    except subprocess.SubprocessError as error:
        raise ServiceUnavailable(
            "the sandbox could not apply its limits in the child (setrlimit, unshare or setuid failed)"
        ) from error
    return SpawnedChild(process, network_isolated=method is not None, uid=SANDBOX_UID if drop else os.getuid())


def kill_process_group(pgid: int) -> None:
    """SIGKILL every process of a sandboxed child's group (its pid is the group id); call it
    before reaping the child, so the id cannot have been reused by then."""
    _kill_group(pgid)


def _child_environment(workdir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    environment = {
        "PATH": MINIMAL_PATH,
        "HOME": str(workdir),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    environment.update(extra or {})
    return environment


def _hand_over(fd: int, owner: tuple[int, int] | None, *, folder: bool) -> None:
    if owner is not None:
        os.fchown(fd, *owner)
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    wanted = (mode | (0o700 if folder else 0o600)) & ~0o022
    if wanted != mode:
        os.fchmod(fd, wanted)


# --- what the child does between fork and exec -------------------------------------------------


@functools.cache
def _isolation_method() -> str | None:
    """How `network=False` is enforced: "netns" (root makes a plain network namespace), "userns"
    (a user namespace holding one, for an unprivileged child) or None. Tried once, in a child."""
    if os.geteuid() == 0 and _probe("netns"):
        return "netns"
    return "userns" if _probe("userns") else None


def _probe(method: str) -> bool:
    command = [
        sys.executable,
        "-I",
        "-m",
        "rlarena.sandbox.launch",
        "--probe",
        method,
        str(SANDBOX_UID),
        str(SANDBOX_GID),
    ]
    return subprocess.run(command, capture_output=True, timeout=30, check=False).returncode == 0  # noqa: S603


def _launcher(limits: SandboxLimits, *, drop: bool, isolation: str | None) -> list[str]:
    """argv prefix that applies the limits in a fresh interpreter and then execs the program
    (see rlarena.sandbox.launch: no Python runs between fork and exec, safe beside threads)."""
    early = [
        (resource.RLIMIT_CORE, 0, 0),  # a 1 GiB core file in the work folder helps nobody
        # SIGXCPU at the soft limit, SIGKILL a second later for a child that catches SIGXCPU.
        (resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1),
        (resource.RLIMIT_FSIZE, limits.max_file_bytes, limits.max_file_bytes),
        (resource.RLIMIT_NOFILE, limits.max_open_files, limits.max_open_files),
    ]
    if drop:
        early.append((resource.RLIMIT_NPROC, limits.max_processes, limits.max_processes))
    rlimits = [[which, *values] for which, values in (_within_hard_limit(*setting) for setting in early)]
    which, (soft, hard) = _within_hard_limit(resource.RLIMIT_AS, limits.memory_bytes, limits.memory_bytes)
    config = {
        "rlimits": rlimits,
        "address_space": [which, soft, hard],
        "isolation": isolation,
        "drop": drop,
        "uid": SANDBOX_UID,
        "gid": SANDBOX_GID,
    }
    # By path and without site (-S): the launcher is standard-library only, and every ms counts here.
    return [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(config), "--"]


def _within_hard_limit(which: int, soft: int, hard: int) -> tuple[int, tuple[int, int]]:
    # An unprivileged platform cannot raise a hard limit, so never ask for more than it has.
    _, current = resource.getrlimit(which)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    return which, (soft, hard)


# --- checks before starting --------------------------------------------------------------------


def _require_reachable(program: str, workdir: Path, path_variable: str) -> None:
    """Fail with a clear message, instead of a confusing child failure, when SANDBOX_UID cannot
    reach the program or the work folder (e.g. an interpreter under /root, or a 0700 parent)."""
    if os.sep in program:
        located = workdir / program
        if not located.exists():
            raise ServiceUnavailable(f"the sandbox cannot find the program {located}")
    else:
        found = shutil.which(program, path=path_variable)
        if found is None:
            raise ServiceUnavailable(f"the sandbox cannot find {program!r} on PATH={path_variable}")
        located = Path(found)
    for target, what, need in ((workdir, "working folder", _READ | _EXECUTE), (located, "program", _EXECUTE)):
        blocked = _blocked_part(target, need)
        if blocked is not None:
            raise ServiceUnavailable(
                f"the sandbox user (uid {SANDBOX_UID}) cannot reach the {what} {target}: {blocked} is "
                "closed to it. Keep the interpreter and work folders where other users can read them "
                "(not under /root or a 0700 folder), or run the platform as an unprivileged user"
            )


def require_readable_tree(path: Path, what: str) -> None:
    """ServiceUnavailable when the sandbox user could not read the folder `path` (e.g. a copy of
    the agent runtime under a 0700 folder): the platform's fault, better said before a child
    fails with ModuleNotFoundError. A no-op unless the platform is root (no uid drop otherwise)."""
    if os.geteuid() != 0:
        return
    blocked = _blocked_part(Path(os.path.abspath(path)), _READ | _EXECUTE)
    if blocked is not None:
        raise ServiceUnavailable(
            f"the sandbox user (uid {SANDBOX_UID}) cannot reach the {what} {path}: {blocked} is closed to it"
        )


def _blocked_part(path: Path, need: int) -> Path | None:
    """The first component of `path` (as written and with links resolved) that SANDBOX_UID may
    not search, or `path` itself when it lacks `need`. Mode bits only: ACLs are not consulted."""
    for candidate in dict.fromkeys((path, path.resolve())):
        chain = [*reversed(candidate.parents), candidate]
        for index, part in enumerate(chain):
            wanted = need if index == len(chain) - 1 else _EXECUTE
            try:
                info = part.stat()
            except OSError:
                return part
            if info.st_uid == SANDBOX_UID:
                bits = info.st_mode >> 6
            elif info.st_gid == SANDBOX_GID:
                bits = info.st_mode >> 3
            else:
                bits = info.st_mode
            if bits & wanted != wanted:
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

    def finish(self) -> float:
        """Kill the whole group, reap the child, drain what is left; the child's CPU seconds."""
        process = self.process
        _kill_group(process.pid)  # before reaping, so the group id cannot have been reused
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


def _describe(returncode: int, timed_out: bool, limits: SandboxLimits, cpu_used: float) -> str:
    if timed_out:
        return f"timed out after {limits.wall_seconds:g} s"
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
