"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


# A snapshot of the four games at the time of this migration; later migrations change it.
ENVIRONMENTS = [
    {
        "id": "tic-tac-toe",
        "name": "Tic-Tac-Toe",
        "description": "Three in a row on a 3x3 board (PettingZoo classic tictactoe_v3).",
        "version": "v3",
        "config": {
            "players": 2,
            "engine": "pettingzoo.classic.tictactoe_v3",
            "observation": "board planes 3x3x2 (own marks, opponent marks) and action_mask[9]",
            "actions": "0-8: the cell to mark, column-major",
            "moveTimeoutSec": 2,
            "overageSec": 60,
            "startupTimeoutSec": 30,
            "matchTimeoutSec": 300,
            "maxSteps": 9,
        },
    },
    {
        "id": "connect-four",
        "name": "Connect Four",
        "description": "Four in a row on a 6x7 grid (PettingZoo classic connect_four_v3).",
        "version": "v3",
        "config": {
            "players": 2,
            "engine": "pettingzoo.classic.connect_four_v3",
            "observation": "board planes 6x7x2 (own pieces, opponent pieces) and action_mask[7]",
            "actions": "0-6: the column to drop a piece into",
            "moveTimeoutSec": 2,
            "overageSec": 60,
            "startupTimeoutSec": 30,
            "matchTimeoutSec": 300,
            "maxSteps": 42,
        },
    },
    {
        "id": "chess",
        "name": "Chess",
        "description": "Standard chess (PettingZoo classic chess_v6, python-chess rules).",
        "version": "v6",
        "config": {
            "players": 2,
            "engine": "pettingzoo.classic.chess_v6",
            "observation": "board planes 8x8x111 and action_mask[4672]",
            "actions": "0-4671: AlphaZero-style move encoding",
            "moveTimeoutSec": 5,
            "overageSec": 60,
            "startupTimeoutSec": 30,
            "matchTimeoutSec": 600,
            "maxSteps": 1000,
        },
    },
    {
        "id": "pong",
        "name": "Pong",
        "description": "Two paddles, one ball: first to 11 points or 1000 steps.",
        "version": "v1",
        "config": {
            "players": 2,
            "engine": "rlarena.pong",
            "observation": "[ball_x, ball_y, ball_vx, ball_vy, paddle1_y, paddle2_y, score1, score2]",
            "actions": "0 up, 1 stay, 2 down",
            "moveTimeoutSec": 1,
            "overageSec": 30,
            "startupTimeoutSec": 30,
            "matchTimeoutSec": 300,
            "maxSteps": 1000,
            "field": {"width": 1.0, "height": 1.0},
            "paddleHeight": 0.2,
            "paddleSpeed": 0.05,
            "ballRadius": 0.02,
            "ballSpeed": 0.02,
            "paddleX": [0.05, 0.95],
            "pointsToWin": 11,
        },
    },
]


