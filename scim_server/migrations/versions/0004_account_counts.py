"""account counts: operators_used and paying_active kept on the account row

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 23:55:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operators_used", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("paying_active", sa.Integer(), server_default="0", nullable=False))
    # Existing accounts start from the real counts; the ORM hook keeps them from here on.
    op.execute(
        "UPDATE accounts SET "
        "operators_used = (SELECT count(*) FROM users WHERE users.account_id = accounts.id "
        "AND users.status != 'deleted'), "
        "paying_active = (SELECT count(*) FROM users WHERE users.account_id = accounts.id "
        "AND users.status = 'active' AND users.user_type IN ('Admin', 'Member'))"
    )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("paying_active")
        batch_op.drop_column("operators_used")
