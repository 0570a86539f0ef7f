"""`python -I -m rlarena.agent_runtime.zygote <folder> <entry_point>`: a warm runtime that forks a copy per match.

It runs inside the strict sandbox (its own uid, cgroup, seccomp filter, namespaces, read-only code)
as its pid namespace's init. It never runs the agent's code: the agent shares an interpreter with
whatever imports it, and Python is no boundary inside a process (an agent imported here could
rebind this module's functions, skip the cleaning between matches and carry what it saw into the
next match). What it prepares once is what the platform trusts:

- the runtime (`rlarena.agent_runtime`: the loader, the interface detection, the frame loop), and
- the libraries the agent's files import (read with `ast`, never run) that the agent runtime's
  interpreter provides itself: numpy, onnxruntime, python-chess, the standard library. A name the
  agent's folder or its installed requirements provide is left alone (the copy imports the agent's
  own), and the requirements are off the path while the libraries load, so none of their code
  runs here either.

For each match it forks a copy that imports the agent's module, resolves its interface for its
player and plays exactly as `rlarena.agent_runtime.serve` does. Nothing of a match reaches the
next one:

- the parent forks only from a state it checked after loading (`unclean`): one thread, no other
  process, no descriptor but its own, no writable shared memory, empty /tmp and /dev/shm, no
  System V IPC object (a library that left any of these would make the agent play cold);
- after a match the parent SIGKILLs every other process of its namespace (`kill(-1)` spares the
  init only), reaps them, and empties /tmp, /dev/shm and System V IPC: the next copy finds what
  the first one found;
- the parent is non-dumpable (no /proc/1/mem for a copy of the same uid; ptrace is denied by the
  seccomp filter anyway) and has no signal handler, so the kernel drops every signal a copy sends
  to its namespace's init, SIGKILL and SIGSTOP included;
- `random` is reseeded from the system in each copy (CPython does it at fork), numpy's global
  generator likewise, so a copy behaves as a cold start.

Control channel: fd 0 is a SOCK_SEQPACKET socket, one JSON message per packet.
    out, once loaded:  {"ok": true, "ready": true}  or  {"ok": false, "cold": "why not"}
    in:  {"type": "fork", "player": 0} with three descriptors (requests, responses, stderr)
         -> {"forked": <pid in the namespace>}
    in:  {"type": "status"}  -> {"status": <exit code, negative for a signal> or null}
    in:  {"type": "end"}     -> {"ended": true, "status": ...}  (the match's processes are gone)
Standard library only, like the rest of the runtime.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rlarena.agent_runtime import preload, serve
from rlarena.agent_runtime.loader import AgentLoadError, load_agent

USAGE = "usage: python -I -m rlarena.agent_runtime.zygote <folder> <entry_point>"
PACKET_BYTES = 64 * 1024
SCRATCH = ("/tmp", "/dev/shm")  # noqa: S108 - the sandbox's own tmpfs mounts
SYSV_IPC = {"shm": "shmctl", "msg": "msgctl", "sem": "semctl"}
PR_SET_DUMPABLE = 4
IPC_RMID = 0
_KILL_ROUNDS = 200


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=os.dup(0))
    sys.stdout.flush()
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    if len(argv) != 2:
        _send(control, {"ok": False, "cold": USAGE})
        return 2
    folder, entry_point = Path(argv[0]), argv[1]
    _libc_prctl(PR_SET_DUMPABLE, 0)
    loaded = preload.trusted_libraries(folder, entry_point)
    preload.compile_agent(folder)
    _reap_all()
    problem = unclean(control.fileno(), ", ".join(["the runtime", *loaded]))
    if not problem and preload.conflicts():
        problem = f"its own {', '.join(preload.conflicts())} would replace what loading {', '.join(loaded)} imported"
    if problem:
        _send(control, {"ok": False, "cold": problem})
        return 0
    _quiet_signals()
    _prime()
    _send(control, {"ok": True, "ready": True})
    return _serve(control, folder, entry_point)


def _serve(control: socket.socket, folder: Path, entry_point: str) -> int:
    child: int | None = None
    status: int | None = None
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, PACKET_BYTES, 3)
        except OSError:
            data, fds = b"", []
        if not data:
            return 0
        request = json.loads(data)
        kind = request.get("type")
        if kind == "fork" and len(fds) == 3 and child is None:
            child, status = _fork(control, fds, folder, entry_point, int(request.get("player", 0))), None
            _send(control, {"forked": child})
        elif kind == "status":
            if child is not None and status is None:
                status = _poll(child)
            _send(control, {"status": status})
        elif kind == "end":
            status = _end_match(child, status)
            _clean_scratch()
            child = None
            _send(control, {"ended": True, "status": status})
        else:
            for fd in fds:
                os.close(fd)
            return 2


def _fork(control: socket.socket, fds: list[int], folder: Path, entry_point: str, player: int) -> int:
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    code = 1
    try:
        control.close()
        code = _play(fds, folder, entry_point, player)
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _play(fds: list[int], folder: Path, entry_point: str, player: int) -> int:
    """The copy: from here on this process is the agent's, exactly as a cold `serve` is."""
    requests, responses, stderr = fds
    os.dup2(stderr, 2)
    os.dup2(2, 1)
    os.close(stderr)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as a fresh interpreter has it
    # The copy stays non-dumpable, as its parent is: its own /proc files are its own all the same,
    # and making it dumpable again (or raising its oom_score_adj) costs ~0.3-0.6 ms a match.
    _reseed()
    preload.restore_path()
    preload.use_compiled()
    try:
        agent = load_agent(folder, entry_point, player)
    except AgentLoadError as error:
        serve.write_frame(responses, {"ok": False, "error": error.message, "traceback": error.user_traceback})
        return 1
    except BaseException as error:
        serve.write_frame(
            responses,
            {
                "ok": False,
                "error": f"the agent could not be loaded: {type(error).__name__}: {error}",
                "traceback": traceback.format_exc(),
            },
        )
        return 1
    return serve.play(agent, requests, responses)


