"""data path: indexes that serve SCIM pages in id order; documents kept in their order; one audit vocabulary

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

VISIBLE = sa.text("status <> 'deleted'")


def upgrade() -> None:
    # A page of users or groups orders on the id within one account; users skip deleted rows.
    op.create_index("ix_users_account_visible", "users", ["account_id", "id"],
                    postgresql_where=VISIBLE, sqlite_where=VISIBLE)
    op.create_index("ix_groups_account_id", "groups", ["account_id", "id"])
    if op.get_bind().dialect.name == "postgresql":
        # The stored SCIM documents as JSON text: JSONB reorders keys, and a read served from
        # the document must be the model's JSON to the byte. (Filters read ``search``.)
        for table in ("users", "groups"):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN data TYPE json USING data::json")
    # The SCIM door wrote "User"/"Group" where every other door writes "user"/"group".
    op.execute("UPDATE audit_log SET target_type = lower(target_type) "
               "WHERE target_type IN ('User', 'Group')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in ("users", "groups"):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN data TYPE jsonb USING data::jsonb")
    op.drop_index("ix_groups_account_id", table_name="groups")
    op.drop_index("ix_users_account_visible", table_name="users")
