"""Where `rlarena login` keeps the platform's URL and the author's token: credentials.json in the
user's config folder ($XDG_CONFIG_HOME/rlarena, else ~/.config/rlarena), folder 0700, file 0600,
written whole or not at all. A token is a password for as long as it lives: nobody else may read it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

FILE_NAME = "credentials.json"


@dataclass(frozen=True)
class Credentials:
    url: str  # the platform, e.g. "https://arena.example" (no trailing slash)
    token: str
    username: str


def credentials_path() -> Path:
    # The user's own shell decides where config lives (the XDG convention), not the platform's
    # settings: this is the author's machine, not a platform process.
    configured = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(configured) if configured and Path(configured).is_absolute() else Path.home() / ".config"
    return base / "rlarena" / FILE_NAME


def save(credentials: Credentials) -> Path:
    path = credentials_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    descriptor, temporary = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(asdict(credentials), handle, indent=2)
            handle.write("\n")
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def load() -> Credentials | None:
    """The saved credentials, or None when there are none (or they are unreadable)."""
    try:
        data = json.loads(credentials_path().read_text(encoding="utf-8"))
        return Credentials(url=str(data["url"]), token=str(data["token"]), username=str(data.get("username", "")))
    except (OSError, ValueError, KeyError, TypeError):
        return None
