"""A uid of its own for every live sandbox, leased host-wide.

Each uid of the pool (POOL_BASE .. POOL_BASE + POOL_SIZE - 1, far above real users and the usual
subordinate-id ranges) has a lock file in a root-only folder; a lease is an exclusive `flock` on
it, held by the platform process for the sandbox's life. Locks work across every platform process
on the host (API, executor, tests) and vanish with a process that dies, so a crash never leaks a
uid. Leases rotate through the pool, so a uid just released is the last to be handed out again.

With distinct uids, per-uid kernel accounting (RLIMIT_NPROC, signals, /proc access, file
ownership) never mixes two agents, nor an agent with the platform.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from rlarena.errors import ServiceUnavailable

POOL_BASE = 2_100_000_000
POOL_SIZE = 4096
LOCK_FOLDER = Path("/run/rlarena/sandbox-uids")

_lock = threading.Lock()
# Where this process looks next; processes start at different places in the pool.
_cursor = [os.getpid() % POOL_SIZE]


@dataclass
class UidLease:
    uid: int
    _fd: int | None

    @property
    def gid(self) -> int:
        return self.uid

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing drops the flock
            self._fd = None


def lease(folder: Path = LOCK_FOLDER) -> UidLease:
    """An exclusive uid; ServiceUnavailable when every uid of the pool is in use."""
    _ensure_folder(folder)
    with _lock:
        start = _cursor[0]
    for step in range(POOL_SIZE):
        index = (start + step) % POOL_SIZE
        uid = POOL_BASE + index
        fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        with _lock:  # the next lease of this process starts after this one
            _cursor[0] = index + 1
        return UidLease(uid, fd)
    raise ServiceUnavailable(f"all {POOL_SIZE} sandbox uids are in use; try again later")


def _ensure_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = folder.lstat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o077 or folder.is_symlink():
        raise ServiceUnavailable(f"{folder} must be a folder of the platform's own, mode 0700")


def in_pool(uid: int) -> bool:
    """Whether `uid` is one of the pool's (a sandbox's, live or not)."""
    return POOL_BASE <= uid < POOL_BASE + POOL_SIZE
