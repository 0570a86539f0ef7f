"""Reading MinIO's bucket-notification webhook: the documented payloads, bad bodies, the bearer check."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rlarena.adapters.storage.minio_events import StorageRecord, check_bearer, parse_notification
from rlarena.errors import ConfigurationError, InvalidInput, Unauthenticated


def record(
    key: str,
    *,
    event: str = "s3:ObjectCreated:Put",
    bucket: str = "rlarena",
    size: int = 1234,
    etag: str = "d41d8cd98f00b204e9800998ecf8427e",
    content_type: str = "application/zip",
) -> dict[str, Any]:
    """One record as MinIO sends it, with the fields the platform ignores too."""
    return {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": "2024-05-01T12:00:00.000Z",
        "eventName": event,
        "userIdentity": {"principalId": "rlarena"},
        "requestParameters": {"principalId": "rlarena", "region": "", "sourceIPAddress": "10.0.0.7"},
        "responseElements": {"x-amz-request-id": "17C5A0B5E0F2D9A1", "x-minio-origin-endpoint": "http://minio:9000"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "rlarena"}, "arn": f"arn:aws:s3:::{bucket}"},
            "object": {
                "key": key,
                "size": size,
                "eTag": etag,
                "contentType": content_type,
                "userMetadata": {"content-type": content_type},
                "sequencer": "17C5A0B5E1A4B3C2",
            },
        },
        "source": {"host": "10.0.0.7", "port": "", "userAgent": "MinIO (linux; amd64) minio-go/v7.0.70"},
    }


def notification(*records: dict[str, Any]) -> bytes:
    """The envelope: MinIO repeats the first record's event name and "<bucket>/<key>" on top."""
    first: dict[str, Any] = records[0] if records else {}
    s3: dict[str, Any] = first["s3"] if isinstance(first.get("s3"), dict) else {}
    bucket = s3.get("bucket", {}).get("name", "") if isinstance(s3.get("bucket"), dict) else ""
    key = s3.get("object", {}).get("key", "") if isinstance(s3.get("object"), dict) else ""
    return json.dumps(
        {"EventName": first.get("eventName", ""), "Key": f"{bucket}/{key}", "Records": list(records)}
    ).encode()


def test_put_record_is_parsed() -> None:
    body = notification(record("submissions/agent/v1.zip"))

    assert parse_notification(body) == [
        StorageRecord(
            bucket="rlarena",
            key="submissions/agent/v1.zip",
            size=1234,
            etag="d41d8cd98f00b204e9800998ecf8427e",
            content_type="application/zip",
            event_name="s3:ObjectCreated:Put",
        )
    ]


def test_complete_multipart_upload_counts_as_created() -> None:
    body = notification(
        record("big.tar", event="s3:ObjectCreated:CompleteMultipartUpload", etag="0a1b2c3d4e5f60718293a4b5c6d7e8f9-3")
    )

    [parsed] = parse_notification(body)
    assert parsed.event_name == "s3:ObjectCreated:CompleteMultipartUpload"
    assert parsed.etag == "0a1b2c3d4e5f60718293a4b5c6d7e8f9-3"


def test_keys_are_url_decoded() -> None:
    body = notification(
        record("submissions/a%20b/%C3%A9.zip"),
        record("with+plus+as+space.zip"),
        record("literal%2Bplus.zip"),
    )

    assert [parsed.key for parsed in parse_notification(body)] == [
        "submissions/a b/é.zip",
        "with plus as space.zip",
        "literal+plus.zip",
    ]


def test_several_records_keep_their_order_and_non_created_ones_are_dropped() -> None:
    body = notification(
        record("one", event="s3:ObjectCreated:Copy"),
        record("gone", event="s3:ObjectRemoved:Delete"),
        record("read", event="s3:ObjectAccessed:Get"),
        record("two", event="s3:ObjectCreated:PutRetention", bucket="other"),
    )

    parsed = parse_notification(body)
    assert [(p.bucket, p.key, p.event_name) for p in parsed] == [
        ("rlarena", "one", "s3:ObjectCreated:Copy"),
        ("other", "two", "s3:ObjectCreated:PutRetention"),
    ]


def test_quoted_etag_and_missing_optional_fields() -> None:
    created = record("k", etag='"abc"')
    del created["s3"]["object"]["contentType"]
    del created["s3"]["object"]["size"]

    [parsed] = parse_notification(notification(created))
    assert (parsed.etag, parsed.size, parsed.content_type) == ("abc", 0, "")


def test_only_removals_give_no_records() -> None:
    assert parse_notification(notification(record("gone", event="s3:ObjectRemoved:Delete"))) == []


@pytest.mark.parametrize(
    "body",
    [
        b'{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2024-05-01T12:00:00Z", "Bucket": "rlarena"}',
        b'{"EventName": "s3:TestEvent"}',
    ],
)
def test_test_events_give_no_records(body: bytes) -> None:
    assert parse_notification(body) == []


def _without(path: tuple[str, ...]) -> bytes:
    created = record("k")
    target = created
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return notification(created)


def _with(path: tuple[str, ...], value: object) -> bytes:
    created = record("k")
    target = created
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return notification(created)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[]", "JSON object"),
        (b"{}", "no Records"),
        (b'{"EventName": "s3:ObjectCreated:Put"}', "no Records"),
        (b'{"Records": {"eventName": "x"}}', "no Records"),
        (b'{"Records": ["x"]}', "record 0 is not an object"),
        (_without(("eventName",)), "no eventName"),
        (_without(("s3",)), "missing s3 section"),
        (_without(("s3", "bucket")), "s3.bucket.name"),
        (_with(("s3", "bucket", "name"), ""), "s3.bucket.name"),
        (_without(("s3", "object", "key")), "s3.object.key"),
        (_with(("s3", "object"), "k"), "s3.object.key"),
        (_with(("s3", "object", "size"), "12"), "size"),
        (_with(("s3", "object", "size"), -1), "size"),
        (_with(("s3", "object", "size"), True), "size"),
        (_with(("s3", "object", "eTag"), 5), "eTag"),
    ],
)
def test_malformed_bodies_are_invalid_input(body: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        parse_notification(body)
    assert caught.value.code == "invalid_notification"


@pytest.mark.parametrize(
    "header",
    [None, "", "token-0123456789", "Basic dG9rZW4tMDEyMzQ1Njc4OQ==", "Bearer", "Bearer wrong", "Bearer token-01234"],
)
def test_bearer_check_refuses_missing_or_wrong_credentials(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        check_bearer(header, "token-0123456789")


@pytest.mark.parametrize("header", ["Bearer token-0123456789", "bearer token-0123456789", " Bearer  token-0123456789 "])
def test_bearer_check_accepts_the_right_token(header: str) -> None:
    check_bearer(header, "token-0123456789")


def test_bearer_check_handles_non_ascii_without_crashing() -> None:
    with pytest.raises(Unauthenticated):
        check_bearer("Bearer tökén", "token-0123456789")


def test_bearer_check_refuses_everything_when_no_token_is_configured() -> None:
    with pytest.raises(ConfigurationError, match="STORAGE_WEBHOOK_TOKEN"):
        check_bearer("Bearer ", "")
