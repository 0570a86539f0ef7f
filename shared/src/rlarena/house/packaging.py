"""A house agent's folder as the upload an author would make of it: one zip, the same bytes for
the same files (sorted names, fixed dates and modes, stored uncompressed), so its sha256 says
whether the shipped code changed since the version on the ladder."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

from rlarena.house.catalogue import HouseAgent

_FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can hold
_SKIPPED = {"__pycache__"}


@dataclass(frozen=True)
class ShippedCode:
    filename: str
    data: bytes
    sha256: str


def shipped_code(agent: HouseAgent) -> ShippedCode | None:
    """The agent's folder zipped, or None while its entry point is not there (not written yet)."""
    folder = agent.folder
    if not (folder / agent.entry_point).is_file():
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in _files(folder):
            entry = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=_FIXED_DATE)
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, path.read_bytes())
    data = buffer.getvalue()
    return ShippedCode(f"{agent.game}-{agent.name}.zip", data, hashlib.sha256(data).hexdigest())


def _files(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not _SKIPPED.intersection(path.relative_to(folder).parts) and path.suffix != ".pyc"
    )
