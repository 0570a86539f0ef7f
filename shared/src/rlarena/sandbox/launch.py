"""`python -I -m rlarena.sandbox.launch CONFIG -- PROGRAM ARGS...`: apply the sandbox, then exec.

The sandbox's set-up (rlimits, a network namespace, dropping to the sandbox user, no new
privileges, death with the parent) runs here, in a freshly exec'd interpreter, instead of in a
`preexec_fn` between fork and exec. Python code between fork and exec is unsafe in a process with
other threads (the executor's gRPC threads): the forked copy can deadlock or crash on a lock some
other thread held. Standard library only, and quick to start.

`python -I -m rlarena.sandbox.launch --probe netns|userns` exits 0 when that isolation works here.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import resource
import signal
import sys
from typing import Any

CLONE_NEWNET = 0x40000000
CLONE_NEWUSER = 0x10000000
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
SETUP_FAILED = 126


def _libc() -> Any:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _unshare(flags: int) -> None:
    if _libc().unshare(flags) != 0:
        raise OSError(ctypes.get_errno(), "unshare failed")


def _drop(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)


def apply(config: dict[str, Any]) -> None:
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
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
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
        apply(json.loads(argv[0]))
        os.execvp(argv[2], argv[2:])  # noqa: S606 - the sandboxed program, never a shell
    except OSError as error:
        print(f"sandbox set-up failed: {error}", file=sys.stderr)
    return SETUP_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
