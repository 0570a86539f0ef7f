"""The object store on S3 (MinIO in a deployment, SeaweedFS in the tests) through the minio SDK.

The SDK is imported when the first request is made, not with this module: it takes ~0.2 s to
import, which functions that never touch storage should not pay at cold start.
"""

from __future__ import annotations

import builtins
import io
import os
import tempfile
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rlarena.adapters.storage.base import (
    DEFAULT_CONTENT_TYPE,
    StoredObject,
    validate_bucket,
    validate_content_type,
    validate_key,
    validate_prefix,
)
from rlarena.errors import ConfigurationError, InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable

if TYPE_CHECKING:
    from minio import Minio
    from minio.error import S3Error

_CHUNK = 1024 * 1024
# S3 refuses presigned URLs valid for longer than a week.
_MAX_PRESIGN = timedelta(days=7)
_MISSING = frozenset({"NoSuchKey", "NoSuchObject", "NoSuchVersion", "ResourceNotFound"})
_CREDENTIALS = frozenset(
    {
        "AccessDenied",
        "SignatureDoesNotMatch",
        "InvalidAccessKeyId",
        "InvalidToken",
        "ExpiredToken",
        "AuthorizationHeaderMalformed",
        "AccountProblem",
    }
)
_ALREADY_THERE = frozenset({"BucketAlreadyOwnedByYou", "BucketAlreadyExists"})


def split_endpoint(endpoint: str, secure: bool) -> tuple[str, bool]:
    """Accept "host:port" (TLS per `secure`) or "http(s)://host:port" (the scheme decides)."""
    text = endpoint.strip()
    if "://" in text:
        parts = urllib.parse.urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
            raise ConfigurationError(f"S3_ENDPOINT {endpoint!r} must be host:port or http(s)://host:port")
        text, secure = parts.netloc, parts.scheme == "https"
    # Credentials belong in S3_ACCESS_KEY/S3_SECRET_KEY, never in a URL that messages may quote.
    if not text or "/" in text or "@" in text or any(char.isspace() for char in text):
        raise ConfigurationError("S3_ENDPOINT must be host:port or http(s)://host:port (no path, no credentials)")
    return text, secure


