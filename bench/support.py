"""Helpers shared by the benchmarks: the production server process, statistics, tables, rows."""

from __future__ import annotations

import contextlib
import http.client
import os
import platform
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, cast

from sqlalchemy import Connection, Table, insert, select, update

from rlarena.adapters.db.models import Agent, Base, Environment, Submission, User
from rlarena.domain.statuses import SubmissionStatus

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
PYTHON = BIN / "python"
FUNCTIONS_FRAMEWORK = BIN / "functions-framework"
HOST = "127.0.0.1"

# name of the folder under functions/ -> functions-framework target
TARGETS = {"auth_http": "auth", "agents_http": "agents", "ratings_events": "ratings"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def strong_secret() -> str:
    """A JWT secret ENV=production accepts."""
    return secrets.token_hex(32)


def function_command(target: str, port: int, folder: str | None = None) -> list[str]:
    """The production entry of a function, exactly as its container runs it (`folder`: under functions/,
    by default the one TARGETS names)."""
    source = ROOT / "functions" / (folder or TARGETS[target]) / "main.py"
    return [
        str(FUNCTIONS_FRAMEWORK),
        "--target",
        target,
        "--source",
        str(source),
        "--host",
        HOST,
        "--port",
        str(port),
    ]


def base_environment(**values: str) -> dict[str, str]:
    """The process environment of a spawned function: PATH and friends, none of our RL Arena settings."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


class ServerProcess:
    """A functions-framework process in its own process group, so the gunicorn worker it forks dies with it."""

    def __init__(self, command: Sequence[str], env: dict[str, str], log: IO[bytes] | None = None) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(command),
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log if log is not None else subprocess.DEVNULL,
            stderr=log if log is not None else subprocess.DEVNULL,
            start_new_session=True,
        )
        self.pgid = self.process.pid  # a session leader's group id is its pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def group_pids(self) -> list[int]:
        """Every live process of this server's group (the arbiter and its workers)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            stat = _read_stat(int(entry.name))
            if stat is not None and int(stat[2]) == self.pgid:
                found.append(int(entry.name))
        return found

    def stop(self, timeout: float = 10.0) -> None:
        """Quick shutdown (SIGINT for gunicorn), then SIGKILL the group if anything is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pgid, signal.SIGINT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._group_exists():
            self.process.poll()
            time.sleep(0.02)
        if self._group_exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pgid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        # A killed worker may still be tearing down its memory (state R, no command line) for a
        # few seconds on a busy machine: dead, not a leak.
        deadline = time.monotonic() + 10
        while self._group_exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._group_exists():
            raise RuntimeError(f"process group {self.pgid} survived SIGKILL")

    def _group_exists(self) -> bool:
        self.process.poll()  # reap the leader, or it lingers as a zombie member of the group
        for pid in self.group_pids():
            stat = _read_stat(pid)
            if stat is not None and stat[0] != "Z":  # a zombie is dead, just not reaped yet
                return True
        return False


def _read_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, ... (None if gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pids: Sequence[int]) -> float:
    """User plus system CPU time of these processes so far (0 for those already gone)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        stat = _read_stat(pid)
        if stat is not None:
            total += int(stat[11]) + int(stat[12])  # utime, stime
    return total / ticks


def system_busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores) since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of every child process it has reaped (the spawned servers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def children_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _read_stat(int(entry.name))
            if stat is not None and int(stat[1]) == parent:
                found.append(int(entry.name))
    return found


def postmaster_pid(port: int) -> int | None:
    """The PostgreSQL server listening on `port` (the throwaway one we started), if found."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"/postgres") and str(port).encode() in argv:
            return int(entry.name)
    return None


# -- talking to a server -----------------------------------------------------------------------


class BenchError(RuntimeError):
    pass


@dataclass
class Probe:
    """The request whose first 200 ends a run."""

    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)


RUN_TIMEOUT = 30.0
POLL_INTERVAL = 0.005


@dataclass
class Run:
    first_ok_s: float
    listening_s: float | None
    first_api_s: float | None = None


def first_ok(server: ServerProcess, port: int, probe: Probe) -> Run:
    """Poll until `probe` answers 200; refused connections are retried every POLL_INTERVAL."""
    listening: float | None = None
    while True:
        if not server.alive():
            raise BenchError(f"the server exited with status {server.process.returncode} before answering")
        if time.perf_counter() - server.started > RUN_TIMEOUT:
            raise BenchError(f"no 200 within {RUN_TIMEOUT:.0f} s")
        connection = http.client.HTTPConnection(HOST, port, timeout=RUN_TIMEOUT)
        try:
            try:
                connection.connect()
            except ConnectionRefusedError:
                time.sleep(POLL_INTERVAL)
                continue
            if listening is None:
                listening = time.perf_counter() - server.started
            try:
                connection.request(probe.method, probe.path, body=probe.body, headers=probe.headers)
                response = connection.getresponse()
                payload = response.read()
            except (ConnectionResetError, http.client.RemoteDisconnected, BrokenPipeError):
                time.sleep(POLL_INTERVAL)
                continue
        finally:
            connection.close()
        elapsed = time.perf_counter() - server.started
        if response.status != 200:
            raise BenchError(f"{probe.method} {probe.path} answered {response.status}: {payload[:300]!r}")
        return Run(first_ok_s=elapsed, listening_s=listening)


def send(port: int, probe: Probe) -> None:
    connection = http.client.HTTPConnection(HOST, port, timeout=RUN_TIMEOUT)
    try:
        connection.request(probe.method, probe.path, body=probe.body, headers=probe.headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    if response.status != 200:
        raise BenchError(f"{probe.method} {probe.path} answered {response.status}: {payload[:300]!r}")


# -- statistics and output -----------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass(frozen=True)
class Spread:
    minimum: float
    median: float
    maximum: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(min(values), statistics.median(values), max(values))

    def as_dict(self) -> dict[str, float]:
        return {"min": self.minimum, "median": self.median, "max": self.maximum}


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table; numbers right-aligned."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in rows) and bool(rows) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [c.rjust(w) if n else c.ljust(w) for c, w, n in zip(row, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def machine() -> dict[str, Any]:
    memory_kib = 0
    with contextlib.suppress(OSError):
        for row in Path("/proc/meminfo").read_text().splitlines():
            if row.startswith("MemTotal:"):
                memory_kib = int(row.split()[1])
    model = ""
    with contextlib.suppress(OSError):
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "executable": sys.executable,
    }


def code_version() -> dict[str, Any]:
    """The commit measured, and files changed since (other than the benchmarks), which may matter."""

    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True, check=False, timeout=30)
        return done.stdout.rstrip() if done.returncode == 0 else ""

    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if line[3:] and "bench/" not in line]
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_changes": changed}


# -- rows ----------------------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


def environment_ids(connection: Connection) -> list[str]:
    return list(connection.scalars(select(Environment.id).order_by(Environment.id)))


def user_row(index: int, now: datetime) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "username": f"bench-user-{index}",
        "email": f"bench-user-{index}@example.com",
        "password_hash": "not-a-hash: benchmark users never log in",
        "full_name": f"Bench User {index}",
        "created_at": now,
        "updated_at": now,
    }


def agent_row(
    agent_id: uuid.UUID,
    user_id: uuid.UUID,
    environment_id: str,
    name: str,
    created_at: datetime,
    *,
    elo: int = 1500,
    record: tuple[int, int, int] = (0, 0, 0),
) -> dict[str, Any]:
    """An agents row; `record` is (wins, losses, draws), all rated."""
    wins, losses, draws = record
    return {
        "id": agent_id,
        "user_id": user_id,
        "environment_id": environment_id,
        "name": name,
        "description": "",
        "elo": elo,
        "wins": wins,
        "losses": losses,
        "draws": draws,
        "total_matches": wins + losses + draws,
        "rated_matches": wins + losses + draws,
        "created_at": created_at,
        "updated_at": created_at,
    }


def bulk_insert(connection: Connection, model: type[Base], rows: Sequence[dict[str, Any]]) -> None:
    """A Core executemany. RETURNING makes SQLAlchemy batch it ("insertmanyvalues": about 1,000 rows a
    statement); without it pg8000 sends one INSERT per row."""
    table = cast(Table, model.__table__)
    connection.execute(insert(table).returning(*table.primary_key.columns), list(rows)).all()


def activate_all(connection: Connection, agent_ids: Sequence[uuid.UUID], now: datetime) -> None:
    """One active submission per agent, then point each agent at it (as a finished build does)."""
    submissions = [
        {
            "id": uuid.uuid4(),
            "agent_id": agent_id,
            "version": 1,
            "status": SubmissionStatus.ACTIVE.value,
            "is_active": True,
            "retry_count": 0,
            "created_at": now,
            "updated_at": now,
        }
        for agent_id in agent_ids
    ]
    bulk_insert(connection, Submission, submissions)
    connection.execute(
        update(Agent)
        .where(Agent.id == Submission.agent_id, Submission.is_active.is_(True), Agent.active_submission_id.is_(None))
        .values(active_submission_id=Submission.id)
    )


def insert_users(connection: Connection, count: int, now: datetime) -> list[uuid.UUID]:
    rows = [user_row(i, now) for i in range(count)]
    bulk_insert(connection, User, rows)
    return [row["id"] for row in rows]
