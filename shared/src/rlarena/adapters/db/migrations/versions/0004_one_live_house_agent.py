"""one live house agent per game and catalogue name (and the index the house seeding reads)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_LIVE_HOUSE = "house_name IS NOT NULL AND deleted_at IS NULL"


def upgrade() -> None:
    op.create_index(
        "uq_agents_house_live",
        "agents",
        ["environment_id", "house_name"],
        unique=True,
        sqlite_where=sa.text(_LIVE_HOUSE),
        postgresql_where=sa.text(_LIVE_HOUSE),
    )


def downgrade() -> None:
    op.drop_index("uq_agents_house_live", table_name="agents")
