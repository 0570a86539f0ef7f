"""DATABASE_URL's sslmode, sslrootcert and connection parameters: what is accepted, and what stops
start-up saying what to write instead (rather than failing at the first connection, or passing a
certificate that authenticates nothing)."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest

from rlarena.config import load_settings
from rlarena.database_tls import MODES, TlsPolicy, checked_at_start_up, context_for, policy_from, query_of
from rlarena.errors import ConfigurationError

STRONG = "b7f3c1d9e5a2f8c4d6b0a9e1f3c5d7b9"


def test_the_default_is_prefer_and_every_libpq_mode_it_honours_is_accepted(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("read by the context, not here")
    assert policy_from({}) == TlsPolicy("prefer")
    for mode in ("disable", "prefer", "require", "verify-full"):
        assert policy_from({"sslmode": mode}).mode == mode
    assert policy_from({"sslmode": "verify-ca", "sslrootcert": str(ca)}) == TlsPolicy("verify-ca", str(ca))
    assert policy_from({"sslmode": "verify-full", "sslrootcert": "system"}) == TlsPolicy("verify-full")
    assert set(MODES) == {"disable", "prefer", "require", "verify-ca", "verify-full"}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sslmode": "allow"}, "use one of disable, prefer, require, verify-ca, verify-full"),
        ({"sslmode": ""}, "sslmode=''"),
        ({"sslmode": ("require", "disable")}, "sslmode more than once"),
        ({"sslmode": "require", "sslrootcert": "/etc/ca.pem"}, "add sslmode=verify-full"),
        ({"sslmode": "verify-full", "sslrootcert": "/nowhere/ca.pem"}, "is not a file"),
        # Any publicly trusted certificate for any name would pass: libpq refuses it too.
        ({"sslmode": "verify-ca"}, "verify-ca but no sslrootcert"),
        ({"sslmode": "verify-ca", "sslrootcert": "system"}, "use sslmode=verify-full"),
        # PostgreSQL never offers TLS on a unix socket.
        ({"sslmode": "require", "unix_sock": "/run/postgresql/.s.PGSQL.5432"}, "unix socket"),
        ({"sslmode": "verify-full", "unix_sock": "/run/postgresql/.s.PGSQL.5432"}, "unix socket"),
        # libpq's parameters pg8000 would refuse with a TypeError at the first connection.
        ({"sslcert": "/etc/client.pem"}, "client certificates are not supported"),
        ({"channel_binding": "require"}, "channel binding is used whenever the connection is TLS"),
        ({"connect_timeout": "5"}, "use timeout=SECONDS"),
    ],
)
def test_what_cannot_be_honoured_says_what_to_write(query: dict[str, str | tuple[str, ...]], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        policy_from(query)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://rl:pw@db/rl",
        "postgresql://rl:pw@db/rl?sslmode=require&timeout=5",
        "postgresql://rl:pw@db/rl?sslmode=&application_name=a%20b",
        "postgresql://rl:pw@db/rl?sslmode=require&sslmode=disable",
    ],
)
def test_the_settings_read_the_query_as_the_engine_does(url: str) -> None:
    from sqlalchemy.engine import make_url

    assert query_of(url) == dict(make_url(url).query)


def test_a_unix_socket_takes_prefer_and_disable() -> None:
    for mode in ("prefer", "disable"):
        assert policy_from({"sslmode": mode, "unix_sock": "/run/postgresql/.s.PGSQL.5432"}).mode == mode


def test_contexts_verify_only_when_asked(tmp_path: Path) -> None:
    assert context_for(TlsPolicy("disable")) is None
    for mode in ("prefer", "require"):
        context = context_for(TlsPolicy(mode))
        assert context is not None
        assert (context.verify_mode, context.check_hostname) == (ssl.CERT_NONE, False)
    full = context_for(TlsPolicy("verify-full"))  # the system's CAs
    assert full is not None
    assert (full.verify_mode, full.check_hostname) == (ssl.CERT_REQUIRED, True)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"timeout": "soon"}, "timeout='soon': give a number of seconds"),
        ({"timeout": "0"}, "give a number of seconds above 0"),
    ],
)
def test_the_start_up_check_also_refuses_a_timeout_that_is_not_seconds(
    query: dict[str, str | tuple[str, ...]], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        checked_at_start_up(query)
    assert checked_at_start_up({"timeout": "2.5"}) == TlsPolicy("prefer")


def production(tmp_path: Path, url: str) -> None:
    os.environ.update(ENV="production", DATA_DIR=str(tmp_path), JWT_SECRET=STRONG, DATABASE_URL=url)


def test_the_settings_refuse_at_start_up_what_the_first_connection_would(tmp_path: Path) -> None:
    production(tmp_path, "postgresql://rl:pw@db/rl?sslmode=verify")
    with pytest.raises(ConfigurationError, match="sslmode='verify'"):
        load_settings()
    # A CA file that is not PEM: read at start-up, not at the first request.
    garbage = tmp_path / "ca.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    os.environ["DATABASE_URL"] = f"postgresql://rl:pw@db/rl?sslmode=verify-full&sslrootcert={garbage}"
    with pytest.raises(ConfigurationError, match="could not be read as PEM"):
        load_settings()
    os.environ["DATABASE_URL"] = "postgresql://rl:pw@db/rl?sslmode=require&timeout=oops"
    with pytest.raises(ConfigurationError, match="timeout"):
        load_settings()


def test_production_without_a_chosen_sslmode_starts_and_says_so_until_one_is_chosen(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    production(tmp_path, "postgresql://rl:secret-password@db/rl")
    assert load_settings().database_url == "postgresql://rl:secret-password@db/rl"
    assert "DATABASE_URL sets no sslmode" in caplog.text
    assert "secret-password" not in caplog.text
    for mode in ("require", "disable", "verify-full"):
        caplog.clear()
        production(tmp_path, f"postgresql://rl:pw@db/rl?sslmode={mode}")
        load_settings()
        assert "sslmode" not in caplog.text
