"""Choose the object store from settings: S3 when an endpoint is configured, else a local folder."""

from __future__ import annotations

from rlarena.adapters.storage.base import ObjectCreatedListener, ObjectStore
from rlarena.adapters.storage.local import LocalFolderStore
from rlarena.config import Settings
from rlarena.errors import ConfigurationError


def object_store_for(settings: Settings, on_created: ObjectCreatedListener | None = None) -> ObjectStore:
    """The store for this process. Creating it does no I/O; call `ensure_bucket()` at start-up.

    `on_created` only applies to the local store: with S3 the server itself reports new objects
    (MinIO's bucket notification webhook, parsed by `minio_events`).
    """
    if settings.s3_endpoint:
        access_key = settings.s3_access_key or ""
        secret_key = settings.s3_secret_key.get_secret_value() if settings.s3_secret_key else ""
        missing = [name for name, value in (("S3_ACCESS_KEY", access_key), ("S3_SECRET_KEY", secret_key)) if not value]
        if missing:
            raise ConfigurationError(f"S3_ENDPOINT is set, so {' and '.join(missing)} must be set too")
        # Imported here: the S3 adapter is only needed (and its SDK only loaded) when configured.
        from rlarena.adapters.storage.s3 import S3Store

        return S3Store(
            settings.s3_endpoint,
            access_key,
            secret_key,
            settings.s3_bucket,
            region=settings.s3_region,
            secure=settings.s3_secure,
        )
    return LocalFolderStore(settings.resolved_storage_path, settings.s3_bucket, on_created)
