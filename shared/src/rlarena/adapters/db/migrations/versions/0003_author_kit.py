"""clear results (end reason, each side's status, the opponent in rating history) and house agents

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("house_name", sa.String(length=50), nullable=True))
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("end_reason", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("agent1_status", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("agent2_status", sa.String(length=20), nullable=True))
    with op.batch_alter_table("rating_history") as batch:
        batch.add_column(sa.Column("opponent_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rating_history") as batch:
        batch.drop_column("score")
        batch.drop_column("opponent_id")
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("agent2_status")
        batch.drop_column("agent1_status")
        batch.drop_column("end_reason")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("house_name")