class S3Store:
    """An `ObjectStore` on an S3-compatible server. Thread-safe; connects on first use."""

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        region: str = "us-east-1",
        secure: bool = False,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
    ) -> None:
        self._endpoint, self._secure = split_endpoint(endpoint, secure)
        self._url = f"{'https' if self._secure else 'http'}://{self._endpoint}"
        self._access_key = access_key
        self._secret_key = secret_key
        self._bucket = validate_bucket(bucket)
        # Always set: with a region the SDK signs (and presigns) without first asking the server.
        self._region = region or "us-east-1"
        self._timeouts = (connect_timeout, read_timeout)
        self._minio: Minio | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Store(endpoint={self._url!r}, bucket={self._bucket!r})"

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def endpoint(self) -> str:
        return self._url

    def ensure_bucket(self) -> None:
        from minio.error import S3Error

        with self._errors(None):
            client = self._client()
            if client.bucket_exists(self._bucket):
                return
            try:
                client.make_bucket(self._bucket)
            except S3Error as error:
                # Another process created it between the two calls: that is the goal anyway.
                if error.code not in _ALREADY_THERE:
                    raise

    def put(self, key: str, data: bytes, *, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        validate_key(key)
        validate_content_type(content_type)
        with self._errors(key, reading=False):
            result = self._client().put_object(
                self._bucket, key, io.BytesIO(data), len(data), content_type=content_type
            )
        return StoredObject(key=key, size=len(data), etag=_unquote(result.etag), content_type=content_type)

    def put_file(self, key: str, path: Path, *, content_type: str = DEFAULT_CONTENT_TYPE) -> StoredObject:
        validate_key(key)
        validate_content_type(content_type)
        # Outside the error mapping: a missing source file is the caller's error, not the server's.
        size = path.stat().st_size
        with self._errors(key, reading=False):
            # Streams the file, in parallel 5 MiB+ parts (multipart) when it is larger than one part.
            result = self._client().fput_object(self._bucket, key, str(path), content_type=content_type)
        return StoredObject(key=key, size=size, etag=_unquote(result.etag), content_type=content_type)

    def get(self, key: str) -> bytes:
        validate_key(key)
        with self._errors(key):
            response = self._client().get_object(self._bucket, key)
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

    def download(self, key: str, path: Path) -> None:
        validate_key(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Not fget_object: it leaves its partial file behind on failure (to resume); a temp file
        # beside the target renamed into place gives the same all-or-nothing result as the local store.
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, self._errors(key):
                response = self._client().get_object(self._bucket, key)
                try:
                    for chunk in response.stream(_CHUNK):
                        out.write(chunk)
                finally:
                    response.close()
                    response.release_conn()
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def stat(self, key: str) -> StoredObject | None:
        validate_key(key)
        try:
            with self._errors(key):
                info = self._client().stat_object(self._bucket, key)
        except NotFound:
            return None
        return StoredObject(
            key=key, size=info.size or 0, etag=_unquote(info.etag), content_type=info.content_type or ""
        )

    def delete(self, key: str) -> None:
        validate_key(key)
        with self._errors(key, reading=False):
            # S3 answers 204 for a missing key too, so this is idempotent as it stands.
            self._client().remove_object(self._bucket, key)

    def delete_prefix(self, prefix: str) -> int:
        from minio.deleteobjects import DeleteObject

        # An empty prefix would empty the bucket: make the caller say so with a real prefix.
        validate_prefix(prefix, allow_empty=False)
        keys = [stored.key for stored in self.list(prefix)]
        if not keys:
            return 0
        with self._errors(prefix, reading=False):
            # The SDK batches the keys (1000 a request) and yields only the failures.
            failures = builtins.list(self._client().remove_objects(self._bucket, (DeleteObject(k) for k in keys)))
        if failures:
            raise ServiceUnavailable(
                f"object storage at {self._url} failed to delete {len(failures)} of {len(keys)} objects "
                f"under {prefix!r} ({failures[0].code})"
            )
        return len(keys)

    def list(self, prefix: str = "") -> builtins.list[StoredObject]:
        validate_prefix(prefix, allow_empty=True)
        found: builtins.list[StoredObject] = []
        with self._errors(prefix, reading=False):
            # The listing is paged lazily, so iterating it must stay inside the error mapping.
            for item in self._client().list_objects(self._bucket, prefix=prefix or None, recursive=True):
                if item.is_dir or item.object_name is None:
                    continue
                found.append(
                    StoredObject(
                        key=item.object_name,
                        size=item.size or 0,
                        etag=_unquote(item.etag),
                        content_type=item.content_type or "",  # listings do not report it
                    )
                )
        return sorted(found, key=lambda stored: stored.key)

    def presigned_get(self, key: str, expires: timedelta) -> str | None:
        validate_key(key)
        _check_expiry(expires)
        with self._errors(key):
            return self._client().presigned_get_object(self._bucket, key, expires=expires)

    def presigned_put(self, key: str, expires: timedelta, *, content_type: str | None = None) -> str | None:
        """A URL to PUT the object to.

        The SDK signs only the Host header, so `content_type` is not enforced: the uploader must send
        it as the Content-Type header, or the object is stored with whatever type it sends.
        """
        validate_key(key)
        _check_expiry(expires)
        if content_type is not None:
            validate_content_type(content_type)
        with self._errors(key, reading=False):
            return self._client().presigned_put_object(self._bucket, key, expires=expires)

    # --- internals -----------------------------------------------------------------------------

    def _client(self) -> Minio:
        client = self._minio
        if client is not None:
            return client
        with self._lock:
            if self._minio is None:
                import urllib3
                from minio import Minio

                connect, read = self._timeouts
                # The SDK's own default waits 5 minutes to connect and retries 5 times; a request
                # handler should learn much sooner that storage is down.
                http = urllib3.PoolManager(
                    timeout=urllib3.Timeout(connect=connect, read=read),
                    maxsize=10,
                    retries=urllib3.Retry(total=3, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)),
                )
                try:
                    self._minio = Minio(
                        self._endpoint,
                        access_key=self._access_key,
                        secret_key=self._secret_key,
                        secure=self._secure,
                        region=self._region,
                        http_client=http,
                    )
                except ValueError as error:
                    raise ConfigurationError(f"S3_ENDPOINT {self._endpoint!r} is not usable: {error}") from None
            return self._minio

    @contextmanager
    def _errors(self, key: str | None, *, reading: bool = True) -> Iterator[None]:
        """Turn SDK and transport errors into the platform's; never quote the secret key."""
        from minio.error import InvalidResponseError, S3Error, ServerError
        from urllib3.exceptions import HTTPError

        try:
            yield
        except S3Error as error:
            raise self._translate(error, key, reading=reading) from error
        except (ServerError, InvalidResponseError) as error:
            raise ServiceUnavailable(
                f"object storage at {self._url} answered with an error ({type(error).__name__})"
            ) from error
        except HTTPError as error:
            raise ServiceUnavailable(
                f"object storage at {self._url} is unreachable ({type(error).__name__}); check S3_ENDPOINT"
            ) from error

    def _translate(self, error: S3Error, key: str | None, *, reading: bool) -> Exception:
        code = error.code or "unknown"
        if code in _MISSING or (reading and code == "NoSuchBucket"):
            return NotFound(f"object {key!r} not found in bucket {self._bucket!r}", code="object_not_found")
        if code == "NoSuchBucket":
            return ServiceUnavailable(
                f"bucket {self._bucket!r} does not exist at {self._url}: create it (ensure_bucket) or fix S3_BUCKET"
            )
        if code in _CREDENTIALS:
            return ServiceUnavailable(
                f"object storage at {self._url} refused the credentials ({code}): "
                "check S3_ACCESS_KEY and S3_SECRET_KEY and the key's permissions on the bucket"
            )
        if code in ("KeyTooLongError", "InvalidObjectName"):
            return InvalidInput(f"object storage refused the key {key!r} ({code})", code="invalid_key")
        if code == "EntityTooLarge":
            return PayloadTooLarge("the object is larger than object storage accepts", code="object_too_large")
        return ServiceUnavailable(f"object storage at {self._url} failed ({code})")


def _check_expiry(expires: timedelta) -> None:
    if not timedelta(seconds=1) <= expires <= _MAX_PRESIGN:
        raise InvalidInput("a presigned URL must expire between 1 second and 7 days from now", code="invalid_expiry")


def _unquote(etag: str | None) -> str:
    return (etag or "").strip('"')
