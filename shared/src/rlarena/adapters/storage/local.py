"""The object store as a folder tree, for running the platform without an S3 server.

Layout under `root`:
  <bucket>/<key>              the object's bytes, a plain file other tools can read
  .meta/<bucket>/<key>        its content type and etag as JSON, in a parallel tree: bucket names
                              cannot start with '.', so no key can collide with it, listings need
                              no filtering, and two keys clash there exactly when they clash above
  .staging/                   partial writes; renamed into place once complete

Uploaded code and replays are private to the platform's user (agents run as other users on the
same host): every folder the store creates is 0700 and every object 0600 (staged with mkstemp).
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from rlarena.adapters.storage.base import (
    DEFAULT_CONTENT_TYPE,
    ObjectCreatedListener,
    StoredObject,
    validate_bucket,
    validate_content_type,
    validate_key,
    validate_prefix,
)
from rlarena.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from rlarena.private_files import make_private_dirs

_CHUNK = 1024 * 1024
_Filler = Callable[[BinaryIO], tuple[int, str]]


class LocalFolderStore:
    """An `ObjectStore` on the local filesystem: same key rules, etags and events as S3."""

    def __init__(self, root: Path, bucket: str = "rlarena", on_created: ObjectCreatedListener | None = None) -> None:
        self._root = Path(root)
        self._bucket = validate_bucket(bucket)
        self._on_created = on_created

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def root(self) -> Path:
        return self._root

    def ensure_bucket(self) -> None:
        with self._filesystem_errors(""):
            make_private_dirs(self._root / self._bucket)

    def put(self, key: str, data: bytes, *, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        def fill(out: BinaryIO) -> tuple[int, str]:
            out.write(data)
            return len(data), hashlib.md5(data, usedforsecurity=False).hexdigest()

        return self._store(key, content_type, fill)

    def put_file(self, key: str, path: Path, *, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        validate_key(key)
        # Opened before the storage error mapping: a missing source file is the caller's error.
        with open(path, "rb") as source:
            return self._store(key, content_type, lambda out: _copy_hashing(source, out))

    def get(self, key: str) -> bytes:
        path = self._resolve(self._objects_dir(), validate_key(key))
        with self._filesystem_errors(key), self._missing_is_not_found(key):
            return path.read_bytes()

    def download(self, key: str, path: Path) -> None:
        source_path = self._resolve(self._objects_dir(), validate_key(key))
        with self._filesystem_errors(key):
            with self._missing_is_not_found(key):
                source = open(source_path, "rb")  # noqa: SIM115 - closed below, opened first to fail early
            with source:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
                try:
                    with os.fdopen(fd, "wb") as out:
                        shutil.copyfileobj(source, out, _CHUNK)
                    os.replace(temp, path)
                except BaseException:
                    Path(temp).unlink(missing_ok=True)
                    raise

    def stat(self, key: str) -> StoredObject | None:
        path = self._resolve(self._objects_dir(), validate_key(key))
        with self._filesystem_errors(key):
            try:
                return self._describe(key, path)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None

    def delete(self, key: str) -> None:
        validate_key(key)
        objects, meta = self._objects_dir(), self._meta_dir()
        path = self._resolve(objects, key)
        meta_path = self._resolve(meta, key)
        with self._filesystem_errors(key):
            # A folder at `path` is the parent of other keys, not an object: nothing to delete.
            with suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                path.unlink()
            with suppress(FileNotFoundError, NotADirectoryError, IsADirectoryError):
                meta_path.unlink()
            _prune_empty_parents(path.parent, objects)
            _prune_empty_parents(meta_path.parent, meta)

    def delete_prefix(self, prefix: str) -> int:
        # An empty prefix would empty the bucket: make the caller say so with a real prefix.
        validate_prefix(prefix, allow_empty=False)
        removed = self.list(prefix)
        for stored in removed:
            self.delete(stored.key)
        return len(removed)

    def list(self, prefix: str = "") -> builtins.list[StoredObject]:
        validate_prefix(prefix, allow_empty=True)
        objects = self._objects_dir()
        # Only the folder holding the prefix's complete segments can contain matches.
        folder = prefix.rpartition("/")[0]
        start = self._resolve(objects, folder) if folder else objects
        found: builtins.list[StoredObject] = []
        with self._filesystem_errors(prefix):
            for directory, _, files in os.walk(start):
                for name in files:
                    path = Path(directory, name)
                    key = path.relative_to(objects).as_posix()
                    if key.startswith(prefix):
                        # A file deleted while we walk is simply no longer listed.
                        with suppress(FileNotFoundError):
                            found.append(self._describe(key, path))
        return sorted(found, key=lambda stored: stored.key)

    def presigned_get(self, key: str, expires: timedelta) -> str | None:
        validate_key(key)
        return None  # No server to sign for: the API streams the object itself.

    def presigned_put(self, key: str, expires: timedelta, *, content_type: str | None = None) -> str | None:
        validate_key(key)
        return None

    # --- internals -----------------------------------------------------------------------------

    def _objects_dir(self) -> Path:
        return (self._root / self._bucket).resolve()

    def _meta_dir(self) -> Path:
        return (self._root / ".meta" / self._bucket).resolve()

    def _resolve(self, base: Path, relative: str) -> Path:
        """The path of `relative` under `base`, refusing anything that lands outside it.

        validate_key already refuses '..' and absolute keys; this also catches symlinks inside the
        tree that point elsewhere, and any caller that skipped validation.
        """
        path = (base / relative).resolve()
        if path == base or not path.is_relative_to(base):
            raise InvalidInput("object key resolves outside the storage folder", code="invalid_key")
        return path

    def _store(self, key: str, content_type: str, fill: _Filler) -> StoredObject:
        validate_key(key)
        validate_content_type(content_type)
        target = self._resolve(self._objects_dir(), key)
        meta_target = self._resolve(self._meta_dir(), key)
        with self._filesystem_errors(key):
            size, etag, inode = self._write_atomically(target, fill)
            stored = StoredObject(key=key, size=size, etag=etag, content_type=content_type)
            meta = {"contentType": content_type, "etag": etag, "size": size, "inode": inode}
            encoded = json.dumps(meta).encode()

            def fill_meta(out: BinaryIO) -> tuple[int, str]:
                out.write(encoded)
                return len(encoded), ""

            self._write_atomically(meta_target, fill_meta)
        # Outside the error mapping: a failing listener is the caller's error, not the disk's.
        if self._on_created is not None:
            self._on_created(stored)
        return stored

    def _write_atomically(self, target: Path, fill: _Filler) -> tuple[int, str, int]:
        """Fill a staging file, then rename it over `target`; return its size, etag and inode."""
        staging = make_private_dirs(self._root / ".staging")
        fd, temp = tempfile.mkstemp(dir=staging, prefix="put-")  # 0600
        try:
            with os.fdopen(fd, "wb") as out:
                size, etag = fill(out)
                # The inode survives the rename, so it identifies this write's file afterwards.
                inode = os.fstat(out.fileno()).st_ino
            for attempt in range(2):
                make_private_dirs(target.parent)
                try:
                    os.replace(temp, target)
                    break
                except FileNotFoundError:
                    # A concurrent delete pruned the emptied folder between mkdir and replace.
                    if attempt:
                        raise
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return size, etag, inode

    def _describe(self, key: str, path: Path) -> StoredObject:
        info = path.stat()
        if not path.is_file():
            raise IsADirectoryError(errno.EISDIR, "not an object", str(path))
        meta = self._read_meta(key)
        # The metadata is written just after the data; trust it only if it describes this very
        # file (same inode and size), else a crash or a racing writer could pair the wrong etag.
        if meta is not None and meta.get("inode") == info.st_ino and meta.get("size") == info.st_size:
            return StoredObject(
                key=key,
                size=info.st_size,
                etag=str(meta.get("etag", "")),
                content_type=str(meta.get("contentType") or DEFAULT_CONTENT_TYPE),
            )
        with open(path, "rb") as source:
            size, etag = _copy_hashing(source, None)
        return StoredObject(key=key, size=size, etag=etag, content_type=DEFAULT_CONTENT_TYPE)

    def _read_meta(self, key: str) -> dict[str, object] | None:
        try:
            meta = json.loads(self._resolve(self._meta_dir(), key).read_bytes())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    @contextmanager
    def _missing_is_not_found(self, key: str) -> Iterator[None]:
        try:
            yield
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise NotFound(f"object {key!r} not found in bucket {self._bucket!r}", code="object_not_found") from None

    @contextmanager
    def _filesystem_errors(self, key: str) -> Iterator[None]:
        try:
            yield
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            # S3 allows both "a" and "a/b"; a folder tree cannot hold a file and a folder at "a".
            raise Conflict(
                f"object key {key!r} clashes with an existing object: the local folder store cannot hold "
                "both a key and another key that extends it with '/'",
                code="key_conflict",
            ) from None
        except OSError as error:
            if error.errno == errno.ENAMETOOLONG:
                raise InvalidInput(
                    "object key has a segment too long for the local filesystem", code="invalid_key"
                ) from None
            raise ServiceUnavailable(f"local object store at {self._root} failed: {error.strerror}") from error


def _copy_hashing(source: BinaryIO, out: BinaryIO | None) -> tuple[int, str]:
    digest = hashlib.md5(usedforsecurity=False)  # the S3 etag of a single-part upload
    size = 0
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
        if out is not None:
            out.write(chunk)
    return size, digest.hexdigest()


def _prune_empty_parents(folder: Path, stop: Path) -> None:
    # Leaves the tree as S3 would look (no empty "folders"), and lets a later put of key "a"
    # succeed after the last "a/..." object is gone.
    while folder != stop and folder.is_relative_to(stop):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (or already gone, or recreated by a writer): stop here
        folder = folder.parent
