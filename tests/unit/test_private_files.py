"""Platform files are private: folders 0700, files 0600, created so and tightened without following links."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from rlarena.config import Settings
from rlarena.platform.broker import InProcessBroker
from rlarena.platform.manifests import Trigger
from rlarena.private_files import (
    SANDBOX_OWNED,
    create_private_file,
    make_private_dirs,
    open_private,
    read_private_text,
    tighten_tree,
    write_private_file_once,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def wide_umask() -> object:
    # As a careless service manager might leave it: nothing here may depend on the umask.
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_folders_and_files_are_created_private_whatever_the_umask(tmp_path: Path, wide_umask: object) -> None:
    made = make_private_dirs(tmp_path / "a" / "b" / "c")
    assert [mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", made)] == [0o700] * 3
    create_private_file(tmp_path / "new" / "db.sqlite")
    assert (mode(tmp_path / "new"), mode(tmp_path / "new" / "db.sqlite")) == (0o700, 0o600)
    assert write_private_file_once(tmp_path / "secret", b"s3cret")
    assert mode(tmp_path / "secret") == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left behind


def test_an_existing_file_is_tightened_when_opened_or_read(tmp_path: Path) -> None:
    wide = tmp_path / "dead-letters.jsonl"
    wide.write_text("old\n")
    wide.chmod(0o644)
    os.close(open_private(wide, os.O_WRONLY | os.O_APPEND))
    assert mode(wide) == 0o600
    secret = tmp_path / "jwt-secret"
    secret.write_text("k")
    secret.chmod(0o664)
    assert read_private_text(secret) == "k"
    assert mode(secret) == 0o600
    assert read_private_text(tmp_path / "missing") is None


def test_a_link_planted_where_a_private_file_goes_is_refused_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("not yours")
    target.chmod(0o644)
    (tmp_path / "broker-token").symlink_to(target)
    with pytest.raises(OSError):
        os.close(open_private(tmp_path / "broker-token", os.O_RDONLY))
    with pytest.raises(OSError):
        read_private_text(tmp_path / "broker-token")
    assert not write_private_file_once(tmp_path / "broker-token", b"x")
    assert (mode(target), target.read_text()) == (0o644, "not yours")


def test_only_one_of_many_concurrent_writers_creates_a_secret_and_nobody_reads_it_half_written(
    tmp_path: Path,
) -> None:
    path = tmp_path / "broker-token"
    won: list[bytes] = []
    seen: list[str | None] = []

    def write(value: bytes) -> None:
        if write_private_file_once(path, value):
            won.append(value)
        seen.append(read_private_text(path))

    threads = [threading.Thread(target=write, args=(bytes([65 + i]) * 64,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    assert set(seen) == {won[0].decode()}


def test_tighten_tree_fixes_an_old_data_dir_but_follows_no_link_and_skips_the_sandbox_folders(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    (data / "objects" / "rlarena" / "submissions").mkdir(parents=True)
    (data / "sandbox" / "runtime").mkdir(parents=True)
    (data / "builds").mkdir()
    for name in ("rlarena.db", "rlarena.db-wal", "rlarena.db-shm", "jwt-secret"):
        (data / name).write_text("x")
    (data / "objects" / "rlarena" / "submissions" / "agent.py").write_text("x")
    (data / "run.sh").write_text("x")
    (data / "run.sh").chmod(0o755)
    (data / "sandbox" / "runtime" / "agent_runtime.py").write_text("x")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("x")
    (data / "link-to-file").symlink_to(outside / "file")
    (data / "objects" / "link-to-folder").symlink_to(outside)
    for path in [data, *data.rglob("*"), outside, outside / "file"]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else (0o755 if path.name == "run.sh" else 0o644))

    changed = tighten_tree(data)

    assert mode(data) == 0o700
    for path in (data / "objects", data / "objects" / "rlarena", data / "objects" / "rlarena" / "submissions"):
        assert mode(path) == 0o700, path
    for name in ("rlarena.db", "rlarena.db-wal", "rlarena.db-shm", "jwt-secret"):
        assert mode(data / name) == 0o600, name
    assert mode(data / "objects" / "rlarena" / "submissions" / "agent.py") == 0o600
    assert mode(data / "run.sh") == 0o700  # the owner keeps what it had; group and others lose theirs
    # Links are left alone, and so is what they point at.
    assert (mode(outside), mode(outside / "file")) == (0o755, 0o644)
    # The sandbox's folders are its owner's business.
    assert {"builds", "sandbox"} == SANDBOX_OWNED
    assert (mode(data / "sandbox"), mode(data / "sandbox" / "runtime"), mode(data / "builds")) == (0o755,) * 3
    assert mode(data / "sandbox" / "runtime" / "agent_runtime.py") == 0o644
    assert data / "jwt-secret" in changed
    assert tighten_tree(data) == []  # nothing left to do


def test_generated_secrets_are_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(DATA_DIR=tmp_path / "data", ENV="development")
    token = settings.broker_ingress_token
    assert len(token) == 64
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "broker-token") == 0o600
    assert Settings(DATA_DIR=tmp_path / "data").broker_ingress_token == token
    assert settings.jwt_signing_key != token
    assert mode(tmp_path / "data" / "jwt-secret") == 0o600
    configured = Settings(DATA_DIR=tmp_path / "data", BROKER_TOKEN="configured-token")
    assert configured.broker_ingress_token == "configured-token"


def test_a_blank_secret_left_by_a_crash_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "broker-token").write_text("")
    token = Settings(DATA_DIR=tmp_path).broker_ingress_token
    assert len(token) == 64
    assert (tmp_path / "broker-token").read_text() == token


def test_dead_letters_are_written_to_a_private_file(tmp_path: Path, wide_umask: object) -> None:
    trigger = Trigger(name="t", broker="default", filters={"type": "x"}, subscriber="missing")
    broker = InProcessBroker([trigger], {}, dead_letter_path=tmp_path / "letters" / "dead-letters.jsonl")
    from cloudevents.http import CloudEvent

    broker.publish(CloudEvent({"type": "x", "source": "/t"}, {"email": "someone@example.com"}))
    assert broker.drain(5)
    broker.close()
    assert (mode(tmp_path / "letters"), mode(tmp_path / "letters" / "dead-letters.jsonl")) == (0o700, 0o600)
    assert "someone@example.com" in (tmp_path / "letters" / "dead-letters.jsonl").read_text()


def test_the_local_object_store_keeps_uploads_private(tmp_path: Path, wide_umask: object) -> None:
    from rlarena.adapters.storage.local import LocalFolderStore

    store = LocalFolderStore(tmp_path / "objects")
    store.ensure_bucket()
    store.put("submissions/a/b/agent.py", b"def agent(o, c):\n    return 0\n")
    for path in [tmp_path / "objects", *(tmp_path / "objects").rglob("*")]:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), path
    assert (tmp_path / "objects" / "rlarena" / "submissions" / "a" / "b" / "agent.py").is_file()
