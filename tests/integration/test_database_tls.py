"""TLS to PostgreSQL from DATABASE_URL's sslmode, against real servers (one offering TLS with a
self-signed certificate, one without), and the TLS context made once per engine rather than per
connection (pg8000's own default loads the system's CA bundle at every connect: ~20 ms of CPU)."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from unittest import mock

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.outage import is_database_outage
from tests.support.databases import PostgresDatabases
from tests.support.postgres import free_port, self_signed_certificate, throwaway_postgres_with_tls

ENCRYPTED = text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[str, Path]]:
    with throwaway_postgres_with_tls() as found:
        yield found


@pytest.fixture(scope="module")
def other_ca() -> Iterator[Path]:
    """A certificate that did not sign the server's (verification must fail against it)."""
    with tempfile.TemporaryDirectory(prefix="rlarena-other-ca-") as folder:
        certificate, _key = self_signed_certificate(Path(folder), "other")
        yield certificate


@pytest.fixture
def postgres_url(postgres_databases: PostgresDatabases, tmp_path: Path) -> Iterator[str]:
    """A database on the session's server, which offers no TLS."""
    url = postgres_databases.create(tmp_path)
    yield url
    postgres_databases.drop(url)


def encrypted(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            return bool(connection.execute(ENCRYPTED).scalar())
    finally:
        engine.dispose()


def encrypted_on_three_connections(url: str) -> list[bool]:
    """Whether each of three connections open at once (three connects, not one reused) is TLS."""
    engine = make_engine(url, pool_size=1, max_overflow=2)
    connections = [engine.connect() for _ in range(3)]
    try:
        return [bool(c.execute(ENCRYPTED).scalar()) for c in connections]
    finally:
        for connection in connections:
            connection.close()
        engine.dispose()


@pytest.mark.parametrize("query", ["", "?sslmode=require"])
def test_unverified_tls_never_loads_the_ca_bundle(tls_server: tuple[str, Path], query: str) -> None:
    url, _certificate = tls_server
    # pg8000 left to itself calls ssl.create_default_context() on every connect.
    with mock.patch.object(ssl, "create_default_context", side_effect=AssertionError("CA bundle loaded")):
        assert encrypted_on_three_connections(url + query) == [True, True, True]


def test_the_default_falls_back_to_plain_when_the_server_has_no_tls(postgres_url: str) -> None:
    assert encrypted(make_engine(postgres_url)) is False


def test_disable_never_asks_for_tls(tls_server: tuple[str, Path]) -> None:
    url, _certificate = tls_server
    assert encrypted(make_engine(f"{url}?sslmode=disable")) is False


def test_require_takes_tls_and_refuses_a_server_without_it(tls_server: tuple[str, Path], postgres_url: str) -> None:
    url, _certificate = tls_server
    assert encrypted(make_engine(f"{url}?sslmode=require")) is True
    with pytest.raises(DBAPIError, match="refuses TLS") as refused:
        encrypted(make_engine(f"{postgres_url}?sslmode=require"))
    assert is_database_outage(refused.value)  # a 503 to clients, the cause in the log


def test_verify_full_checks_the_certificate_and_builds_its_context_once(tls_server: tuple[str, Path]) -> None:
    url, certificate = tls_server
    by_name = url.replace("127.0.0.1", "localhost")  # the name the certificate carries
    made = mock.Mock(wraps=ssl.create_default_context)
    with mock.patch.object(ssl, "create_default_context", made):
        verified = encrypted_on_three_connections(f"{by_name}?sslmode=verify-full&sslrootcert={certificate}")
        assert verified == [True, True, True]
    # The engine's one context: never one per connection.
    assert made.call_count == 1


def test_verify_full_refuses_a_certificate_its_ca_did_not_sign(tls_server: tuple[str, Path], other_ca: Path) -> None:
    url, _certificate = tls_server
    by_name = url.replace("127.0.0.1", "localhost")
    with pytest.raises(DBAPIError) as refused:
        encrypted(make_engine(f"{by_name}?sslmode=verify-full&sslrootcert={other_ca}"))
    assert "certificate verify failed" in str(refused.value).lower()
    assert is_database_outage(refused.value)


def test_verify_full_refuses_a_host_the_certificate_does_not_name_and_verify_ca_does_not_ask(
    tls_server: tuple[str, Path],
) -> None:
    url, certificate = tls_server  # by address: the certificate names localhost only
    with pytest.raises(DBAPIError) as refused:
        encrypted(make_engine(f"{url}?sslmode=verify-full&sslrootcert={certificate}"))
    assert "mismatch" in str(refused.value).lower()
    # verify-ca checks the signature only, as libpq's does.
    assert encrypted(make_engine(f"{url}?sslmode=verify-ca&sslrootcert={certificate}")) is True


def test_an_engine_rebuilt_from_an_engines_url_keeps_its_policy(tls_server: tuple[str, Path], other_ca: Path) -> None:
    """The leaderboard's stamp reader makes its own engine from the platform engine's URL."""
    url, _certificate = tls_server
    by_name = url.replace("127.0.0.1", "localhost")
    first = make_engine(f"{by_name}?sslmode=verify-full&sslrootcert={other_ca}")
    rebuilt = make_engine(first.url.render_as_string(hide_password=False))
    assert dict(rebuilt.url.query) == {"sslmode": "verify-full", "sslrootcert": str(other_ca)}
    for engine in (first, rebuilt):
        with pytest.raises(DBAPIError, match="certificate verify failed"):
            encrypted(engine)
    plain = make_engine(make_engine(f"{url}?sslmode=disable").url.render_as_string(hide_password=False))
    assert encrypted(plain) is False


def test_a_unix_socket_connects_without_tls(tls_server: tuple[str, Path]) -> None:
    url, certificate = tls_server
    port = make_url(url).port
    socket_path = certificate.parent / f".s.PGSQL.{port}"
    assert encrypted(make_engine(f"postgresql+pg8000://postgres@/postgres?unix_sock={socket_path}")) is False


def test_password_authentication_runs_over_the_tls_socket(tls_server: tuple[str, Path]) -> None:
    """SCRAM-SHA-256 (with channel binding, which pg8000 uses on a TLS socket) over the socket the
    platform wrapped; a wrong password is refused as such, not taken for an outage."""
    url, certificate = tls_server
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.execute(text("DROP ROLE IF EXISTS scram_user"))
        connection.execute(text("SET password_encryption = 'scram-sha-256'"))
        connection.execute(text("CREATE ROLE scram_user LOGIN PASSWORD 'right-password'"))
        hba = Path(connection.execute(text("SHOW hba_file")).scalar_one())
    original = hba.read_text()
    hba.write_text(
        "host all scram_user 127.0.0.1/32 scram-sha-256\nhost all scram_user ::1/128 scram-sha-256\n" + original
    )
    try:
        with admin.begin() as connection:
            connection.execute(text("SELECT pg_reload_conf()"))
        time.sleep(0.3)
        as_user = url.replace("postgres@127.0.0.1", "scram_user:right-password@localhost")
        for query in ("", f"?sslmode=verify-full&sslrootcert={certificate}"):
            engine = make_engine(as_user + query)
            try:
                with engine.connect() as connection:
                    assert connection.execute(text("SELECT current_user")).scalar() == "scram_user"
                    assert connection.execute(ENCRYPTED).scalar() is True
            finally:
                engine.dispose()
        wrong = make_engine(url.replace("postgres@127.0.0.1", "scram_user:wrong@localhost"))
        with pytest.raises(DBAPIError, match="28P01"):
            encrypted(wrong)
    finally:
        hba.write_text(original)
        with admin.begin() as connection:
            connection.execute(text("SELECT pg_reload_conf()"))
        admin.dispose()


@contextmanager
def fake_server(answer: bytes | None) -> Iterator[int]:
    """A TCP server that reads the SSLRequest and answers `answer` (None: says nothing)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    held: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            connection, _ = listener.accept()
            held.append(connection)
            connection.recv(8)
            if answer is not None:
                connection.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        listener.close()
        for connection in held:
            connection.close()
        thread.join(timeout=5)


@pytest.mark.parametrize(
    ("answer", "words"), [(b"E", "answered the SSLRequest with b'E'"), (b"", "communication error")]
)
def test_a_server_that_is_not_postgresql_is_an_outage_and_leaves_no_socket(answer: bytes, words: str) -> None:
    before = len(os.listdir("/proc/self/fd"))
    with fake_server(answer) as port, pytest.raises(DBAPIError, match=re.escape(words)) as refused:
        encrypted(make_engine(f"postgresql+pg8000://postgres@127.0.0.1:{port}/postgres"))
    assert is_database_outage(refused.value)
    assert len(os.listdir("/proc/self/fd")) <= before


def test_a_server_that_says_nothing_is_given_up_on_after_the_timeout() -> None:
    with fake_server(None) as port:
        started = time.monotonic()
        with pytest.raises(DBAPIError) as refused:
            encrypted(make_engine(f"postgresql+pg8000://postgres@127.0.0.1:{port}/postgres?timeout=1"))
        assert time.monotonic() - started < 5
    assert is_database_outage(refused.value)


def test_an_unreachable_server_is_still_an_outage_under_the_default() -> None:
    engine = make_engine(f"postgresql+pg8000://postgres@127.0.0.1:{free_port()}/postgres")
    with pytest.raises(DBAPIError) as refused:
        encrypted(engine)
    assert is_database_outage(refused.value)
    assert "Can't create a connection" in str(refused.value)
