"""webhooks: endpoints (sealed secrets, delivery position, retry state, lease) and their log

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op

import scim_server.storage.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WHEN = scim_server.storage.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.String(length=400), nullable=True),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("old_secret_sealed", sa.Text(), nullable=True),
        sa.Column("old_secret_expires_at", WHEN(), nullable=True),
        sa.Column("position", BIG, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", WHEN(), nullable=True),
        sa.Column("next_attempt_at", WHEN(), nullable=True),
        sa.Column("failing_since", WHEN(), nullable=True),
        sa.Column("last_attempt_at", WHEN(), nullable=True),
        sa.Column("last_success_at", WHEN(), nullable=True),
        sa.Column("last_error", sa.String(length=400), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", WHEN(), nullable=True),
        sa.Column("claimed_at", WHEN(), nullable=True),
        sa.Column("created_at", WHEN(), nullable=False),
        sa.Column("modified_at", WHEN(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_webhook_endpoints_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index("ix_webhook_endpoints_account", "webhook_endpoints",
                    ["account_id", "created_at"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BIG, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("endpoint_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=32), nullable=False),
        sa.Column("position", BIG, nullable=True),
        sa.Column("event_type", sa.String(length=80), nullable=False),
        sa.Column("at", WHEN(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_webhook_deliveries_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhook_endpoints.id"],
                                name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id", "id"])
    op.create_index("ix_webhook_deliveries_at", "webhook_deliveries", ["at"])
    # The worker's purge reads events by age.
    op.create_index("ix_events_at", "events", ["at"])


def downgrade() -> None:
    op.drop_index("ix_events_at", table_name="events")
    op.drop_index("ix_webhook_deliveries_at", table_name="webhook_deliveries")
    op.drop_index("ix_webhook_deliveries_endpoint", table_name="webhook_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_index("ix_webhook_endpoints_account", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
