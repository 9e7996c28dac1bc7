"""accounts as a product: named plans, and an account's status (suspension)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 07:15:00
"""

import sqlalchemy as sa
from alembic import op

from scim_server.storage.models import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The plans a new install starts with; the operator changes them (`scim-server plan update`).
# "standard" keeps the limits every account had before plans existed.
PLANS = [
    {"name": "free", "seats_limit": 10, "operators_limit": 50},
    {"name": "standard", "seats_limit": 1000, "operators_limit": 100000},
    {"name": "enterprise", "seats_limit": 100000, "operators_limit": 1000000},
]


def upgrade() -> None:
    plans = op.create_table(
        "plans",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("seats_limit", sa.Integer(), nullable=False),
        sa.Column("operators_limit", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_plans")),
    )
    op.bulk_insert(plans, PLANS)
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), server_default="active",
                                      nullable=False))
        batch_op.add_column(sa.Column("suspended_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("suspended_at")
        batch_op.drop_column("status")
    op.drop_table("plans")
