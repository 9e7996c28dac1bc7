"""account settings of its Admins: a display name and the default type of SCIM creates

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 07:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("default_user_type", sa.String(length=20),
                                      server_default="Member", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("default_user_type")
        batch_op.drop_column("display_name")
