"""MinIO's bucket-notification webhook: check its bearer token and read its body. Pure, no I/O.

MinIO POSTs one JSON document per event to the configured webhook target:

    {"EventName": "s3:ObjectCreated:Put", "Key": "<bucket>/<key>",
     "Records": [{"eventName": "s3:ObjectCreated:Put",
                  "s3": {"bucket": {"name": "<bucket>"},
                         "object": {"key": "<url-encoded key>", "size": 1, "eTag": "...",
                                    "contentType": "..."}}}]}

Only ObjectCreated records matter to the platform; the others are dropped here.
"""

from __future__ import annotations

import hmac
import json
import urllib.parse
from dataclasses import dataclass
from typing import Any

from rlarena.errors import ConfigurationError, InvalidInput, Unauthenticated

_CREATED = "s3:ObjectCreated:"
# Sent when a notification target is set up, to check it is reachable (AWS form: "Event").
_TEST_EVENT = "s3:TestEvent"


@dataclass(frozen=True)
class StorageRecord:
    bucket: str
    key: str  # decoded: as it was written to the store
    size: int
    etag: str
    content_type: str
    event_name: str


def check_bearer(header: str | None, expected: str) -> None:
    """Accept only `Authorization: Bearer <expected>`; raise Unauthenticated otherwise."""
    if not expected:
        # An empty token would accept "Bearer " from anyone: refuse to run open instead.
        raise ConfigurationError("STORAGE_WEBHOOK_TOKEN is not set, so the storage webhook cannot be authenticated")
    if not header:
        raise Unauthenticated("missing Authorization header: send `Authorization: Bearer <token>`")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthenticated("the Authorization header must use the Bearer scheme")
    # Constant time, on bytes: compare_digest refuses non-ASCII str.
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise Unauthenticated("invalid storage webhook token")


def parse_notification(body: bytes) -> list[StorageRecord]:
    """The ObjectCreated records in a notification body, in order; [] for a test event."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("storage notification body is not JSON", code="invalid_notification") from None
    if not isinstance(document, dict):
        raise InvalidInput("storage notification body must be a JSON object", code="invalid_notification")
    records = document.get("Records")
    if records is None and _TEST_EVENT in (document.get("Event"), document.get("EventName")):
        return []
    if not isinstance(records, list):
        raise InvalidInput("storage notification has no Records list", code="invalid_notification")
    parsed: list[StorageRecord] = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInput(f"storage notification record {index} is not an object", code="invalid_notification")
        event_name = record.get("eventName")
        if not isinstance(event_name, str):
            raise InvalidInput(f"storage notification record {index} has no eventName", code="invalid_notification")
        if event_name.startswith(_CREATED):
            parsed.append(_created_record(index, event_name, record))
    return parsed


def _created_record(index: int, event_name: str, record: dict[str, Any]) -> StorageRecord:
    def invalid(what: str) -> InvalidInput:
        return InvalidInput(f"storage notification record {index}: {what}", code="invalid_notification")

    s3 = record.get("s3")
    if not isinstance(s3, dict):
        raise invalid("missing s3 section")
    bucket = s3.get("bucket")
    bucket_name = bucket.get("name") if isinstance(bucket, dict) else None
    if not isinstance(bucket_name, str) or not bucket_name:
        raise invalid("missing s3.bucket.name")
    stored = s3.get("object")
    raw_key = stored.get("key") if isinstance(stored, dict) else None
    if not isinstance(stored, dict) or not isinstance(raw_key, str) or not raw_key:
        raise invalid("missing s3.object.key")
    size = stored.get("size", 0)
    # bool is an int in Python, but never a size.
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise invalid("s3.object.size must be a non-negative integer")
    etag = stored.get("eTag", "")
    content_type = stored.get("contentType", "")
    if not isinstance(etag, str) or not isinstance(content_type, str):
        raise invalid("s3.object.eTag and contentType must be strings")
    return StorageRecord(
        bucket=bucket_name,
        # Keys arrive form-encoded: %XX for UTF-8 bytes and '+' for a space (a real '+' is %2B).
        key=urllib.parse.unquote_plus(raw_key),
        size=size,
        etag=etag.strip('"'),
        content_type=content_type,
        event_name=event_name,
    )
