"""leaderboard stamps: a version per environment, bumped by triggers in every transaction that
changes what a leaderboard shows, so a process may serve its cached board while the stamp holds

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# A stamp row starts at a random version: a table emptied and refilled (tests TRUNCATE it) never
# repeats a version a process may still hold a board for.
_PG_FUNCTION = """
CREATE FUNCTION bump_leaderboard_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    environment text;
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        UPDATE leaderboard_stamps SET version = version + 1;
    ELSE
        IF TG_OP = 'DELETE' THEN
            environment := OLD.environment_id;
        ELSE
            environment := NEW.environment_id;
        END IF;
        INSERT INTO leaderboard_stamps (environment_id, version)
        VALUES (environment, floor(random() * 1e15)::bigint)
        ON CONFLICT (environment_id) DO UPDATE SET version = leaderboard_stamps.version + 1;
    END IF;
    RETURN NULL;
END
$$
"""

# Deferred to COMMIT: the stamp row is locked for the commit only, not for the whole transaction
# (ratings would otherwise queue behind each other on it).
_PG_TRIGGERS = {
    "agents_leaderboard_stamp_insert_delete": "AFTER INSERT OR DELETE ON agents",
    "agents_leaderboard_stamp_update": "AFTER UPDATE ON agents",
    "users_leaderboard_stamp": "AFTER UPDATE OF username OR DELETE ON users",
}
_PG_WHEN = {
    "agents_leaderboard_stamp_update": "WHEN (OLD.* IS DISTINCT FROM NEW.*)",
    "users_leaderboard_stamp": "",
}

_SQLITE_BUMP = (
    "INSERT INTO leaderboard_stamps (environment_id, version) VALUES ({row}.environment_id, abs(random() % 1000000000000000)) "
    "ON CONFLICT (environment_id) DO UPDATE SET version = version + 1;"
)
_SQLITE_TRIGGERS = {
    "agents_leaderboard_stamp_insert": ("AFTER INSERT ON agents", _SQLITE_BUMP.format(row="NEW")),
    "agents_leaderboard_stamp_update": ("AFTER UPDATE ON agents", _SQLITE_BUMP.format(row="NEW")),
    "agents_leaderboard_stamp_delete": ("AFTER DELETE ON agents", _SQLITE_BUMP.format(row="OLD")),
    "users_leaderboard_stamp_update": (
        "AFTER UPDATE OF username ON users",
        "UPDATE leaderboard_stamps SET version = version + 1;",
    ),
    "users_leaderboard_stamp_delete": ("AFTER DELETE ON users", "UPDATE leaderboard_stamps SET version = version + 1;"),
}


def upgrade() -> None:
    op.create_table(
        "leaderboard_stamps",
        sa.Column("environment_id", sa.String(length=50), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("environment_id", name=op.f("pk_leaderboard_stamps")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for name, when in _PG_TRIGGERS.items():
            op.execute(
                f"CREATE CONSTRAINT TRIGGER {name} {when} DEFERRABLE INITIALLY DEFERRED "
                f"FOR EACH ROW {_PG_WHEN.get(name, '')} EXECUTE FUNCTION bump_leaderboard_stamp()"
            )
    else:
        for name, (when, action) in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} FOR EACH ROW BEGIN {action} END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name, when in _PG_TRIGGERS.items():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {when.rsplit(' ', 1)[1]}")
        op.execute("DROP FUNCTION IF EXISTS bump_leaderboard_stamp()")
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table("leaderboard_stamps")
