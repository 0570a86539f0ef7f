"""An agent on disk as the bytes an upload sends: a .py, .zip or .tar.gz as it is, a folder zipped
(the files `agent_paths` would read from it: caches, version control and system files left out)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from rlarena.authoring.agent_paths import AgentNotFound, folder_files
from rlarena.domain.archives import ArchiveLimits


def upload_of(path: Path, limits: ArchiveLimits) -> tuple[str, bytes]:
    """(filename, data) to upload for `path`; AgentNotFound when there is nothing there."""
    if path.is_dir():
        name = path.resolve().name or "agent"
        return f"{name}.zip", _zipped(folder_files(path, limits))
    if not path.is_file():
        raise AgentNotFound(f"{path}: no such file or folder")
    return path.name, path.read_bytes()


def _zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative, content in sorted(files.items()):
            archive.writestr(relative, content)
    return buffer.getvalue()
