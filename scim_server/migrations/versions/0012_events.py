"""events: the outbox of provisioning events (RFC 9967) and each account's event position

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 08:00:00
"""

import sqlalchemy as sa
from alembic import op

import scim_server.storage.models

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A plain ALTER TABLE (as 0011): batch mode would rebuild the table from reflection.
    op.add_column(
        "accounts",
        sa.Column("event_position", POSITION, server_default=sa.text("0"), nullable=False),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("position", POSITION, nullable=False),
        sa.Column("at", scim_server.storage.models.UTCDateTime(), nullable=False),
        sa.Column("door", sa.String(length=10), nullable=False),
        sa.Column("actor_user_id", sa.String(length=32), nullable=True),
        sa.Column("actor_credential_id", sa.String(length=64), nullable=True),
        sa.Column("client", sa.String(length=200), nullable=True),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("resource_type", sa.String(length=20), nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_events_account_id_accounts"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint("account_id", "position", name="uq_events_account_position"),
    )
    op.create_index("ix_events_account_resource", "events", ["account_id", "resource_id"])


def downgrade() -> None:
    op.drop_index("ix_events_account_resource", table_name="events")
    op.drop_table("events")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("event_position")
