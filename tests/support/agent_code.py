"""Agents' code in folders the sandbox user can read, for tests that run real matches."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path


@contextlib.contextmanager
def readable_agents(
    sources: Mapping[str, str], prefix: str, entry_point: str = "agent.py"
) -> Iterator[dict[str, Path]]:
    """One folder per name holding `entry_point` with its source; all removed afterwards.

    Not under pytest's tmp_path: that is under a 0700 folder the sandbox user cannot enter."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    folders = {}
    try:
        for name, source in sources.items():
            folder = root / name
            folder.mkdir(mode=0o755)
            folder.chmod(0o755)
            (folder / entry_point).write_text(source)
            (folder / entry_point).chmod(0o644)
            folders[name] = folder
        yield folders
    finally:
        shutil.rmtree(root, ignore_errors=True)
