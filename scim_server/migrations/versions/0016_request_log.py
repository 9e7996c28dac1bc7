"""request log: the SCIM requests each identity provider sent, and each connection's profile

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 09:30:00
"""

import sqlalchemy as sa
from alembic import op

import scim_server.storage.models

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A plain ALTER TABLE (as 0011): batch mode would rebuild the table from reflection.
    op.add_column("credentials", sa.Column("idp_profile", sa.String(length=20), nullable=True))
    # No foreign key to accounts: the log is written apart from provisioning (on SQLite in a
    # file of its own), and its retention removes what a deleted account left.
    op.create_table(
        "scim_requests",
        sa.Column("id", ROW_ID, autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("at", scim_server.storage.models.UTCDateTime(), nullable=False),
        sa.Column("connection_id", sa.String(length=32), nullable=True),
        sa.Column("connection_label", sa.String(length=200), nullable=True),
        sa.Column("profile", sa.String(length=20), nullable=True),
        sa.Column("user_agent", sa.String(length=200), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=400), nullable=False),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("status_class", sa.Integer(), nullable=False),
        sa.Column("scim_type", sa.String(length=60), nullable=True),
        sa.Column("rule", sa.String(length=80), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("quirks", sa.JSON(), nullable=False),
        sa.Column("resource_ids", sa.JSON(), nullable=False),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("request_truncated", sa.Boolean(), nullable=False),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("response_truncated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scim_requests")),
    )
    op.create_index("ix_scim_requests_account_id_order", "scim_requests", ["account_id", "id"])
    op.create_index("ix_scim_requests_account_at", "scim_requests", ["account_id", "at"])
    op.create_index("ix_scim_requests_account_connection", "scim_requests",
                    ["account_id", "connection_id", "id", "status_class"])
    op.create_index("ix_scim_requests_account_status", "scim_requests",
                    ["account_id", "status_class", "id"])
    op.create_table(
        "scim_request_resources",
        sa.Column("request_id", ROW_ID, nullable=False),
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "resource_id",
                                name=op.f("pk_scim_request_resources")),
    )
    op.create_index("ix_scim_request_resources_lookup", "scim_request_resources",
                    ["account_id", "resource_id", "request_id"])
    op.create_table(
        "scim_connections",
        sa.Column("connection_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("detected_profile", sa.String(length=20), nullable=False),
        sa.Column("detected_at", scim_server.storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("connection_id", name=op.f("pk_scim_connections")),
    )


def downgrade() -> None:
    op.drop_table("scim_connections")
    op.drop_index("ix_scim_request_resources_lookup", table_name="scim_request_resources")
    op.drop_table("scim_request_resources")
    for name in ("status", "connection", "at", "id_order"):
        op.drop_index(f"ix_scim_requests_account_{name}", table_name="scim_requests")
    op.drop_table("scim_requests")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("idp_profile")
