"""DATABASE_URL's sslmode and sslrootcert: what is accepted, what stops start-up and says why, and
that the URL pg8000 receives carries neither (it would refuse them)."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from rlarena.adapters.db.pg_tls import context_for, split_tls
from rlarena.config import load_settings
from rlarena.database_tls import MODES, TlsPolicy, policy_from
from rlarena.errors import ConfigurationError

STRONG = "b7f3c1d9e5a2f8c4d6b0a9e1f3c5d7b9"


def test_the_default_is_prefer_and_every_libpq_mode_it_honours_is_accepted() -> None:
    assert policy_from({}) == TlsPolicy("prefer")
    for mode in MODES:
        assert policy_from({"sslmode": mode}).mode == mode


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"sslmode": "allow"}, "use one of disable, prefer, require, verify-ca, verify-full"),
        ({"sslmode": ("require", "disable")}, "sslmode more than once"),
        ({"sslmode": "require", "sslrootcert": "/etc/ca.pem"}, "add sslmode=verify-full"),
        ({"sslmode": "verify-full", "sslrootcert": "/nowhere/ca.pem"}, "is not a file"),
    ],
)
def test_what_cannot_be_honoured_says_what_to_write(query: dict[str, str | tuple[str, ...]], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        policy_from(query)


def test_the_url_pg8000_gets_has_no_tls_parameters_and_keeps_the_others(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read here")
    url = make_url(f"postgresql+pg8000://u:p@db:5432/rl?sslmode=verify-full&sslrootcert={ca}&application_name=x")
    stripped, policy = split_tls(url)
    assert policy == TlsPolicy("verify-full", str(ca))
    assert dict(stripped.query) == {"application_name": "x"}
    assert (stripped.host, stripped.port, stripped.database, stripped.password) == ("db", 5432, "rl", "p")


def test_contexts_verify_only_when_asked() -> None:
    assert context_for(TlsPolicy("disable")) is None
    for mode in ("prefer", "require"):
        context = context_for(TlsPolicy(mode))
        assert context is not None
        assert (context.verify_mode, context.check_hostname) == (ssl.CERT_NONE, False)
    full = context_for(TlsPolicy("verify-full"))
    assert full is not None
    assert (full.verify_mode, full.check_hostname) == (ssl.CERT_REQUIRED, True)
    ca_only = context_for(TlsPolicy("verify-ca"))
    assert ca_only is not None
    assert (ca_only.verify_mode, ca_only.check_hostname) == (ssl.CERT_REQUIRED, False)


def test_an_unreadable_root_certificate_is_a_configuration_error(tmp_path: Path) -> None:
    garbage = tmp_path / "ca.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigurationError, match="sslrootcert"):
        context_for(TlsPolicy("verify-full", str(garbage)))


def test_the_settings_refuse_a_bad_sslmode_at_start_up(tmp_path: Path) -> None:
    os.environ.update(
        ENV="production",
        DATA_DIR=str(tmp_path),
        JWT_SECRET=STRONG,
        DATABASE_URL="postgresql://rl:pw@db/rl?sslmode=verify",
    )
    with pytest.raises(ConfigurationError, match="sslmode='verify'"):
        load_settings()
    os.environ["DATABASE_URL"] = "postgresql://rl:pw@db/rl?sslmode=require"
    assert load_settings().database_url.endswith("sslmode=require")
