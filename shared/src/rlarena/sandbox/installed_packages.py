"""Which installed requirements a built agent uses: a marker file in its built folder.

The local builder installs an agent's requirements.txt once per content (the cache of
`rlarena.adapters.builders.requirements_install`) and writes the install's folder into the built
folder's `MARKER`. Whoever starts the agent (the probe, the match runner) mounts that folder
read-only and puts it on sys.path (`AgentRuntime.module_argv(packages=...)`).

The builder refuses an upload that holds a file of that name, and a marker is only believed when
it names a finished install of a package cache: a folder named by a content hash, owned by the
platform, writable by nobody else, beside the cache's own `CACHE_TAG` and holding `COMPLETE`.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MARKER = ".rlarena-packages"
# In the cache's root: the folder is a package cache of this platform.
CACHE_TAG = ".rlarena-package-cache"
# In each finished install: what it holds (written last).
COMPLETE = ".rlarena-install.json"
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def packages_of(folder: Path) -> Path | None:
    """The installed requirements the built agent in `folder` uses, or None (none, or not believed)."""
    try:
        text = (folder / MARKER).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    path = Path(text)
    if not path.is_absolute() or str(path) != os.path.normpath(text) or not _DIGEST.match(path.name):
        return None
    return path if _platforms(path) and _platforms(path.parent / CACHE_TAG) and (path / COMPLETE).is_file() else None


def write_marker(folder: Path, packages: Path) -> None:
    (folder / MARKER).write_text(f"{packages}\n", encoding="utf-8")
    (folder / MARKER).chmod(0o644)


def _platforms(path: Path) -> bool:
    """Owned by the platform's user, not a link, and writable by nobody else."""
    try:
        info = path.lstat()
    except OSError:
        return False
    return not stat.S_ISLNK(info.st_mode) and info.st_uid == os.geteuid() and not info.st_mode & 0o022
