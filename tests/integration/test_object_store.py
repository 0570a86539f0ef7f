"""One suite for every ObjectStore adapter: the local folder and S3 (a throwaway SeaweedFS)."""

from __future__ import annotations

import hashlib
import os
import threading
import urllib.request
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from rlarena.adapters.storage.base import ObjectStore, StoredObject
from rlarena.adapters.storage.local import LocalFolderStore
from rlarena.adapters.storage.s3 import S3Store
from rlarena.errors import Conflict, InvalidInput, NotFound, ServiceUnavailable
from tests.support.postgres import free_port
from tests.support.seaweedfs import S3Server

BAD_KEYS = ["../x", "/abs", "a//b", "a\x00b", "a/../b", "a/./b", "", "a/", "a\\b", "é" * 513]


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def fresh_bucket() -> str:
    return f"t-{uuid.uuid4().hex}"


def s3_store(server: S3Server, bucket: str, *, secret_key: str | None = None) -> S3Store:
    return S3Store(server.endpoint, server.access_key, secret_key or server.secret_key, bucket)


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    made: ObjectStore
    if request.param == "local":
        made = LocalFolderStore(tmp_path / "objects", fresh_bucket())
    else:
        made = s3_store(request.getfixturevalue("s3_server"), fresh_bucket())
    made.ensure_bucket()
    return made


@pytest.fixture(params=["local", "s3"])
def offline_store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    """A store that cannot work: any call that reaches storage fails with something other than InvalidInput."""
    if request.param == "local":
        return LocalFolderStore(tmp_path / "never-created", fresh_bucket())
    return S3Store(f"127.0.0.1:{free_port()}", "access", "secret", fresh_bucket(), connect_timeout=0.5)


@pytest.fixture
def s3(s3_server: S3Server) -> S3Store:
    made = s3_store(s3_server, fresh_bucket())
    made.ensure_bucket()
    return made


@pytest.fixture
def local(tmp_path: Path) -> LocalFolderStore:
    made = LocalFolderStore(tmp_path / "objects", fresh_bucket())
    made.ensure_bucket()
    return made


# --- every adapter -------------------------------------------------------------------------------


def test_put_then_get_round_trips_bytes_and_content_type(store: ObjectStore) -> None:
    data = b"PK\x03\x04 pretend zip"
    stored = store.put("submissions/agent-1/v1.zip", data, content_type="application/zip")

    assert stored == StoredObject("submissions/agent-1/v1.zip", len(data), md5(data), "application/zip")
    assert store.get("submissions/agent-1/v1.zip") == data
    assert store.stat("submissions/agent-1/v1.zip") == stored


def test_default_content_type_is_octet_stream(store: ObjectStore) -> None:
    store.put("blob", b"x")

    stat = store.stat("blob")
    assert stat is not None and stat.content_type == "application/octet-stream"


def test_stat_of_absent_key_is_none_and_get_is_not_found(store: ObjectStore) -> None:
    store.put("present", b"1")

    assert store.stat("absent") is None
    assert store.stat("present/below") is None
    with pytest.raises(NotFound):
        store.get("absent")


def test_keys_with_spaces_and_unicode_round_trip(store: ObjectStore) -> None:
    key = "submissions/a b/é+ü.zip"
    store.put(key, b"unicode")

    assert store.get(key) == b"unicode"
    assert [stored.key for stored in store.list("submissions/")] == [key]


def test_overwrite_replaces_content_and_type(store: ObjectStore) -> None:
    store.put("k", b"first version", content_type="text/plain")
    store.put("k", b"second", content_type="application/json")

    assert store.get("k") == b"second"
    assert store.stat("k") == StoredObject("k", 6, md5(b"second"), "application/json")
    assert [stored.key for stored in store.list()] == ["k"]


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put("dir/k", b"x")

    store.delete("dir/k")
    store.delete("dir/k")
    store.delete("never/existed")

    assert store.stat("dir/k") is None
    assert store.list() == []


def test_delete_prefix_removes_only_matching_keys(store: ObjectStore) -> None:
    for key in ["a/1", "a/2", "a/b/3", "ab/4", "b/5"]:
        store.put(key, key.encode())

    assert store.delete_prefix("a/") == 3
    assert [stored.key for stored in store.list()] == ["ab/4", "b/5"]
    assert store.delete_prefix("nothing/") == 0
    with pytest.raises(InvalidInput):
        store.delete_prefix("")


def test_list_is_a_string_prefix_match_sorted_by_key(store: ObjectStore) -> None:
    for key in ["logs/b2/x", "logs/a", "other", "logs/b1", "logs/B0"]:
        store.put(key, b"12345")

    listed = store.list("logs/")
    assert [stored.key for stored in listed] == ["logs/B0", "logs/a", "logs/b1", "logs/b2/x"]
    assert all(stored.size == 5 and stored.etag == md5(b"12345") for stored in listed)
    assert [stored.key for stored in store.list("logs/b")] == ["logs/b1", "logs/b2/x"]
    assert len(store.list()) == 5
    assert store.list("none/") == []


