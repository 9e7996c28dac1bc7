"""hub indexes: one account's active users, most recently active first

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The order of the hub's "first active users" card: last activity newest first, users who
    # were never active last. PostgreSQL's DESC puts NULLs first, so it needs NULLS LAST;
    # SQLite refuses NULLS LAST in an index and needs none (NULLs sort lowest, DESC puts them
    # last). Partial: only active users, the rows the card and its count read.
    if op.get_bind().dialect.name == "postgresql":
        last_activity = sa.text("last_activity_at DESC NULLS LAST")
    else:
        last_activity = sa.text("last_activity_at DESC")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(
            "ix_users_account_active",
            ["account_id", last_activity, "id"],
            unique=False,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_account_active")