def _prime() -> None:
    """Do once here what every copy would do first, without any of the agent's code: the interface
    detection's first source read and parse (~6 ms), then freeze the heap so that a copy's garbage
    collector leaves the parent's pages shared (fewer copy-on-write faults)."""
    import gc
    import inspect

    from rlarena.agent_runtime import detection

    def sample(observation: Any, configuration: Any) -> Any:
        return observation["board"][0] if configuration else observation.get("step")

    detection.kaggle_evidence(sample)
    detection.positional_evidence(sample)
    inspect.signature(sample)
    serve.rehearse(16)  # the frame loop's bytecode specialised once for every copy (a stand-in agent)
    gc.collect()
    gc.freeze()


def _reseed() -> None:
    """numpy's global generator was made (and seeded) here once: every copy draws its own seed."""
    numpy_random = sys.modules.get("numpy.random")
    if numpy_random is not None:
        with contextlib.suppress(Exception):
            numpy_random.seed()


# --- is the warm state safe to copy? ---------------------------------------------------------------


def unclean(control_fd: int, loaded: str = "the runtime") -> str:
    """Why a copy of this process could carry something from one match to the next ("" if nothing);
    `loaded`: what was loaded here, for the reason."""
    checks: list[tuple[Callable[[], object], str]] = [
        (lambda: os.getpid() != 1, "not its sandbox's init (no strict sandbox)"),
        (lambda: len(os.listdir("/proc/self/task")) > 1, "started threads"),
        (lambda: [name for name in os.listdir("/proc") if name.isdigit() and name != "1"], "left processes running"),
        (lambda: _kept_descriptors(control_fd), "kept descriptors open"),
        (_shared_writable_memory, "mapped writable shared memory"),
        (_scratch_files, "wrote to /tmp or /dev/shm"),
        (lambda: any(_ipc_ids(kind) for kind in SYSV_IPC), "created System V IPC objects"),
    ]
    why = next((why for check, why in checks if check()), "")
    return f"loading {loaded} {why}" if why and not why.startswith("not ") else why


