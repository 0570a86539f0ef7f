"""The one settings object: defaults, parsing and the production guard."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from rlarena.config import Settings, load_settings, parse_duration
from rlarena.errors import ConfigurationError

STRONG = "9f2c1e7a5b3d4f6e8a0c2e4f6a8b0d1c3e5f7a9b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3600", timedelta(hours=1)), ("24h", timedelta(hours=24)), ("30m", timedelta(minutes=30)),
     ("1h30m", timedelta(minutes=90)), ("7d", timedelta(days=7)), ("1.5s", timedelta(seconds=1.5))],
)  # fmt: skip
def test_durations_accept_seconds_and_go_style_units(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "h", "10x", "-5m", "0"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_the_old_variable_names_are_read(tmp_path: Path) -> None:
    os.environ.update(
        PORT="9090",
        ENV="development",
        DATA_DIR=str(tmp_path),
        JWT_EXPIRY="2h",
        CORS_ALLOWED_ORIGINS="https://a.example, https://b.example",
        EXECUTOR_URL="executor:50051",
        K_SINK="http://broker.example/ns/default",
        USE_K8S="true",
        K8S_NAMESPACE="arena",
        CONTAINER_REGISTRY_URL="registry.example/arena",
        CONTAINER_REGISTRY_SECRET="regcred",
        STORAGE_PATH=str(tmp_path / "objects"),
    )
    settings = load_settings()
    assert settings.port == 9090
    assert settings.jwt_expiry == timedelta(hours=2)
    assert settings.cors_allowed_origins == ["https://a.example", "https://b.example"]
    assert (settings.executor_url, settings.k_sink, settings.use_k8s) == (
        "executor:50051",
        "http://broker.example/ns/default",
        True,
    )
    assert (settings.k8s_namespace, settings.container_registry_url, settings.container_registry_secret) == (
        "arena",
        "registry.example/arena",
        "regcred",
    )
    assert settings.resolved_storage_path == (tmp_path / "objects").resolve()
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'rlarena.db').resolve()}"


def test_variable_names_are_case_insensitive_and_keywords_win_over_the_environment(tmp_path: Path) -> None:
    for name in ("PORT", "DATA_DIR", "ENV"):
        os.environ.pop(name, None)
    os.environ.update(port="9191", Data_Dir=str(tmp_path), LOG_LEVEL="DEBUG", NOT_A_SETTING="ignored")
    settings = load_settings()
    assert (settings.port, settings.data_dir, settings.log_level) == (9191, tmp_path, "DEBUG")
    assert not hasattr(settings, "not_a_setting")
    # Values given by name take precedence; what they do not name still comes from the environment.
    given = Settings(PORT=7070, ENV="test")
    assert (given.port, given.env, given.data_dir, given.log_level) == (7070, "test", tmp_path, "DEBUG")
    # By the field's name or in any case, a keyword still takes precedence over the environment.
    assert Settings(port=2222).port == Settings(Port=2222).port == 2222
    assert Settings(env="test", log_level="WARNING").log_level == "WARNING"
    # The environment's text is parsed like any value: a comma list, a duration, a boolean.
    os.environ.update(CORS_ALLOWED_ORIGINS="https://a.example,https://b.example", JWT_EXPIRY="90m", USE_K8S="1")
    parsed = load_settings()
    assert parsed.cors_allowed_origins == ["https://a.example", "https://b.example"]
    assert (parsed.jwt_expiry, parsed.use_k8s) == (timedelta(minutes=90), True)


def test_an_invalid_value_names_the_variable(tmp_path: Path) -> None:
    os.environ.update(PORT="eighty", DATA_DIR=str(tmp_path))
    with pytest.raises(ConfigurationError, match="PORT"):
        load_settings()


@pytest.mark.parametrize("secret", [None, "", "secret", "short-but-random-1", "a" * 40])
def test_production_refuses_a_missing_or_weak_jwt_secret(tmp_path: Path, secret: str | None) -> None:
    os.environ.update(ENV="production", DATA_DIR=str(tmp_path), DATABASE_URL="postgresql://db/arena")
    os.environ.pop("JWT_SECRET", None)
    if secret is not None:
        os.environ["JWT_SECRET"] = secret
    with pytest.raises(ConfigurationError, match="JWT_SECRET"):
        load_settings()


def test_production_accepts_a_strong_secret_and_requires_a_database(tmp_path: Path) -> None:
    os.environ.update(ENV="production", DATA_DIR=str(tmp_path), JWT_SECRET=STRONG)
    os.environ.pop("DATABASE_URL", None)
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load_settings()
    os.environ["DATABASE_URL"] = "postgresql://db/arena"
    assert load_settings().jwt_signing_key == STRONG


def test_development_generates_a_secret_once_and_keeps_it_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.environ.update(ENV="development", DATA_DIR=str(tmp_path))
    os.environ.pop("JWT_SECRET", None)
    first = load_settings().jwt_signing_key
    second = load_settings().jwt_signing_key
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0
    assert "generated a development secret" in caplog.text
    assert first not in caplog.text


@pytest.mark.parametrize("origins", ["*", "https://rlarena.example.com, *"])
def test_production_refuses_a_wildcard_cors_origin(tmp_path: Path, origins: str) -> None:
    os.environ.update(
        ENV="production",
        DATA_DIR=str(tmp_path),
        JWT_SECRET=STRONG,
        DATABASE_URL="postgresql://db/arena",
        CORS_ALLOWED_ORIGINS=origins,
    )
    with pytest.raises(ConfigurationError, match=r"CORS_ALLOWED_ORIGINS must not contain '\*'"):
        load_settings()
    os.environ["CORS_ALLOWED_ORIGINS"] = "https://rlarena.example.com"
    assert load_settings().cors_allowed_origins == ["https://rlarena.example.com"]


def test_development_accepts_a_wildcard_cors_origin(tmp_path: Path) -> None:
    os.environ.update(ENV="development", DATA_DIR=str(tmp_path), CORS_ALLOWED_ORIGINS="*")
    assert load_settings().cors_allowed_origins == ["*"]
