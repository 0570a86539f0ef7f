"""Migrations: the same revisions run on SQLite and PostgreSQL and match the models exactly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import DBAPIError

from rlarena.adapters.db.engine import make_engine
from rlarena.adapters.db.migrate import downgrade_to_base, upgrade_to_head
from rlarena.adapters.db.models import Base, Environment, Match, Submission, User
from rlarena.bootstrap import Platform
from rlarena.domain.statuses import MatchStatus, SubmissionStatus
from tests.support.api import ApiClient


@pytest.fixture
def engine(platform: Platform) -> Engine:
    return platform.engine


def test_the_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert differences == []


def test_the_four_environments_are_seeded(engine: Engine) -> None:
    with engine.connect() as connection:
        ids = set(connection.scalars(select(Environment.id)))
    assert ids == {"tic-tac-toe", "connect-four", "chess", "pong"}


def test_downgrade_and_upgrade_round_trip(tmp_path_factory: pytest.TempPathFactory, database_url: str) -> None:
    engine = make_engine(database_url)
    downgrade_to_base(engine)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade_to_head(engine)
    assert {"users", "agents", "submissions", "matches", "processed_events"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_timestamps_come_back_timezone_aware_utc(api: ApiClient, platform: Platform) -> None:
    api.register("tzuser")
    with platform.uow() as uow:
        user = uow.session.scalars(select(User)).one()
    assert user.created_at.tzinfo is not None
    assert user.created_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("status", list(SubmissionStatus))
def test_every_submission_status_the_code_writes_is_allowed(api: ApiClient, platform: Platform, status: str) -> None:
    user = api.register()
    agent = api.create_agent(user)
    with platform.uow() as uow:
        uow.session.add(Submission(agent_id=uuid.UUID(agent["id"]), version=1, status=status))
        uow.commit()


def test_an_unknown_status_is_refused_by_the_schema(api: ApiClient, platform: Platform) -> None:
    user = api.register()
    agent = api.create_agent(user)
    # pg8000 reports CHECK violations as ProgrammingError, SQLite as IntegrityError.
    with platform.uow() as uow, pytest.raises(DBAPIError, match=r"status_known|CHECK constraint"):
        uow.session.add(Submission(agent_id=uuid.UUID(agent["id"]), version=1, status="compiling"))
        uow.commit()
    now = datetime.now(UTC)
    for status in MatchStatus:
        with platform.uow() as uow:
            other = api.create_agent(user, f"o-{status}")
            uow.session.add(
                Match(
                    environment_id="tic-tac-toe",
                    agent1_id=uuid.UUID(agent["id"]),
                    agent2_id=uuid.UUID(other["id"]),
                    status=status,
                    created_at=now,
                    updated_at=now,
                )
            )
            uow.commit()
    with platform.uow() as uow, pytest.raises(DBAPIError, match=r"two_agents|CHECK constraint"):
        uow.session.add(
            Match(
                environment_id="tic-tac-toe",
                agent1_id=uuid.UUID(agent["id"]),
                agent2_id=uuid.UUID(agent["id"]),
                status="pending",
            )
        )
        uow.commit()
