"""What an author names on the command line as an agent, made into a folder and an entry point.

`house:<name>` is a house agent (rlarena.house.catalogue). A .py file, a .zip or a .tar.gz go
through the platform's own upload rules (`rlarena.domain.archives.read_upload`: bounded unpacking,
the same entry point), so what plays locally is what the platform would build. A folder is read
as the files an upload of it would hold (system files and caches left out) under the same limits
and entry-point rule. Anything unpacked lives in a private temporary folder, removed on exit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rlarena.domain.archives import SUPPORTED_EXTENSIONS, ArchiveLimits, find_entry_point, read_upload, upload_kind
from rlarena.errors import InvalidInput
from rlarena.house import catalogue
from rlarena.sandbox.process import prepare_workdir

# Left out of a folder, as an upload's system files are: caches, version control, editors' files.
_SKIPPED_FOLDERS = frozenset({"__pycache__", "__MACOSX", ".git", ".hg", ".venv", "venv", ".mypy_cache", ".idea"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_SKIPPED_FILES = frozenset({".DS_Store", "Thumbs.db"})


class AgentNotFound(InvalidInput):
    code = "agent_not_found"


@dataclass(frozen=True)
class ResolvedAgent:
    folder: Path  # the agent's code; the match runner copies it for every match
    entry_point: str  # relative to folder, e.g. "main.py"
    label: str  # how the author named it, e.g. "house:negamax" or "my_agent.zip"


@contextmanager
def resolve_agent(game: str, text: str, limits: ArchiveLimits | None = None) -> Iterator[ResolvedAgent]:
    """The agent `text` names for `game`; an `InvalidInput` says what is wrong with the name."""
    if text.startswith(catalogue.PREFIX):
        house = catalogue.lookup(game, text)
        yield ResolvedAgent(house.folder, house.entry_point, house.reference)
        return
    path = Path(text).expanduser()
    if not path.exists():
        raise AgentNotFound(f"{text}: no such file or folder (or name a house agent: {_house_names(game)})")
    files = folder_files(path, limits or ArchiveLimits()) if path.is_dir() else None
    if files is None:
        _check_upload_name(path)
        source = read_upload(path.name, path.read_bytes(), limits or ArchiveLimits())
        files, entry_point = source.files, source.entry_point
    else:
        entry_point = find_entry_point(files)
    folder = _written(files)
    try:
        yield ResolvedAgent(folder, entry_point, path.name or text)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _house_names(game: str) -> str:
    return ", ".join(agent.reference for agent in catalogue.for_game(game)) or "none for this game"


def _check_upload_name(path: Path) -> None:
    try:
        upload_kind(path.name)
    except InvalidInput:
        raise InvalidInput(
            f"{path}: an agent is a folder, a {', '.join(SUPPORTED_EXTENSIONS)} file or house:<name>",
            code="unsupported_type",
        ) from None


def folder_files(folder: Path, limits: ArchiveLimits) -> dict[str, bytes]:
    """The files an upload of `folder` would hold, refused past the upload limits as an upload is."""
    files: dict[str, bytes] = {}
    total = 0
    for directory, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if name not in _SKIPPED_FOLDERS)
        for name in sorted(names):
            if name in _SKIPPED_FILES or name.endswith(_SKIPPED_SUFFIXES) or name.startswith("._"):
                continue
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue  # an upload may hold only regular files
            relative = path.relative_to(folder).as_posix()
            files[relative] = path.read_bytes()
            total += len(files[relative])
            if len(files) > limits.max_files or total > limits.max_unpacked_bytes:
                raise InvalidInput(
                    f"{folder} holds more than an upload may ({limits.max_files} files, "
                    f"{limits.max_unpacked_bytes // (1024 * 1024)} MiB): point at the agent's own folder",
                    code="folder_too_large",
                )
    if not files:
        raise InvalidInput(f"{folder} holds no files", code="empty_folder")
    return files


def _written(files: dict[str, bytes]) -> Path:
    """A private folder holding `files`, readable by the sandbox (which gets its own copy anyway)."""
    folder = Path(tempfile.mkdtemp(prefix="rlarena-agent-"))
    try:
        for relative, content in files.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        prepare_workdir(folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return folder
