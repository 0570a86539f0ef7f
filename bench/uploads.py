"""Uploads on the local platform: upload-to-active latency, and concurrent uploads by many users.

Starts `rlarena dev` as a real process (SQLite, local folder store, in-process broker, sandboxed
local builder), then:
1. 20 sequential uploads of a small agent by one user: the time from sending the upload to the
   moment GET /submissions/:id says `active` (polled every 10 ms). Goal: p50 under 3 s.
2. 50 uploads at once by 10 users (5 each, each user to their own agent): every upload answered
   201, every agent's versions exactly 1..5, every submission built (none lost, none stuck).
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.support import BIN, HOST, Spread, free_port, percentile, table

AGENT = b"def agent(observation, configuration):\n    return 0\n"
SEQUENTIAL = 20
USERS = 10
UPLOADS_PER_USER = 5
POLL = 0.01
DEADLINE = 120.0


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)  # noqa: S310 - loopback
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        return self._send(request)

    def upload(self, token: str, agent_id: str, filename: str, data: bytes) -> tuple[int, Any]:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="agentId"\r\n\r\n{agent_id}\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(self.base + "/api/v1/submissions", data=body, method="POST")  # noqa: S310
        request.add_header("Content-Type", f"multipart/form-data; boundary={boundary}")
        request.add_header("Authorization", f"Bearer {token}")
        return self._send(request)

    def _send(self, request: urllib.request.Request) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(request, timeout=60) as reply:  # noqa: S310 - loopback only
                raw = reply.read()
                return reply.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    def user(self, name: str) -> tuple[str, str]:
        status, body = self.call(
            "POST", "/api/v1/auth/register", {"username": name, "email": f"{name}@bench.io", "password": "bench pass 1"}
        )
        assert status == 201, body
        token = body["token"]
        status, created = self.call("POST", "/api/v1/agents", {"name": f"{name}-agent", "environmentId": "pong"}, token)
        assert status == 201, created
        return token, created["agent"]["id"]

    def status_of(self, token: str, submission_id: str) -> str:
        status, body = self.call("GET", f"/api/v1/submissions/{submission_id}", token=token)
        return str(body["submission"]["status"]) if status == 200 else f"HTTP {status}"


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bot/agent.py", AGENT)
    return buffer.getvalue()


def start_platform(folder: Path) -> tuple[subprocess.Popen[bytes], Client]:
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DATA_DIR": str(folder / "data"),
        "AUTH_RATE_LIMIT_PER_MINUTE": "10000",
        "SUBMISSIONS_PER_AGENT_PER_DAY": "10000",
        "SUBMISSION_RATE_LIMIT_PER_MINUTE": "10000",
        "LOG_LEVEL": "WARNING",
    }
    log = (folder / "platform.log").open("wb")
    process = subprocess.Popen(
        [str(BIN / "rlarena"), "dev", "--host", HOST, "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = Client(f"http://{HOST}:{port}")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if client.call("GET", "/health")[0] == 200:
                return process, client
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the local platform did not start; see platform.log")


def stop_platform(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_final(client: Client, token: str, submission_id: str) -> str:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        status = client.status_of(token, submission_id)
        if status in ("active", "inactive", "failed"):
            return status
        time.sleep(POLL)
    return "stuck"


def sequential(client: Client, log: Callable[[str], None]) -> dict[str, Any]:
    token, agent_id = client.user("solo")
    archive = zipped()
    latencies: list[float] = []
    failures: list[str] = []
    for number in range(SEQUENTIAL):
        started = time.perf_counter()
        status, body = client.upload(token, agent_id, "bot.zip", archive)
        if status != 201:
            failures.append(f"upload {number}: HTTP {status} {body}")
            continue
        final = wait_final(client, token, body["submission"]["id"])
        # Wait for `active` itself: the next upload would otherwise turn this one inactive.
        if final != "active":
            failures.append(f"upload {number}: ended {final}")
            continue
        latencies.append(time.perf_counter() - started)
    log(f"sequential uploads: {len(latencies)}/{SEQUENTIAL} active")
    ordered = sorted(latencies)
    return {
        "uploads": SEQUENTIAL,
        "active": len(latencies),
        "latency_s": Spread.of(ordered).as_dict() if ordered else None,
        "p50_s": percentile(ordered, 0.5) if ordered else None,
        "p90_s": percentile(ordered, 0.9) if ordered else None,
        "failures": failures,
    }


def concurrent(client: Client, log: Callable[[str], None]) -> dict[str, Any]:
    users = [client.user(f"crowd{n}") for n in range(USERS)]
    archive = zipped()
    jobs = [(token, agent_id) for token, agent_id in users for _ in range(UPLOADS_PER_USER)]

    def send(job: tuple[str, str]) -> tuple[int, Any]:
        return client.upload(job[0], job[1], "bot.zip", archive)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        answers = list(pool.map(send, jobs))
    answered = time.perf_counter() - started
    created = [(job, body["submission"]) for job, (status, body) in zip(jobs, answers, strict=True) if status == 201]
    finals = [wait_final(client, token, sub["id"]) for (token, _), sub in created]
    settled = time.perf_counter() - started
    versions: dict[str, list[int]] = {}
    for (_, agent_id), sub in created:
        versions.setdefault(agent_id, []).append(int(sub["version"]))
    distinct = all(sorted(v) == list(range(1, UPLOADS_PER_USER + 1)) for v in versions.values())
    listed_ok = all(
        client.call("GET", f"/api/v1/submissions/agent/{agent_id}", token=token)[1]["total"] == UPLOADS_PER_USER
        for token, agent_id in users
    )
    log(f"concurrent uploads: {len(created)}/{len(jobs)} accepted, all settled in {settled:.1f} s")
    return {
        "uploads": len(jobs),
        "accepted": len(created),
        "rejected": [f"HTTP {status}: {body}" for status, body in answers if status != 201],
        "versions_distinct_and_complete": distinct and len(versions) == USERS,
        "listed_totals_correct": listed_ok,
        "built": sum(1 for f in finals if f in ("active", "inactive")),
        "failed_or_stuck": [f for f in finals if f not in ("active", "inactive")],
        "all_answered_s": answered,
        "all_built_s": settled,
    }


def run(log: Callable[[str], None] = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rlarena-bench-uploads-") as folder:
        process, client = start_platform(Path(folder))
        try:
            return {"sequential": sequential(client, log), "concurrent": concurrent(client, log)}
        finally:
            stop_platform(process)


def report(results: dict[str, Any]) -> str:
    seq, con = results["sequential"], results["concurrent"]
    spread = seq["latency_s"] or {}
    lines = [
        "Uploads on the local platform (rlarena dev: SQLite, local folder, sandboxed local builder)",
        table(
            ["measure", "value"],
            [
                ["upload -> active, p50 (goal < 3 s)", f"{seq['p50_s']:.3f} s" if seq["p50_s"] else "-"],
                ["upload -> active, p90", f"{seq['p90_s']:.3f} s" if seq["p90_s"] else "-"],
                ["upload -> active, min / max", f"{spread.get('min', 0):.3f} / {spread.get('max', 0):.3f} s"],
                ["sequential uploads active", f"{seq['active']}/{seq['uploads']}"],
                ["concurrent uploads accepted (10 users x 5)", f"{con['accepted']}/{con['uploads']}"],
                ["versions 1..5 per agent, none lost", str(con["versions_distinct_and_complete"])],
                ["listed totals correct", str(con["listed_totals_correct"])],
                ["concurrent uploads built", f"{con['built']}/{con['uploads']}"],
                ["all 50 answered / all built", f"{con['all_answered_s']:.1f} s / {con['all_built_s']:.1f} s"],
            ],
        ),
    ]
    return "\n".join(lines)


def problems(results: dict[str, Any]) -> list[str]:
    seq, con = results["sequential"], results["concurrent"]
    found = [*seq["failures"], *con["rejected"], *(f"a concurrent upload ended {f}" for f in con["failed_or_stuck"])]
    if seq["p50_s"] is None or seq["p50_s"] >= 3.0:
        found.append(f"upload-to-active p50 {seq['p50_s']} s misses the 3 s goal")
    if not con["versions_distinct_and_complete"] or not con["listed_totals_correct"]:
        found.append("concurrent uploads: versions were not exactly 1..5 for every agent")
    return found
