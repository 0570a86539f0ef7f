"""Folders handed to sandboxes: created fresh, owned by the platform, readable and never writable.

Each platform process gets one staging root, made with mkdtemp (an unpredictable name no agent can
create first) and mode 0711, so that a sandbox's pool uid can pass through it to the folder it is
given, but cannot list it to find anyone else's. Inside, every sandbox folder is again a fresh
mkdtemp, owned by the platform, folders 0755 and files 0644 (`prepare_workdir`): the sandbox mounts
it read-only in any case, and on a host without bubblewrap the modes alone keep it from writing.
Copies never follow links: a link in an upload stays a link, pointing nowhere useful.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from pathlib import Path

from rlarena.sandbox.process import prepare_workdir

_lock = threading.Lock()
_root: list[Path] = []


def staging_root() -> Path:
    """This process's staging root (made on first use, removed at exit)."""
    with _lock:
        if not _root:
            root = Path(tempfile.mkdtemp(prefix="rlarena-sandbox-"))
            root.chmod(0o711)
            atexit.register(shutil.rmtree, root, True)
            _root.append(root)
        return _root[0]


def new_folder(prefix: str) -> Path:
    """A fresh, empty folder for one sandbox (0755, the platform's)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=staging_root()))
    folder.chmod(0o755)
    return folder


def stage_copy(source: Path, prefix: str, name: str = "agent") -> Path:
    """A read-only copy of the folder `source` at `<fresh folder>/<name>`; returns the copy."""
    folder = new_folder(prefix)
    copy = folder / name
    # symlinks=True copies links as links: one pointing out of the upload stays a dead end.
    shutil.copytree(source, copy, symlinks=True)
    prepare_workdir(folder)
    return copy


def discard(copy: Path) -> None:
    """Remove what `stage_copy` or `new_folder` made (the fresh folder around a copy too)."""
    root = staging_root()
    target = copy if copy.parent == root else copy.parent
    if target.parent == root:
        shutil.rmtree(target, ignore_errors=True)
