"""Files only the platform's own user may read: folders 0700, files 0600, never through a link.

The local platform keeps users' emails and password hashes (the SQLite database and its -wal and
-shm), its secrets (jwt-secret, broker-token), uploaded code (the local object store) and dead
letters under DATA_DIR. Sandboxed agents run as other uids on the same host, so each of those is
created private with an explicit mode (not left to the umask), and `tighten_tree` fixes a DATA_DIR
left wider by an older version at start-up.

Folders the sandbox owns (the agents' builds and runtime) need other modes, set by the sandbox's
own code: `tighten_tree` leaves the top-level names in `SANDBOX_OWNED` alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_GROUP_AND_OTHERS = 0o077

# Top-level entries of DATA_DIR whose modes the sandbox sets (sandbox-visible folders): not walked.
SANDBOX_OWNED: frozenset[str] = frozenset({"builds", "sandbox"})

_NOFOLLOW_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


def make_private_dirs(path: Path) -> Path:
    """`mkdir -p path` where every folder it creates is 0700; folders that exist keep their mode."""
    missing: list[Path] = []
    folder = Path(path)
    while not os.path.lexists(folder) and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        try:
            os.mkdir(created, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made by a concurrent writer: theirs is private too, or it was not ours to set
        os.chmod(created, PRIVATE_DIR_MODE)  # mkdir's mode passes through the umask
    return Path(path)


def ensure_private_dir(path: Path) -> Path:
    """Create `path` 0700, or tighten it to 0700 if it exists (a configured link is followed)."""
    make_private_dirs(path)
    os.chmod(path, PRIVATE_DIR_MODE)
    return Path(path)


def open_private(path: Path, flags: int) -> int:
    """Open (creating it 0600 if missing) a file that must not be a link; an existing file is tightened."""
    fd = os.open(path, flags | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & _GROUP_AND_OTHERS:
            os.fchmod(fd, mode & ~_GROUP_AND_OTHERS)
    except BaseException:
        os.close(fd)
        raise
    return fd


def create_private_file(path: Path) -> None:
    """Make sure `path` exists as a 0600 file (created empty if missing, tightened if not)."""
    make_private_dirs(path.parent)
    os.close(open_private(path, os.O_RDONLY))


def write_private_file_once(path: Path, data: bytes) -> bool:
    """Create `path` 0600 holding `data`, all at once; False (nothing written) if it already exists.

    The content is written to a private temporary file first and then linked into place, so a
    concurrent reader never sees a half-written secret and two writers cannot both win.
    """
    make_private_dirs(path.parent)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mkstemp: 0600
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError as error:
            if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            return _write_exclusively(path, data)  # a filesystem without hard links
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _write_exclusively(path: Path, data: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, PRIVATE_FILE_MODE)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return True


def read_private_text(path: Path) -> str | None:
    """The text of a private file (tightened to 0600 if it was wider), or None if it does not exist."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as source:
        mode = stat.S_IMODE(os.fstat(source.fileno()).st_mode)
        if mode & _GROUP_AND_OTHERS:
            os.fchmod(source.fileno(), mode & ~_GROUP_AND_OTHERS)
        return source.read().decode()


def tighten_tree(root: Path, *, skip: Iterable[str] = SANDBOX_OWNED) -> list[Path]:
    """Make `root` 0700 and take every permission of group and others off everything under it.

    Folders become 0700, files keep only their owner's bits (0644 becomes 0600). Links are never
    followed (a link inside could point anywhere: it is left as it is, and so is its target). The
    top-level entries named in `skip` are left to whoever owns them (see SANDBOX_OWNED). Returns
    the paths whose mode changed.
    """
    root = Path(root)
    skipped = set(skip)
    os.chmod(root, PRIVATE_DIR_MODE)  # first: from here on nobody else can add links inside
    changed: list[Path] = []
    for folder, dirnames, filenames, folder_fd in os.fwalk(root, follow_symlinks=False):
        here = Path(folder)
        if here == root:
            dirnames[:] = [name for name in dirnames if name not in skipped]
        elif _narrow(folder_fd, PRIVATE_DIR_MODE, exact=True):
            changed.append(here)
        for name in filenames:
            if _tighten_entry(name, folder_fd):
                changed.append(here / name)
    return changed


def _narrow(fd: int, wanted: int, *, exact: bool) -> bool:
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    target = wanted if exact else mode & ~_GROUP_AND_OTHERS
    if mode == target:
        return False
    os.fchmod(fd, target)
    return True


def _tighten_entry(name: str, folder_fd: int) -> bool:
    """Tighten one non-folder entry of a walked folder; links (and what they point to) untouched."""
    try:
        fd = os.open(name, _NOFOLLOW_OPEN, dir_fd=folder_fd)
    except FileNotFoundError:
        return False  # gone meanwhile
    except OSError:
        # A link (ELOOP), a socket (ENXIO) or a file we may not read: decide from lstat. The folder
        # is private already, so nobody can swap the entry between the lstat and the chmod.
        info = os.stat(name, dir_fd=folder_fd, follow_symlinks=False)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISLNK(info.st_mode) or not mode & _GROUP_AND_OTHERS:
            return False
        os.chmod(name, mode & ~_GROUP_AND_OTHERS, dir_fd=folder_fd)
        return True
    try:
        return _narrow(fd, PRIVATE_FILE_MODE, exact=False)
    finally:
        os.close(fd)
