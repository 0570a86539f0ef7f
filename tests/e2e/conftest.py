"""The local platform as a real process on a free port, driven over real HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
    environment = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "data"),
        "AUTH_RATE_LIMIT_PER_MINUTE": "1000",
        "SUBMISSIONS_PER_AGENT_PER_DAY": "100",
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": "1000",
        "PING_INTERVAL_OVERRIDE": "1s",
        "LOG_LEVEL": "DEBUG",
        "EXECUTOR_URL": f"127.0.0.1:{free_port()}",
        **env,
    }
    environment.pop("DATABASE_URL", None)
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


@pytest.fixture(scope="module")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_platform(tmp_path_factory.mktemp("platform"))
    yield running
    stop_platform(running)