def seed_environments() -> None:
    table = sa.table(
        "environments",
        sa.column("id", sa.String),
        sa.column("name", sa.String),
        sa.column("description", sa.Text),
        sa.column("version", sa.String),
        sa.column("config", sa.JSON),
        sa.column("is_active", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    now = datetime.now(UTC).replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else datetime.now(UTC)
    op.bulk_insert(table, [{**env, "is_active": True, "created_at": now} for env in ENVIRONMENTS])


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("version", sa.String(length=20), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environments")),
    )
    op.create_table(
        "processed_events",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("event_type", sa.String(length=255), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "source", "event_id", name=op.f("pk_processed_events")),
    )
    op.create_table(
        "rate_limit_counters",
        sa.Column("bucket", sa.String(length=255), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start", name=op.f("pk_rate_limit_counters")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("full_name", sa.String(length=100), nullable=True),
        sa.Column("avatar_url", sa.String(length=2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "agents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("elo", sa.Integer(), nullable=False),
        sa.Column("wins", sa.Integer(), nullable=False),
        sa.Column("losses", sa.Integer(), nullable=False),
        sa.Column("draws", sa.Integer(), nullable=False),
        sa.Column("total_matches", sa.Integer(), nullable=False),
        sa.Column("rated_matches", sa.Integer(), nullable=False),
        sa.Column("skill_mu", sa.Float(), nullable=False),
        sa.Column("skill_sigma", sa.Float(), nullable=False),
        sa.Column("active_submission_id", sa.Uuid(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("elo >= 0", name=op.f("ck_agents_elo_not_negative")),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_agents_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_agents_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
    )
    op.create_index("ix_agents_elo", "agents", ["elo"], unique=False)
    op.create_index("ix_agents_environment_elo", "agents", ["environment_id", "elo"], unique=False)
    op.create_index(op.f("ix_agents_user_id"), "agents", ["user_id"], unique=False)
    op.create_index(
        "uq_agents_user_id_name_live",
        "agents",
        ["user_id", "name"],
        unique=True,
        sqlite_where=sa.text("deleted_at IS NULL"),
        postgresql_where=sa.text("deleted_at IS NULL"),
    )
    op.create_table(
        "matchmaking_queue",
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_match_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_side", sa.Integer(), nullable=True),
        sa.Column("last_opponent_id", sa.Uuid(), nullable=True),
        sa.Column("match_id", sa.Uuid(), nullable=True),
        sa.Column("day_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("day_count", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('waiting', 'matched')",
            name=op.f("ck_matchmaking_queue_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_matchmaking_queue_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_matchmaking_queue_environment_id_environments"),
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_matchmaking_queue")),
    )
    op.create_index(
        "ix_matchmaking_queue_environment_status",
        "matchmaking_queue",
        ["environment_id", "status"],
        unique=False,
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("code_url", sa.String(length=2048), nullable=True),
        sa.Column("docker_image_url", sa.String(length=2048), nullable=True),
        sa.Column("build_job_name", sa.String(length=253), nullable=True),
        sa.Column("build_pod_name", sa.String(length=253), nullable=True),
        sa.Column("build_log", sa.Text(), nullable=True),
        sa.Column("retry_count", sa.Integer(), nullable=False),
        sa.Column("last_retry_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("source_key", sa.String(length=1024), nullable=True),
        sa.Column("source_filename", sa.String(length=255), nullable=True),
        sa.Column("source_size", sa.Integer(), nullable=True),
        sa.Column("source_sha256", sa.String(length=64), nullable=True),
        sa.Column("entry_point", sa.String(length=255), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("build_attempt", sa.Integer(), nullable=False),
        sa.Column("infra_failures", sa.Integer(), nullable=False),
        sa.Column("vulnerabilities", sa.JSON(), nullable=True),
        sa.Column("build_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("build_finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('uploading', 'pending', 'building', 'validating', 'active', 'failed', 'inactive')",
            name=op.f("ck_submissions_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_submissions_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submissions")),
        sa.UniqueConstraint("agent_id", "version", name=op.f("uq_submissions_agent_id")),
    )
    op.create_index(op.f("ix_submissions_agent_id"), "submissions", ["agent_id"], unique=False)
    op.create_index("ix_submissions_queue", "submissions", ["status", "priority", "created_at"], unique=False)
    op.create_index(
        "uq_submissions_one_active",
        "submissions",
        ["agent_id"],
        unique=True,
        sqlite_where=sa.text("is_active"),
        postgresql_where=sa.text("is_active"),
    )
    op.create_table(
        "submission_transitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("submission_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('uploading', 'pending', 'building', 'validating', 'active', 'failed', 'inactive')",
            name=op.f("ck_submission_transitions_status_known"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"],
            ["submissions.id"],
            name=op.f("fk_submission_transitions_submission_id_submissions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_transitions")),
    )
    op.create_index(
        op.f("ix_submission_transitions_submission_id"), "submission_transitions", ["submission_id"], unique=False
    )
    op.create_table(
        "matches",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.String(length=50), nullable=False),
        sa.Column("agent1_id", sa.Uuid(), nullable=False),
        sa.Column("agent2_id", sa.Uuid(), nullable=False),
        sa.Column("agent1_submission_id", sa.Uuid(), nullable=True),
        sa.Column("agent2_submission_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("winner_id", sa.Uuid(), nullable=True),
        sa.Column("agent1_score", sa.Float(), nullable=True),
        sa.Column("agent2_score", sa.Float(), nullable=True),
        sa.Column("agent1_elo_change", sa.Integer(), nullable=True),
        sa.Column("agent2_elo_change", sa.Integer(), nullable=True),
        sa.Column("is_rated", sa.Boolean(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_public", sa.Boolean(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("replay_url", sa.String(length=2048), nullable=True),
        sa.Column("replay_html_url", sa.String(length=2048), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed', 'cancelled')",
            name=op.f("ck_matches_status_known"),
        ),
        sa.CheckConstraint("agent1_id <> agent2_id", name=op.f("ck_matches_two_agents")),
        sa.ForeignKeyConstraint(["agent1_id"], ["agents.id"], name=op.f("fk_matches_agent1_id_agents")),
        sa.ForeignKeyConstraint(
            ["agent1_submission_id"],
            ["submissions.id"],
            name=op.f("fk_matches_agent1_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(["agent2_id"], ["agents.id"], name=op.f("fk_matches_agent2_id_agents")),
        sa.ForeignKeyConstraint(
            ["agent2_submission_id"],
            ["submissions.id"],
            name=op.f("fk_matches_agent2_submission_id_submissions"),
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_matches_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(["winner_id"], ["agents.id"], name=op.f("fk_matches_winner_id_agents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matches")),
    )
    op.create_index(op.f("ix_matches_agent1_id"), "matches", ["agent1_id"], unique=False)
    op.create_index(op.f("ix_matches_agent2_id"), "matches", ["agent2_id"], unique=False)
    op.create_index(op.f("ix_matches_environment_id"), "matches", ["environment_id"], unique=False)
    op.create_index("ix_matches_status_created", "matches", ["status", "created_at"], unique=False)
    op.create_table(
        "matchmaking_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.String(length=50), nullable=False),
        sa.Column("agent1_id", sa.Uuid(), nullable=False),
        sa.Column("agent2_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent1_id"],
            ["agents.id"],
            name=op.f("fk_matchmaking_history_agent1_id_agents"),
        ),
        sa.ForeignKeyConstraint(
            ["agent2_id"],
            ["agents.id"],
            name=op.f("fk_matchmaking_history_agent2_id_agents"),
        ),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_matchmaking_history_environment_id_environments"),
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.id"],
            name=op.f("fk_matchmaking_history_match_id_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matchmaking_history")),
        sa.UniqueConstraint("match_id", name=op.f("uq_matchmaking_history_match_id")),
    )
    op.create_index(
        "ix_matchmaking_history_pair",
        "matchmaking_history",
        ["agent1_id", "agent2_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "rating_history",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agent_id", sa.Uuid(), nullable=False),
        sa.Column("match_id", sa.Uuid(), nullable=False),
        sa.Column("elo_before", sa.Integer(), nullable=False),
        sa.Column("elo_after", sa.Integer(), nullable=False),
        sa.Column("elo_change", sa.Integer(), nullable=False),
        sa.Column("skill_mu_before", sa.Float(), nullable=True),
        sa.Column("skill_sigma_before", sa.Float(), nullable=True),
        sa.Column("skill_mu_after", sa.Float(), nullable=True),
        sa.Column("skill_sigma_after", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_rating_history_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["matches.id"],
            name=op.f("fk_rating_history_match_id_matches"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_history")),
        sa.UniqueConstraint("agent_id", "match_id", name=op.f("uq_rating_history_agent_id")),
    )
    op.create_index(op.f("ix_rating_history_agent_id"), "rating_history", ["agent_id"], unique=False)
    with op.batch_alter_table("agents") as batch_op:
        batch_op.create_foreign_key(
            op.f("fk_agents_active_submission_id_submissions"),
            "submissions",
            ["active_submission_id"],
            ["id"],
            ondelete="SET NULL",
        )
    seed_environments()


def downgrade() -> None:
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_constraint(op.f("fk_agents_active_submission_id_submissions"), type_="foreignkey")
    op.drop_table("rating_history")
    op.drop_table("matchmaking_history")
    op.drop_table("matches")
    op.drop_table("submission_transitions")
    op.drop_table("submissions")
    op.drop_table("matchmaking_queue")
    op.drop_table("agents")
    op.drop_table("users")
    op.drop_table("rate_limit_counters")
    op.drop_table("processed_events")
    op.drop_table("environments")
