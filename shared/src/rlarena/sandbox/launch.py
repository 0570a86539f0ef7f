"""`python -I -S launch.py CONFIG -- PROGRAM ARGS...`: apply the sandbox's set-up, then exec.

The set-up (joining the sandbox's cgroups, rlimits, dropping root to the sandbox's pool uid, no new
privileges, death with the parent and, without bubblewrap, a network namespace) runs here, in a
freshly exec'd interpreter, instead of in a `preexec_fn` between fork and exec. Python code
between fork and exec is unsafe in a process with other threads (the executor's gRPC threads): the
forked copy can deadlock or crash on a lock some other thread held.

Every sandbox start pays for this interpreter, so it imports only built-in modules (no json, no
typing: ~15 ms less); CONFIG is `marshal` data in hex (`encode_config`).

`python -I -m rlarena.sandbox.launch --probe netns|userns` exits 0 when that isolation works here.
"""

from __future__ import annotations

import ctypes  # before the uid drop: the interpreter's library may be closed to the pool uid
import marshal
import os
import resource
import sys

TYPE_CHECKING = False  # not typing's: importing typing costs ~5 ms here (mypy reads the name)
if TYPE_CHECKING:
    from typing import Any

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SIGKILL = 9  # the signal module imports enum: ~4 ms
SETUP_FAILED = 126


def encode_config(config: dict[str, Any]) -> str:
    """CONFIG for the command line (ints, strings, lists, None)."""
    return marshal.dumps(config).hex()


def _libc() -> Any:

    # The process's own symbols include the C library's: no ctypes.util.find_library, which runs
    # ldconfig and costs ~20 ms on every sandbox start.
    return ctypes.CDLL(None, use_errno=True)


def _unshare(flags: int) -> None:
    if _libc().unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")


def _drop(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def apply(config: dict[str, Any]) -> None:
    # First, while still root: every process the sandbox ever starts is born inside its groups.
    for procs in config.get("cgroups") or []:
        with open(procs, "w") as handle:
            handle.write(str(os.getpid()))
    for which, soft, hard in config["rlimits"]:
        resource.setrlimit(which, (soft, hard))
    isolation = config.get("isolation")
    if isolation == "netns":
        _unshare(CLONE_NEWNET)
    if config.get("drop"):
        _drop(config["uid"], config["gid"])
    if isolation == "userns":
        _unshare(CLONE_NEWUSER | CLONE_NEWNET)
    libc = _libc()
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    # If the platform dies, so does the child (set after setuid, which clears it).
    libc.prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    which, soft, hard = config["address_space"]
    resource.setrlimit(which, (soft, hard))  # last: this interpreter itself needs some room


def probe(method: str, uid: int, gid: int) -> int:
    try:
        if method == "netns":
            _unshare(CLONE_NEWNET)
        else:
            if os.geteuid() == 0:
                _drop(uid, gid)
            _unshare(CLONE_NEWUSER | CLONE_NEWNET)
    except OSError:
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 4 and argv[0] == "--probe":
        return probe(argv[1], int(argv[2]), int(argv[3]))
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -I -m rlarena.sandbox.launch CONFIG -- PROGRAM ARGS...", file=sys.stderr)
        return 2
    try:
        apply(marshal.loads(bytes.fromhex(argv[0])))  # noqa: S302 - written by the platform, never by a user
        os.execvp(argv[2], argv[2:])  # noqa: S606 - the sandboxed program, never a shell
    except OSError as error:
        print(f"sandbox set-up failed: {error}", file=sys.stderr)
    return SETUP_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
