"""A hostile user against `rlarena dev` (issue 11, parts 2, 3 and 5), as a real process over real sockets.

- Forged results: a `dev.rlarena.match.finished` posted to the broker ingress without the broker
  token, or with a wrong one, is refused (401 / 403, JSON) and changes nothing; the same event with
  the token is accepted, so the attack was real.
- Private files: DATA_DIR is 0700 and everything the platform writes in it 0600 (database, -wal,
  -shm, secrets, uploaded code), an older, wider DATA_DIR is tightened at start, links are not
  followed, and an unprivileged uid cannot read the database.
- No orphan: SIGKILL the platform and its executor child dies too, freeing its port.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from sqlalchemy import create_engine, text

from tests.support.postgres import free_port
from tests.support.running_platform import GOOD_AGENT, RunningPlatform, start_platform, stop_platform, upload, wait_for

INGRESS = "/broker/rlarena/default"
NOBODY = 65534
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching to another uid needs root (CI runs as root)")


def register(platform: RunningPlatform, environment: str = "chess") -> tuple[str, str]:
    name = f"u{uuid.uuid4().hex[:10]}"
    user = platform.request(
        "POST", "/api/v1/auth/register", {"username": name, "email": f"{name}@e.io", "password": "long enough"}
    )
    assert user.status == 201, user.body
    token = user.body["token"]
    agent = platform.request("POST", "/api/v1/agents", {"name": name, "environmentId": environment}, token)
    assert agent.status == 201, agent.body
    return token, agent.body["agent"]["id"]


def book_rated_match(platform: RunningPlatform, first: str, second: str) -> uuid.UUID:
    """A running rated chess match between the two agents, as the matchmaker books one."""
    match_id = uuid.uuid4()
    engine = create_engine(f"sqlite:///{platform.data_dir / 'rlarena.db'}")
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO matches (id, environment_id, agent1_id, agent2_id, status, is_rated, is_public,"
                " created_at, updated_at, started_at) VALUES (:id, 'chess', :a, :b, 'running', 1, 1, :now, :now, :now)"
            ),
            {"id": match_id.hex, "a": uuid.UUID(first).hex, "b": uuid.UUID(second).hex, "now": now},
        )
    engine.dispose()
    return match_id


def post_event(platform: RunningPlatform, event: CloudEvent, *, structured: bool, token: str | None) -> tuple[int, Any]:
    headers, body = (to_structured if structured else to_binary)(event)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(platform.base_url + INGRESS, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, {"code": None}
    except urllib.error.HTTPError as error:
        assert error.headers["Content-Type"] == "application/json"
        return error.code, json.loads(error.read())


def standing(platform: RunningPlatform, match_id: uuid.UUID, agents: list[str]) -> tuple[Any, ...]:
    match = platform.request("GET", f"/api/v1/matches/{match_id}").body["match"]
    records = [platform.request("GET", f"/api/v1/agents/{agent}").body["agent"] for agent in agents]
    return (match["status"], match["winnerId"], *((r["elo"], r["totalMatches"], r["wins"]) for r in records))


# --- forged results ------------------------------------------------------------------------------


def test_a_forged_match_result_is_refused_and_changes_nothing_but_the_platforms_own_is_accepted(
    local_platform: RunningPlatform,
) -> None:
    (_, victim), (_, cheat) = register(local_platform), register(local_platform)
    match_id = book_rated_match(local_platform, victim, cheat)
    before = standing(local_platform, match_id, [victim, cheat])
    assert before == ("running", None, (1500, 0, 0), (1500, 0, 0))
    forged = CloudEvent(
        {"type": "dev.rlarena.match.finished", "source": "/rlarena/executor"},
        {
            "matchId": str(match_id),
            "environmentId": "chess",
            "winnerId": cheat,
            "agentResults": [{"agentId": victim, "score": 0}, {"agentId": cheat, "score": 1}],
        },
    )

    refused = []
    for structured in (False, True):
        refused.append(post_event(local_platform, forged, structured=structured, token=None))
        refused.append(post_event(local_platform, forged, structured=structured, token="0" * 64))
        guessed = (local_platform.data_dir / "jwt-secret").read_text().strip()  # another secret is no key either
        refused.append(post_event(local_platform, forged, structured=structured, token=guessed))
    assert [(status, body["code"]) for status, body in refused] == [
        (401, "missing_broker_token"),
        (403, "invalid_broker_token"),
        (403, "invalid_broker_token"),
    ] * 2
    time.sleep(1.5)  # what an accepted event takes to reach ratings (below) several times over
    assert standing(local_platform, match_id, [victim, cheat]) == before
    assert "refused an event at the broker ingress" in local_platform.log()

    # The control: the same event from the platform's side (with its token) does move Elo.
    token = (local_platform.data_dir / "broker-token").read_text().strip()
    assert post_event(local_platform, forged, structured=False, token=token)[0] == 202
    deadline = time.monotonic() + 15
    while standing(local_platform, match_id, [victim, cheat]) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    status, winner, victim_record, cheat_record = standing(local_platform, match_id, [victim, cheat])
    assert (status, winner) == ("completed", cheat)
    assert (victim_record, cheat_record) == ((1480, 1, 0), (1520, 1, 1))


# --- private files -------------------------------------------------------------------------------


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A folder every uid may traverse (pytest's own tmp_path is 0700, which would hide the attack)."""
    folder = Path(tempfile.mkdtemp(prefix="rlarena-hostile-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_nobody(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), user=NOBODY, group=NOBODY, extra_groups=[], capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def checked_private(data: Path) -> list[Path]:
    """Assert every folder under DATA_DIR is 0700 and every file 0600 (built code aside); the files."""
    walked = []
    builds = data / "builds"
    for folder, dirnames, filenames in os.walk(data):
        if Path(folder) == data:
            dirnames.remove("sandbox")  # the sandbox's own folder: its owner sets its mode
        if Path(folder).is_relative_to(builds) and len(Path(folder).relative_to(builds).parts) >= 2:
            # A built version's code: readable by the sandbox's uid (0755/0644) but reachable
            # only through the 0700 folders above it, and writable by the platform alone.
            assert mode(Path(folder)) & 0o022 == 0, folder
            assert all(mode(Path(folder, name)) & 0o022 == 0 for name in filenames), folder
            continue
        if Path(folder) != data:
            assert mode(Path(folder)) == 0o700, folder
        for name in filenames:
            path = Path(folder, name)
            if not path.is_symlink():
                walked.append(path)
                assert mode(path) == 0o600, path
    return walked


def test_the_platforms_files_are_private_and_an_older_wider_data_dir_is_tightened(open_parent: Path) -> None:
    # DATA_DIR as an older version left it: 0755 folders, a 0644 secret, plus what must be left alone.
    data = open_parent / "data"
    (data / "objects").mkdir(parents=True)
    (data / "sandbox").mkdir()
    (data / "jwt-secret").write_text("an-old-development-secret-0123456789abcdef")
    outside = open_parent / "outside.txt"
    outside.write_text("not the platform's")
    (data / "link").symlink_to(outside)
    for path in (data, data / "objects", data / "sandbox"):
        path.chmod(0o755)
    for path in (data / "jwt-secret", outside):
        path.chmod(0o644)

    running = start_platform(open_parent)
    try:
        token, agent = register(running, "tic-tac-toe")
        register(running)
        status, body = upload(running, token, agent, "agent.py", GOOD_AGENT)
        assert status == 201, body
        # Once built: a build in progress has its attempt folder open to the sandbox's reader.
        wait_for(running, token, body["submission"]["id"], {"active", "failed"})
        objects = [p for p in (data / "objects").rglob("*") if p.is_file()]
        assert any(p.read_bytes() == GOOD_AGENT for p in objects)  # the upload is stored here

        present = {p.name for p in data.iterdir()}
        assert {"rlarena.db", "rlarena.db-wal", "rlarena.db-shm", "jwt-secret", "broker-token", "objects"} <= present
        assert mode(data) == 0o700
        walked = checked_private(data)
        assert len(walked) >= 6
        assert mode(data / "sandbox") == 0o755  # left alone
        assert (mode(outside), outside.read_text()) == (0o644, "not the platform's")  # a link is not followed

        if os.geteuid() == 0:
            # An agent's uid: it can reach the parent folder (the control) but nothing inside DATA_DIR.
            (open_parent / "control.txt").write_text("readable")
            (open_parent / "control.txt").chmod(0o644)
            assert as_nobody("cat", str(open_parent / "control.txt")).stdout == "readable"
            for target in ("rlarena.db", "rlarena.db-wal", "jwt-secret", "broker-token"):
                attempt = as_nobody("cat", str(data / target))
                assert attempt.returncode != 0 and "Permission denied" in attempt.stderr, target
            assert as_nobody("ls", str(data)).returncode != 0
            # Second layer: even with DATA_DIR opened up by mistake, the files themselves stay closed.
            data.chmod(0o755)
            try:
                assert as_nobody("ls", str(data)).returncode == 0
                for target in ("rlarena.db", "rlarena.db-wal", "rlarena.db-shm", "broker-token"):
                    assert "Permission denied" in as_nobody("cat", str(data / target)).stderr, target
            finally:
                data.chmod(0o700)
    finally:
        stop_platform(running)


# --- the executor child dies with the platform ------------------------------------------------------


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(child) for child in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z"  # a zombie holds no port and runs nothing


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # only a listener may block it
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen()
        except OSError:
            return False
        return True


def test_the_executor_child_dies_with_a_sigkilled_platform_and_frees_its_port(tmp_path: Path) -> None:
    port = free_port()
    running = start_platform(tmp_path, EXECUTOR_URL=f"127.0.0.1:{port}")
    executor = None
    try:
        executors = [
            pid for pid in children(running.process.pid) if b"executor" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(executors) == 1, executors
        executor = executors[0]
        command = Path(f"/proc/{executor}/cmdline").read_bytes().split(b"\0")
        assert [b"--parent-pid", str(running.process.pid).encode()] == command[-3:-1]
        assert not port_is_free(port)  # the executor serves it while the platform lives

        running.process.send_signal(signal.SIGKILL)  # no clean-up code of the platform runs
        running.process.wait(10)
        deadline = time.monotonic() + 5
        while alive(executor) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(executor), "the executor outlived the platform"
        assert port_is_free(port)
    finally:
        if executor is not None and alive(executor):
            os.kill(executor, signal.SIGKILL)  # do not leave our own orphan behind on failure
        stop_platform(running)


def test_an_executor_whose_platform_is_already_gone_exits_at_once(tmp_path: Path) -> None:
    # The race PDEATHSIG alone cannot cover: the parent died between fork and prctl.
    started = time.monotonic()
    not_its_parent = os.getpid() + 1  # its parent is this process
    result = subprocess.run(
        [str(Path(sys.executable).parent / "rlarena"), "executor", "--address", f"127.0.0.1:{free_port()}",
         "--parent-pid", str(not_its_parent)],
        cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "is gone; exiting" in result.stderr
    assert "listening" not in result.stdout
    assert time.monotonic() - started < 10
