"""operator tokens: the platform API's credentials, of no account

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:40:00
"""

import sqlalchemy as sa
from alembic import op

from scim_server.storage.models import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "operator_tokens",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_operator_tokens_secret_hash")),
    )


def downgrade() -> None:
    op.drop_table("operator_tokens")
