"""SQLAlchemy 2 table mappings: the whole data model. Migrations mirror this file."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from rlarena.domain.statuses import MatchStatus, QueueStatus, SubmissionStatus, sql_in
from rlarena.domain.texts import cap_optional

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in and out, on PostgreSQL (timestamptz) and SQLite (naive text) alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CappedText(TypeDecorator[str]):
    """Text cut to ERROR_TEXT_CAP characters (visibly) on its way into the database.

    For error texts, which often quote what a user's code said: every write is capped here, whichever
    path it comes by (an ORM attribute or a bulk UPDATE), so none can store 300,000 characters.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return cap_optional(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), uuid.UUID: Uuid(), dict[str, Any]: JSON()}


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str | None] = mapped_column(String(100))
    avatar_url: Mapped[str | None] = mapped_column(String(2048))


class Environment(Base):
    __tablename__ = "environments"

    id: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(20))
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Agent(Timestamped, Base):
    __tablename__ = "agents"
    __table_args__ = (
        Index(
            "uq_agents_user_id_name_live",
            "user_id",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        # One live house agent per game and catalogue name (two seeders at once create it once).
        Index(
            "uq_agents_house_live",
            "environment_id",
            "house_name",
            unique=True,
            sqlite_where=text("house_name IS NOT NULL AND deleted_at IS NULL"),
            postgresql_where=text("house_name IS NOT NULL AND deleted_at IS NULL"),
        ),
        Index("ix_agents_environment_elo", "environment_id", "elo"),
        Index("ix_agents_elo", "elo"),
        CheckConstraint("elo >= 0", name="elo_not_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    elo: Mapped[int] = mapped_column(Integer, default=1500)
    wins: Mapped[int] = mapped_column(Integer, default=0)
    losses: Mapped[int] = mapped_column(Integer, default=0)
    draws: Mapped[int] = mapped_column(Integer, default=0)
    total_matches: Mapped[int] = mapped_column(Integer, default=0)
    rated_matches: Mapped[int] = mapped_column(Integer, default=0)
    # The uncertainty-aware estimate beside Elo (openskill's defaults: mu 25, sigma 25/3).
    skill_mu: Mapped[float] = mapped_column(Float, default=25.0)
    skill_sigma: Mapped[float] = mapped_column(Float, default=25.0 / 3)
    active_submission_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("submissions.id", use_alter=True, ondelete="SET NULL")
    )
    deleted_at: Mapped[datetime | None] = mapped_column()
    # A house agent (shipped with the platform, a fixed anchor on its game's ladder): its catalogue
    # name, e.g. "negamax"; None for every author's agent.
    house_name: Mapped[str | None] = mapped_column(String(50))

    @property
    def is_house(self) -> bool:
        return self.house_name is not None


class Submission(Timestamped, Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("agent_id", "version"),
        CheckConstraint(f"status IN ({sql_in(SubmissionStatus)})", name="status_known"),
        Index("ix_submissions_queue", "status", "priority", "created_at"),
        # At most one active version per agent, whatever the code above it does.
        Index(
            "uq_submissions_one_active",
            "agent_id",
            unique=True,
            sqlite_where=text("is_active"),
            postgresql_where=text("is_active"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=SubmissionStatus.PENDING.value)
    code_url: Mapped[str | None] = mapped_column(String(2048))
    docker_image_url: Mapped[str | None] = mapped_column(String(2048))
    build_job_name: Mapped[str | None] = mapped_column(String(253))
    build_pod_name: Mapped[str | None] = mapped_column(String(253))
    build_log: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    last_retry_at: Mapped[datetime | None] = mapped_column()
    error_message: Mapped[str | None] = mapped_column(CappedText)
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    source_key: Mapped[str | None] = mapped_column(String(1024))
    source_filename: Mapped[str | None] = mapped_column(String(255))
    source_size: Mapped[int | None] = mapped_column(Integer)
    source_sha256: Mapped[str | None] = mapped_column(String(64))
    entry_point: Mapped[str | None] = mapped_column(String(255))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    build_attempt: Mapped[int] = mapped_column(Integer, default=0)
    infra_failures: Mapped[int] = mapped_column(Integer, default=0)
    vulnerabilities: Mapped[dict[str, Any] | None] = mapped_column()
    build_started_at: Mapped[datetime | None] = mapped_column()
    build_finished_at: Mapped[datetime | None] = mapped_column()
    # A pending build is not claimed before this (backing off after infrastructure failures).
    build_not_before: Mapped[datetime | None] = mapped_column()


class SubmissionTransition(Base):
    """Every status a submission passed through, with when and why: the build's history."""

    __tablename__ = "submission_transitions"
    __table_args__ = (CheckConstraint(f"status IN ({sql_in(SubmissionStatus)})", name="status_known"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    submission_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    message: Mapped[str | None] = mapped_column(CappedText)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Match(Timestamped, Base):
    __tablename__ = "matches"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(MatchStatus)})", name="status_known"),
        CheckConstraint("agent1_id <> agent2_id", name="two_agents"),
        Index("ix_matches_status_created", "status", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"), index=True)
    agent1_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"), index=True)
    agent2_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"), index=True)
    agent1_submission_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("submissions.id"))
    agent2_submission_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("submissions.id"))
    status: Mapped[str] = mapped_column(String(20), default=MatchStatus.PENDING.value)
    winner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("agents.id"))
    agent1_score: Mapped[float | None] = mapped_column(Float)
    agent2_score: Mapped[float | None] = mapped_column(Float)
    agent1_elo_change: Mapped[int | None] = mapped_column(Integer)
    agent2_elo_change: Mapped[int | None] = mapped_column(Integer)
    is_rated: Mapped[bool] = mapped_column(Boolean, default=True)
    rated_at: Mapped[datetime | None] = mapped_column()
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)
    seed: Mapped[int | None] = mapped_column(Integer)
    replay_url: Mapped[str | None] = mapped_column(String(2048))
    replay_html_url: Mapped[str | None] = mapped_column(String(2048))
    error_message: Mapped[str | None] = mapped_column(CappedText)
    deadline_at: Mapped[datetime | None] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    # Why the game ended ("checkmate", "TIMEOUT by <agent>", ...) and each side's status
    # (OK, ERROR, TIMEOUT, INVALID), from the executor's result.
    end_reason: Mapped[str | None] = mapped_column(String(500))
    agent1_status: Mapped[str | None] = mapped_column(String(20))
    agent2_status: Mapped[str | None] = mapped_column(String(20))


class MatchmakingQueueEntry(Base):
    __tablename__ = "matchmaking_queue"
    __table_args__ = (
        CheckConstraint(f"status IN ({sql_in(QueueStatus)})", name="status_known"),
        Index("ix_matchmaking_queue_environment_status", "environment_id", "status"),
    )

    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    status: Mapped[str] = mapped_column(String(20), default=QueueStatus.WAITING.value)
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # What the matchmaker needs without a query per agent: cooldown, side alternation, daily cap.
    last_match_at: Mapped[datetime | None] = mapped_column()
    last_side: Mapped[int | None] = mapped_column(Integer)  # 1 or 2: the side it played last
    last_opponent_id: Mapped[uuid.UUID | None] = mapped_column()  # no immediate rematch
    # The match a `matched` entry waits on: only that match's end puts the agent back.
    match_id: Mapped[uuid.UUID | None] = mapped_column()
    day_started_at: Mapped[datetime | None] = mapped_column()
    day_count: Mapped[int] = mapped_column(Integer, default=0)


class MatchmakingHistory(Base):
    __tablename__ = "matchmaking_history"
    __table_args__ = (Index("ix_matchmaking_history_pair", "agent1_id", "agent2_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    match_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), unique=True)
    environment_id: Mapped[str] = mapped_column(ForeignKey("environments.id"))
    agent1_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    agent2_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RatingHistory(Base):
    __tablename__ = "rating_history"
    __table_args__ = (UniqueConstraint("agent_id", "match_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    match_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    elo_before: Mapped[int] = mapped_column(Integer)
    elo_after: Mapped[int] = mapped_column(Integer)
    elo_change: Mapped[int] = mapped_column(Integer)
    skill_mu_before: Mapped[float | None] = mapped_column(Float)
    skill_sigma_before: Mapped[float | None] = mapped_column(Float)
    skill_mu_after: Mapped[float | None] = mapped_column(Float)
    skill_sigma_after: Mapped[float | None] = mapped_column(Float)
    # Whom the agent met and how it went (1 win, 0.5 draw, 0 loss), so a history reads on its own.
    opponent_id: Mapped[uuid.UUID | None] = mapped_column()
    score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProcessedEvent(Base):
    """The record that makes a consumer idempotent: one row per (consumer, source, id)."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    source: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(255))
    processed_at: Mapped[datetime] = mapped_column(default=utcnow)


class RateLimitCounter(Base):
    """Fixed-window counters shared by every replica of a function."""

    __tablename__ = "rate_limit_counters"

    bucket: Mapped[str] = mapped_column(String(255), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class OutboxEvent(Base):
    """An event written in the transaction of the change it announces, until the broker accepts it.

    The row is the promise that the event will be published: the relay (`adapters/db/outbox.py`)
    deletes it once the broker has accepted it, and retries with backoff until then.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_due", "due_at"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)  # the CloudEvent in structured JSON
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = mapped_column()  # not before this: leased to a publisher, or backing off
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeaderboardStamp(Base):
    """A version per environment that changes in every transaction that changes its leaderboard.

    Triggers keep it (migration 0005: every insert, change or deletion of an agent, a renamed or
    deleted user), so no code path can forget it; a process serves its cached board while it holds.
    """

    __tablename__ = "leaderboard_stamps"

    environment_id: Mapped[str] = mapped_column(String(50), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
