"""`rlarena dev` as a real process on a free port, driven over real HTTP (the end-to-end tests' kit)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.postgres import free_port

BIN = Path(sys.executable).parent


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: Any


@dataclass
class RunningPlatform:
    base_url: str
    data_dir: Path
    process: subprocess.Popen[str]
    log_path: Path

    def request(
        self, method: str, path: str, body: Any = None, token: str | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                raw = reply.read()
                return Response(
                    reply.status, {k.lower(): v for k, v in reply.headers.items()}, json.loads(raw) if raw else None
                )
        except urllib.error.HTTPError as error:
            raw = error.read()
            return Response(
                error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(raw) if raw else None
            )

    def log(self) -> str:
        return self.log_path.read_text()


def start_platform(tmp_path: Path, **env: str) -> RunningPlatform:
    port = free_port()
    log_path = tmp_path / "platform.log"
    inherited = {name: value for name, value in os.environ.items() if name != "DATABASE_URL"}  # SQLite unless given
    environment = {
        **inherited,
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_RATE_LIMIT_PER_MINUTE": "1000",
        "SUBMISSIONS_PER_AGENT_PER_DAY": "100",
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": "1000",
        "PING_INTERVAL_OVERRIDE": "1s",
        "LOG_LEVEL": "DEBUG",
        "EXECUTOR_URL": f"127.0.0.1:{free_port()}",
        "HOUSE_AGENTS": "false",  # unless the test is about them (HOUSE_AGENTS="true")
        **env,
    }
    log_file = log_path.open("w")
    process = subprocess.Popen(
        [str(BIN / "rlarena"), "dev", "--port", str(port)],
        cwd=tmp_path,
        env=environment,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = RunningPlatform(f"http://127.0.0.1:{port}", tmp_path / "data", process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the platform exited at start-up:\n{running.log()}")
        try:
            if running.request("GET", "/health").status == 200:
                return running
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the platform did not answer within 30 s:\n{running.log()}")


def stop_platform(running: RunningPlatform) -> int:
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGINT)
        try:
            running.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            running.process.kill()
            running.process.wait()
    return running.process.returncode


GOOD_AGENT = b"def agent(observation, configuration):\n    return 1\n"


def multipart(fields: dict[str, str], filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def upload(platform: RunningPlatform, token: str, agent_id: str, filename: str, data: bytes) -> tuple[int, Any]:
    body, content_type = multipart({"agentId": agent_id}, filename, data)
    request = urllib.request.Request(
        platform.base_url + "/api/v1/submissions",
        data=body,
        method="POST",
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def wait_for(platform: RunningPlatform, token: str, submission_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        submission = platform.request("GET", f"/api/v1/submissions/{submission_id}", token=token).body["submission"]
        if submission["status"] in statuses:
            return dict(submission)
        time.sleep(0.05)
    raise AssertionError(f"submission {submission_id} stayed {submission['status']}")


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def matches(arena: RunningPlatform, **filters: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in {"pageSize": "100", **filters}.items())
    return list(arena.request("GET", f"/api/v1/matches?{query}").body["matches"])


def executor_pid(arena: RunningPlatform) -> int:
    """The platform's child running `rlarena.cli executor`."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == arena.process.pid and b"executor" in command:
            return int(entry.name)
    raise AssertionError("the platform has no executor child")


def active_agent(arena: RunningPlatform, name: str, code: bytes, environment: str = "tic-tac-toe") -> tuple[str, str]:
    """Register `name`, create its agent, upload `code` and wait until it is active: (token, agent id)."""
    user = arena.request(
        "POST", "/api/v1/auth/register", {"username": name, "email": f"{name}@e.io", "password": "long enough"}
    )
    token = user.body["token"]
    agent = arena.request("POST", "/api/v1/agents", {"name": f"{name}-bot", "environmentId": environment}, token)
    agent_id = agent.body["agent"]["id"]
    status, body = upload(arena, token, agent_id, "agent.py", code)
    assert status == 201, body
    assert wait_for(arena, token, body["submission"]["id"], {"active", "failed"})["status"] == "active"
    return token, str(agent_id)
