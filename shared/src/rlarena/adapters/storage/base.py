"""The object store contract every adapter fulfils, and the key rules they all enforce."""

from __future__ import annotations

import builtins
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from rlarena.errors import ConfigurationError, InvalidInput

MAX_KEY_BYTES = 1024
DEFAULT_CONTENT_TYPE = "application/octet-stream"
# S3's rules for bucket names, which MinIO and SeaweedFS enforce too; the local store follows
# them as well so a name that works locally keeps working once the platform moves to S3.
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    # The S3 entity tag without quotes: the MD5 hex of the content for single-part uploads,
    # "<hash>-<parts>" for multipart ones.
    etag: str
    # Empty when the backend does not report it (S3 listings carry no content type).
    content_type: str


ObjectCreatedListener = Callable[[StoredObject], None]


class ObjectStore(Protocol):
    """A flat namespace of keys to bytes in one bucket.

    Keys are relative, '/'-separated paths (see `validate_key`). Reads of a missing key raise
    `NotFound`; a backend that cannot be reached raises `ServiceUnavailable`.
    """

    @property
    def bucket(self) -> str: ...

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist yet (safe to call concurrently)."""

    def put(self, key: str, data: bytes, *, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject: ...

    def put_file(self, key: str, path: Path, *, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        """Store the file at `path` without reading it into memory."""

    def get(self, key: str) -> bytes: ...

    def download(self, key: str, path: Path) -> None:
        """Write the object to `path` (parents created); the file appears whole or not at all."""

    def stat(self, key: str) -> StoredObject | None: ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with `prefix`; return how many were removed."""

    def list(self, prefix: str = "") -> builtins.list[StoredObject]:
        """Objects whose key starts with `prefix` (a plain string prefix, as in S3), sorted by key."""

    def presigned_get(self, key: str, expires: timedelta) -> str | None:
        """A URL anyone may GET the object from until `expires` passes, or None if unsupported."""

    def presigned_put(self, key: str, expires: timedelta, *, content_type: str | None = None) -> str | None:
        """A URL anyone may PUT the object to until `expires` passes, or None if unsupported."""


def validate_key(key: str) -> str:
    """Return `key` if it is a safe object key, else raise InvalidInput saying what is wrong.

    The rules are the intersection of what S3 accepts and what maps safely onto a folder tree,
    so a key accepted here means the same object on every adapter.
    """
    if not isinstance(key, str) or not key:
        raise InvalidInput("object key must be a non-empty string", code="invalid_key")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("object key must be valid Unicode text (no lone surrogates)", code="invalid_key") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidInput(f"object key is longer than {MAX_KEY_BYTES} bytes", code="invalid_key")
    if key.startswith("/"):
        raise InvalidInput("object key must be relative (no leading '/')", code="invalid_key")
    if "\\" in key:
        raise InvalidInput("object key must use '/' as separator, not '\\'", code="invalid_key")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in key):
        raise InvalidInput("object key must not contain NUL or other control characters", code="invalid_key")
    for segment in key.split("/"):
        if not segment:
            raise InvalidInput("object key must not have empty segments ('//' or a trailing '/')", code="invalid_key")
        if segment in (".", ".."):
            raise InvalidInput("object key must not contain '.' or '..' segments", code="invalid_key")
    return key


def validate_prefix(prefix: str, *, allow_empty: bool) -> str:
    """A listing prefix is a key, possibly cut mid-segment or ending in '/', or "" for everything."""
    if prefix == "":
        if not allow_empty:
            raise InvalidInput("prefix must not be empty", code="invalid_key")
        return prefix
    validate_key(prefix.removesuffix("/"))
    return prefix


def validate_bucket(bucket: str) -> str:
    if not _BUCKET_NAME.match(bucket) or ".." in bucket:
        raise ConfigurationError(
            f"S3_BUCKET {bucket!r} is not a valid bucket name: use 3-63 lowercase letters, digits, '-' or '.', "
            "starting and ending with a letter or digit"
        )
    return bucket


def validate_content_type(content_type: str) -> str:
    # It travels as an HTTP header on S3; refuse anything that could split or bloat it.
    if not content_type or len(content_type) > 255 or any(ord(c) < 0x20 or ord(c) > 0x7E for c in content_type):
        raise InvalidInput("content type must be 1-255 printable ASCII characters", code="invalid_content_type")
    return content_type
