"""audit filters: the audit page filters by door, action and time range in the query

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 09:30:00
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain CREATE INDEX (no batch mode): batch mode would rebuild the table on SQLite.
    op.create_index("ix_audit_log_account_door", "audit_log", ["account_id", "door", "id"])
    op.create_index("ix_audit_log_account_action", "audit_log", ["account_id", "action", "id"])
    op.create_index("ix_audit_log_account_at", "audit_log", ["account_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_account_at", table_name="audit_log")
    op.drop_index("ix_audit_log_account_action", table_name="audit_log")
    op.drop_index("ix_audit_log_account_door", table_name="audit_log")
