"""A throwaway PostgreSQL server for the test session, started by the harness itself."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _binaries() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed: `apt-get install -y postgresql` (.ci/run does this), "
            "or set TEST_DATABASE_URL to a server the tests may use"
        )
    return Path(found[-1]).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(command: list[str]) -> list[str]:
    # initdb refuses to run as root; run the server as the postgres user then.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Yield a SQLAlchemy URL (pg8000) of a fresh server; stop it and delete its files after."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield external
        return
    with _server() as (url, _folder):
        yield url


@contextmanager
def throwaway_postgres_with_tls() -> Iterator[tuple[str, Path]]:
    """A fresh server that offers TLS (and still takes plain connections) with a self-signed
    certificate for the name localhost made by openssl: yields its URL (host 127.0.0.1, a name the
    certificate does not carry) and that certificate's PEM file."""
    with _server(tls=True) as (url, folder):
        yield url, folder / "server.crt"


def self_signed_certificate(folder: Path, name: str = "server") -> tuple[Path, Path]:
    """A key and a self-signed certificate for the name localhost only (openssl's CLI)."""
    key, certificate = folder / f"{name}.key", folder / f"{name}.crt"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(certificate), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    key.chmod(0o600)
    return certificate, key


@contextmanager
def _server(*, tls: bool = False) -> Iterator[tuple[str, Path]]:
    """Start a server in a folder of its own; stop it and delete the folder after, also when
    starting it failed part way (a server `pg_ctl -w` gave up waiting for is stopped too)."""
    binaries = _binaries()
    folder = Path(tempfile.mkdtemp(prefix="rlarena-pg-"))
    data = folder / "data"
    try:
        port = free_port()
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        if tls:
            certificate, key = self_signed_certificate(folder)
            options += f" -c ssl=on -c ssl_cert_file={certificate} -c ssl_key_file={key}"
        if os.geteuid() == 0:
            for path in (folder, *folder.iterdir()):
                shutil.chown(path, "postgres")
        subprocess.run(
            _as_owner([str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-N"]),
            check=True,
            capture_output=True,
        )
        start = [str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "-o", options, "start"]
        subprocess.run(_as_owner(start), check=True, capture_output=True)
        yield f"postgresql+pg8000://postgres@127.0.0.1:{port}/postgres", folder
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                check=False,
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)


class RestartablePostgres:
    """A PostgreSQL server of this module's own that can go down and come back on the same port."""

    def __init__(self) -> None:
        self._binaries = _binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="rlarena-pg-outage-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+pg8000://postgres@127.0.0.1:{self.port}/postgres"
        self._pg_ctl([str(self._binaries / "initdb"), "-D", str(self._data), "-U", "postgres", "--auth=trust", "-N"])
        self.start()

    def _pg_ctl(self, command: list[str]) -> None:
        subprocess.run(_as_owner(command), check=True, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        pg_ctl = str(self._binaries / "pg_ctl")
        self._pg_ctl([pg_ctl, "-D", str(self._data), "-w", "-l", str(self.folder / "log"), "-o", options, "start"])

    def stop(self, mode: str = "immediate") -> None:
        """`immediate` is a crash (connections cut); `fast` ends every session with FATAL 57P01 first."""
        self._pg_ctl([str(self._binaries / "pg_ctl"), "-D", str(self._data), "-m", mode, "-w", "stop"])

    def close(self) -> None:
        subprocess.run(
            _as_owner([str(self._binaries / "pg_ctl"), "-D", str(self._data), "-m", "immediate", "stop"]),
            check=False,
            capture_output=True,
        )
        shutil.rmtree(self.folder, ignore_errors=True)
