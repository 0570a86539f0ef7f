"""The executor's spool: results it could not store yet and announcements it could not send yet.

A match's result must be stored (the object store is the source of truth) before it is announced,
and neither may be lost when storage or the broker is down. What the executor could not finish
waits here, one private file per match (`<match id>.json`, 0600 in a 0700 folder, written whole
or not at all), until the executor's flusher has stored it and published its announcement; a
restarted executor finds the files and carries on. Where the folder cannot be written (a read-only
file system), an entry is kept in memory only, and the log says so.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rlarena.private_files import ensure_private_dir

log = logging.getLogger(__name__)

FORMAT = 1


@dataclass(frozen=True)
class PendingResult:
    """A played match whose result is not stored yet (`stored` False) or not announced yet."""

    match_id: str
    environment: str
    result: dict[str, Any]  # the result document, exactly as it is (or will be) stored
    replay: dict[str, Any] | None  # None once stored (or if the match recorded none)
    stored: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "match_id": self.match_id,
            "environment": self.environment,
            "stored": self.stored,
            "result": self.result,
            "replay": self.replay,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingResult:
        return cls(
            match_id=str(uuid.UUID(str(data["match_id"]))),
            environment=str(data["environment"]),
            result=dict(data["result"]),
            replay=data.get("replay"),
            stored=bool(data.get("stored")),
        )


class ResultSpool:
    """Pending results by match id, mirrored to private files in `folder` (None: memory only)."""

    def __init__(self, folder: Path | None) -> None:
        self._folder = folder
        self._lock = threading.Lock()
        self._entries: dict[str, PendingResult] = {}
        self._on_disk: set[str] = set()
        self._failing = False  # the last write failed (logged once, not for every match)
        if folder is not None:
            self._load(folder)

    @property
    def folder(self) -> Path | None:
        return self._folder

    def keep(self, entry: PendingResult) -> bool:
        """Hold `entry` (replacing any earlier one of its match); False if it is in memory only."""
        written = self._write(entry)
        with self._lock:
            self._entries[entry.match_id] = entry
            if written:
                self._on_disk.add(entry.match_id)
        return written

    def mark_stored(self, match_id: str) -> None:
        """The result and replay are in the object store: only the announcement is left to send."""
        with self._lock:
            entry = self._entries.get(match_id)
        if entry is not None and not entry.stored:
            self.keep(replace(entry, stored=True, replay=None))

    def remove(self, match_id: str) -> None:
        with self._lock:
            self._entries.pop(match_id, None)
            on_disk = match_id in self._on_disk
            self._on_disk.discard(match_id)
        if on_disk and self._folder is not None:
            try:
                (self._folder / f"{match_id}.json").unlink(missing_ok=True)
            except OSError as error:
                log.error("could not remove the spooled result of match %s: %s", match_id, error)

    def get(self, match_id: str) -> PendingResult | None:
        with self._lock:
            return self._entries.get(match_id)

    def entries(self) -> list[PendingResult]:
        with self._lock:
            return list(self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    # -- files --------------------------------------------------------------------------------

    def _load(self, folder: Path) -> None:
        try:
            names = sorted(p for p in os.listdir(folder) if p.endswith(".json") and not p.startswith("."))
        except FileNotFoundError:
            return
        except OSError as error:
            log.error("cannot read the result spool %s: %s", folder, error)
            return
        for name in names:
            path = folder / name
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                with os.fdopen(fd, "rb") as source:
                    entry = PendingResult.from_json(json.loads(source.read()))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.error("skipping unreadable spooled result %s: %s", path, error)
                continue
            self._entries[entry.match_id] = entry
            self._on_disk.add(entry.match_id)
        if self._entries:
            log.warning("the result spool %s holds %d result(s) of an earlier run", folder, len(self._entries))

    def _write(self, entry: PendingResult) -> bool:
        if self._folder is None:
            return False
        data = json.dumps(entry.to_json()).encode()
        try:
            folder = ensure_private_dir(self._folder)
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=f".{entry.match_id}.")  # mkstemp: 0600
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, folder / f"{entry.match_id}.json")
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
            _sync_folder(folder)
        except OSError as error:
            if not self._failing:
                log.error(
                    "cannot write the result spool %s (%s): results wait in memory only until stored, so "
                    "one is lost if the executor stops before storage takes it; set EXECUTOR_SPOOL_DIR to a "
                    "writable folder",
                    self._folder,
                    error,
                )
            self._failing = True
            return False
        if self._failing:
            log.warning("the result spool %s is writable again", self._folder)
        self._failing = False
        return True


def _sync_folder(folder: Path) -> None:
    """The rename itself durable: fsync the folder (where the file system allows it)."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
