"""set_poll: signed Security Event Tokens (the signing keys), RFC 8936 poll-based delivery (each
receiver's acknowledgements), and a transaction id on events (RFC 8417's ``txn``)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 09:30:00
"""

import sqlalchemy as sa
from alembic import op

import scim_server.storage.models

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

POSITION = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # A plain ALTER TABLE (as 0011, 0012): batch mode would rebuild the table from reflection.
    op.add_column("events", sa.Column("txn", sa.String(length=32), nullable=True))
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("public_jwk", sa.JSON(), nullable=False),
        sa.Column("private_key", sa.Text(), nullable=False),
        sa.Column("created_at", scim_server.storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_keys")),
        sa.UniqueConstraint("generation", name="uq_signing_keys_generation"),
    )
    # Each poll-based receiver's acknowledged prefix, and its acks beyond it (see
    # storage.domain_tables.SetPollReceiver).
    op.create_table(
        "set_poll_receivers",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("acked_position", POSITION, nullable=False),
        sa.Column("updated_at", scim_server.storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_set_poll_receivers_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "receiver", name=op.f("pk_set_poll_receivers")),
    )
    op.create_table(
        "set_poll_acks",
        sa.Column("account_id", sa.String(length=32), nullable=False),
        sa.Column("receiver", sa.String(length=64), nullable=False),
        sa.Column("position", POSITION, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"],
                                name=op.f("fk_set_poll_acks_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id", "receiver", "position",
                                name=op.f("pk_set_poll_acks")),
    )


def downgrade() -> None:
    op.drop_table("set_poll_acks")
    op.drop_table("set_poll_receivers")
    op.drop_table("signing_keys")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("txn")