def test_put_file_and_download_stream_a_large_object(store: ObjectStore, tmp_path: Path) -> None:
    data = os.urandom(6 * 1024 * 1024 + 123)  # over S3's 5 MiB part size: a multipart upload
    source = tmp_path / "big.bin"
    source.write_bytes(data)

    stored = store.put_file("big/file.bin", source, content_type="application/x-tar")

    assert stored.size == len(data)
    assert store.stat("big/file.bin") == stored
    target = tmp_path / "out" / "nested" / "copy.bin"
    store.download("big/file.bin", target)
    assert target.read_bytes() == data
    assert [p.name for p in target.parent.iterdir()] == ["copy.bin"]  # no partial file left beside it
    if isinstance(store, S3Store):
        assert stored.etag.endswith("-2")  # two parts: the etag is no longer a plain MD5
    else:
        assert stored.etag == md5(data)


def test_download_of_absent_key_is_not_found_and_writes_nothing(store: ObjectStore, tmp_path: Path) -> None:
    target = tmp_path / "out" / "missing.bin"

    with pytest.raises(NotFound):
        store.download("missing", target)

    assert not target.exists()
    assert not target.parent.exists() or list(target.parent.iterdir()) == []


def test_etag_is_the_md5_of_small_objects(store: ObjectStore) -> None:
    stored = store.put("small", b"hello")

    assert stored.etag == md5(b"hello") == "5d41402abc4b2a76b9719d911017c592"
    assert [o.etag for o in store.list()] == [stored.etag]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_invalid_keys_are_refused_before_touching_storage(offline_store: ObjectStore, key: str, tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"x")
    calls: list[Callable[[], object]] = [
        lambda: offline_store.put(key, b"x"),
        lambda: offline_store.put_file(key, source),
        lambda: offline_store.get(key),
        lambda: offline_store.download(key, tmp_path / "d"),
        lambda: offline_store.stat(key),
        lambda: offline_store.delete(key),
        lambda: offline_store.presigned_get(key, timedelta(minutes=1)),
        lambda: offline_store.presigned_put(key, timedelta(minutes=1)),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()
    if isinstance(offline_store, LocalFolderStore):
        assert not offline_store.root.exists()


def test_invalid_prefixes_are_refused(offline_store: ObjectStore) -> None:
    for prefix in ["../", "/abs/", "a//", "a\x00"]:
        with pytest.raises(InvalidInput):
            offline_store.list(prefix)
        with pytest.raises(InvalidInput):
            offline_store.delete_prefix(prefix)


def test_invalid_content_type_is_refused(store: ObjectStore) -> None:
    with pytest.raises(InvalidInput):
        store.put("k", b"x", content_type="text/plain\r\nX-Evil: 1")
    assert store.stat("k") is None


# --- S3 only -------------------------------------------------------------------------------------


def test_presigned_put_then_get_over_http(s3: S3Store) -> None:
    data = b"uploaded straight to storage"
    put_url = s3.presigned_put("uploads/u1.zip", timedelta(minutes=5), content_type="application/zip")
    assert put_url is not None

    request = urllib.request.Request(put_url, data=data, method="PUT", headers={"Content-Type": "application/zip"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200

    assert s3.stat("uploads/u1.zip") == StoredObject("uploads/u1.zip", len(data), md5(data), "application/zip")
    get_url = s3.presigned_get("uploads/u1.zip", timedelta(minutes=5))
    assert get_url is not None
    with urllib.request.urlopen(get_url, timeout=10) as response:
        assert response.read() == data


def test_presigned_url_expiry_must_be_between_a_second_and_a_week(s3: S3Store) -> None:
    for expires in (timedelta(0), timedelta(days=8)):
        with pytest.raises(InvalidInput):
            s3.presigned_get("k", expires)
        with pytest.raises(InvalidInput):
            s3.presigned_put("k", expires)


def test_wrong_secret_key_is_service_unavailable_and_never_quoted(s3_server: S3Server, s3: S3Store) -> None:
    s3.put("k", b"x")
    wrong = "wrong-" + s3_server.secret_key[::-1]
    store = s3_store(s3_server, s3.bucket, secret_key=wrong)

    for call in (lambda: store.get("k"), lambda: store.stat("k"), lambda: store.put("k", b"y"), store.list):
        with pytest.raises(ServiceUnavailable) as caught:
            call()
        message = str(caught.value)
        assert s3_server.endpoint in message
        assert "S3_SECRET_KEY" in message
        assert wrong not in message and s3_server.secret_key not in message
    assert wrong not in repr(store)
    assert s3.get("k") == b"x"


def test_unreachable_server_is_service_unavailable_naming_the_endpoint() -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    store = S3Store(endpoint, "access", "top-secret-value", fresh_bucket(), connect_timeout=0.5)

    with pytest.raises(ServiceUnavailable) as caught:
        store.stat("k")

    assert endpoint in str(caught.value)
    assert "top-secret-value" not in str(caught.value)


def test_ensure_bucket_is_idempotent(s3_server: S3Server) -> None:
    store = s3_store(s3_server, fresh_bucket())

    store.ensure_bucket()
    store.ensure_bucket()

    assert store.list() == []


# --- local folder only ---------------------------------------------------------------------------


def test_local_store_reports_each_write_once(tmp_path: Path) -> None:
    created: list[StoredObject] = []
    store = LocalFolderStore(tmp_path / "objects", "rlarena", on_created=created.append)
    source = tmp_path / "f.bin"
    source.write_bytes(b"from a file")

    first = store.put("a/one", b"1", content_type="text/plain")
    second = store.put_file("a/two", source)
    third = store.put("a/one", b"11")
    store.delete("a/one")
    with pytest.raises(InvalidInput):
        store.put("../x", b"refused")

    assert created == [first, second, third]
    assert third == StoredObject("a/one", 2, md5(b"11"), "application/octet-stream")


def test_local_writes_are_atomic_and_leave_no_temporary_files(local: LocalFolderStore) -> None:
    old, new = b"o" * 300_000, b"n" * 200_000
    local.put("k", old)
    seen: set[bytes] = set()
    stop = threading.Event()

    def read_repeatedly() -> None:
        while not stop.is_set():
            seen.add(local.get("k"))

    reader = threading.Thread(target=read_repeatedly)
    reader.start()
    try:
        for _ in range(50):
            local.put("k", new)
            local.put("k", old)
    finally:
        stop.set()
        reader.join()

    assert seen <= {old, new}  # never a torn or truncated object
    assert list((local.root / ".staging").iterdir()) == []
    assert sorted(p.name for p in (local.root / local.bucket).iterdir()) == ["k"]


def test_local_failed_write_keeps_the_old_object(local: LocalFolderStore, monkeypatch: pytest.MonkeyPatch) -> None:
    local.put("k", b"old")

    def failing_replace(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("rlarena.adapters.storage.local.os.replace", failing_replace)
    with pytest.raises(ServiceUnavailable):
        local.put("k", b"new")
    monkeypatch.undo()

    assert local.get("k") == b"old"
    assert list((local.root / ".staging").iterdir()) == []


def test_local_store_cannot_presign(local: LocalFolderStore) -> None:
    assert local.presigned_get("k", timedelta(minutes=5)) is None
    assert local.presigned_put("k", timedelta(minutes=5), content_type="application/zip") is None


def test_local_paths_cannot_escape_the_root(local: LocalFolderStore, tmp_path: Path) -> None:
    objects = local.root.resolve() / local.bucket
    # The resolver is the last line of defence, so it is tested without validate_key in front.
    for sneaky in ["../escape", "../../etc/passwd", "/etc/passwd", "a/../../x", "."]:
        with pytest.raises(InvalidInput):
            local._resolve(objects, sneaky)

    outside = tmp_path / "outside"
    outside.mkdir()
    (objects / "link").symlink_to(outside)
    with pytest.raises(InvalidInput):
        local.put("link/planted", b"x")
    with pytest.raises(InvalidInput):
        local.get("link/planted")
    assert list(outside.iterdir()) == []


def test_local_store_cannot_hold_a_key_and_a_key_below_it(local: LocalFolderStore) -> None:
    local.put("a/b", b"1")

    with pytest.raises(Conflict):
        local.put("a", b"2")
    with pytest.raises(Conflict):
        local.put("a/b/c", b"3")

    local.delete("a/b")  # the emptied folder goes too, so "a" is free again
    local.put("a", b"2")
    assert local.get("a") == b"2"


def test_local_store_describes_files_put_there_by_hand(local: LocalFolderStore) -> None:
    (local.root / local.bucket / "manual").mkdir()
    (local.root / local.bucket / "manual" / "file.txt").write_bytes(b"by hand")

    expected = StoredObject("manual/file.txt", 7, md5(b"by hand"), "application/octet-stream")
    assert local.stat("manual/file.txt") == expected
    assert local.list("manual/") == [expected]


def test_local_store_ignores_stale_metadata(local: LocalFolderStore) -> None:
    local.put("k", b"same-size-1", content_type="text/plain")
    # Replaced behind the store's back (e.g. a crash between data and metadata): a new inode.
    path = local.root / local.bucket / "k"
    replacement = path.with_name("k.new")
    replacement.write_bytes(b"same-size-2")
    os.replace(replacement, path)

    stat = local.stat("k")
    assert stat is not None and stat.etag == md5(b"same-size-2")
