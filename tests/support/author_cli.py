"""The `rlarena` command as an author runs it: the installed script in a subprocess, with a home
(and config folder) of its own, so saved credentials never leak between tests or from the host."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.running_platform import BIN


def rlarena(
    home: Path, *arguments: str, stdin: str | None = None, cwd: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `rlarena ARGUMENTS...` with HOME=`home` and XDG_CONFIG_HOME=`home`/.config; never raises on exit codes."""
    environment = {
        **{name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "XDG_CONFIG_HOME")},
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [str(BIN / "rlarena"), *arguments],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd or home,
        env=environment,
        timeout=timeout,
        check=False,
    )