def _kept_descriptors(control_fd: int) -> list[int]:
    """The descriptors the import left open (not the standard ones, not the control socket)."""
    listing = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        names = os.listdir(listing)
    finally:
        os.close(listing)
    # The listing's own descriptors (and their duplicates made by listdir) are closed by now.
    return [int(name) for name in names if int(name) not in (0, 1, 2, control_fd) and _is_open(int(name))]


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


def _shared_writable_memory() -> bool:
    with open("/proc/self/maps") as maps:
        for line in maps:
            permissions = line.split(maxsplit=2)[1]
            if permissions[1] == "w" and permissions[3] == "s":
                return True
    return False


def _ipc_ids(kind: str) -> list[int]:
    try:
        with open(f"/proc/sysvipc/{kind}") as table:
            rows = table.read().splitlines()[1:]
    except OSError:
        return []
    return [int(row.split()[1]) for row in rows if row.split()]


def _quiet_signals() -> None:
    """No handler at all: the kernel then drops any signal a copy sends to its namespace's init."""
    for number in range(1, signal.NSIG):
        if number in (signal.SIGKILL, signal.SIGSTOP):
            continue
        with contextlib.suppress(OSError, ValueError, RuntimeError):
            ignored = number in (signal.SIGPIPE, signal.SIGXFSZ)  # as Python sets them
            signal.signal(number, signal.SIG_IGN if ignored else signal.SIG_DFL)


# --- the end of a match -----------------------------------------------------------------------------


def _poll(child: int) -> int | None:
    with contextlib.suppress(ChildProcessError):
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            return os.waitstatus_to_exitcode(status)
    return None


def _end_match(child: int | None, status: int | None) -> int | None:
    """SIGKILL every process of the namespace but this one (orphans are ours to reap as its init)."""
    for _ in range(_KILL_ROUNDS):
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        while True:
            try:
                pid, code = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            if pid == child and status is None:
                status = os.waitstatus_to_exitcode(code)
        if not [name for name in os.listdir("/proc") if name.isdigit() and name != "1"]:
            return status
        time.sleep(0.001)  # a dying process not yet reparented to us: look again
    raise RuntimeError("the match's processes would not die")  # the platform then closes this sandbox


def _reap_all() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _scratch_files() -> list[Path]:
    """What was written to /tmp and /dev/shm: everything there but the platform's mounts (the code
    and the runtime may be staged under /tmp) and the folders leading to them."""
    mounts = _mount_points()
    leading = {parent for mount in mounts for parent in mount.parents}
    found: list[Path] = []
    pending = [Path(folder) for folder in SCRATCH]
    while pending:
        folder = pending.pop()
        with contextlib.suppress(OSError):
            for name in os.listdir(folder):
                path = folder / name
                if path in mounts:
                    continue
                if path in leading and not path.is_symlink():
                    pending.append(path)
                else:
                    found.append(path)
    return found


def _mount_points() -> set[Path]:
    with open("/proc/self/mountinfo") as table:
        return {Path(line.split()[4].replace("\\040", " ")) for line in table if line.strip()}


def _clean_scratch() -> None:
    for path in _scratch_files():
        _remove(path)
    for kind, call in SYSV_IPC.items():
        ids = _ipc_ids(kind)
        if ids:
            import ctypes

            control = getattr(ctypes.CDLL(None, use_errno=True), call)
            for identifier in ids:
                if kind == "sem":
                    control(identifier, 0, IPC_RMID)
                else:
                    control(identifier, IPC_RMID, None)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for folder, _, _ in os.walk(path):
            with contextlib.suppress(OSError):
                os.chmod(folder, 0o700)  # a copy may have closed a folder to itself
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            path.unlink()


def _libc_prctl(option: int, value: int) -> None:
    import ctypes

    ctypes.CDLL(None).prctl(option, value, 0, 0, 0)


def _send(control: socket.socket, message: dict[str, Any]) -> None:
    control.send(json.dumps(message).encode("utf-8"))


if __name__ == "__main__":
    code = 1
    try:
        code = main(sys.argv[1:])
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)
