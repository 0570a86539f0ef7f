"""Integration fixtures: every API and repository test runs on SQLite and on real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app

from rlarena import runtime
from rlarena.adapters.builders.kaniko import KanikoBuilder
from rlarena.adapters.passwords import PasswordHasher
from rlarena.bootstrap import Platform, bootstrap
from rlarena.events.publisher import RecordingPublisher
from tests.conftest import ROOT, make_settings
from tests.support.api import ApiClient
from tests.support.cluster import Cluster, running_cluster
from tests.support.databases import PostgresDatabases, SqliteDatabases
from tests.support.postgres import throwaway_postgres
from tests.support.seaweedfs import S3Server, throwaway_s3


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    with throwaway_postgres() as url:
        databases = PostgresDatabases(url)
        yield databases
        databases.close()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3 server (SeaweedFS) for the whole session, started by the harness."""
    with throwaway_s3() as server:
        yield server


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> SqliteDatabases:
    return SqliteDatabases(tmp_path_factory.mktemp("sqlite-template"))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    databases: Any = request.getfixturevalue(f"{request.param}_databases")
    url = databases.create(tmp_path)
    yield url
    databases.drop(url)


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    """Override in a test module to change settings for its tests."""
    return {}


@pytest.fixture
def platform(database_url: str, tmp_path: Path, settings_overrides: dict[str, object]) -> Iterator[Platform]:
    settings = make_settings(tmp_path / "data", database_url, **settings_overrides)
    instance = bootstrap(settings, publisher=RecordingPublisher())
    # Still argon2id, at the cheapest cost: hashing speed is not what these tests are about.
    instance.passwords = PasswordHasher(time_cost=1, memory_cost_kib=8)
    runtime.install(instance)
    yield instance
    runtime.install(None)


@pytest.fixture
def published(platform: Platform) -> RecordingPublisher:
    assert isinstance(platform.publisher, RecordingPublisher)
    return platform.publisher


def _client(target: str, function: str) -> Any:
    return create_app(target, str(ROOT / "functions" / function / "main.py")).test_client()  # type: ignore[no-untyped-call]


@pytest.fixture
def api(platform: Platform) -> ApiClient:
    """The HTTP functions through functions-framework, each from its own main.py."""
    return ApiClient(
        auth=_client("auth_http", "auth"),
        agents=_client("agents_http", "agents"),
        submissions=_client("submissions_http", "submissions"),
        matchmaker=_client("matchmaker_http", "matchmaker"),
    )


@pytest.fixture
def ratings_target(platform: Platform) -> Any:
    return _client("ratings_events", "ratings")


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """An emulated Kubernetes API server (kmock) for the test module's NAMESPACE."""
    with running_cluster(request.module.NAMESPACE) as running:
        yield running


@pytest.fixture
def builder(platform: Platform, cluster: Cluster) -> KanikoBuilder:
    """The platform's own Kaniko builder (USE_K8S=true), pointed at the emulated cluster."""
    platform.store.ensure_bucket()
    platform.kubernetes_api = cluster.api_client
    made = platform.builder
    assert isinstance(made, KanikoBuilder)
    return made
