"""sessions: a session epoch per user (sign-out ends the admin UI's sessions); the outbox's
copies of earlier mails lose their links

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 07:00:00
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# As scim_server.domain.mail.WITHHELD (copied: a migration must not change with the code).
WITHHELD = "[link withheld: mail is not configured]"
LINK = re.compile(r"(/admin/(?:invitation|email-confirmation)/)\S+")


def upgrade() -> None:
    # A plain ALTER TABLE on both engines: SQLite's batch mode would copy the table and
    # rebuild its indexes from reflection, losing the DESC of ix_users_account_active.
    op.add_column(
        "users",
        sa.Column("session_epoch", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    # Mails kept before this revision hold their invitation and email-change links in clear,
    # readable at GET /api/v1/outbox: they are credentials, withheld from now on.
    bind = op.get_bind()
    outbox = sa.table("outbox", sa.column("id", sa.Integer), sa.column("body", sa.Text))
    rows = bind.execute(sa.select(outbox.c.id, outbox.c.body)).all()
    for row_id, body in rows:
        redacted = LINK.sub(lambda m: m.group(1) + WITHHELD, body or "")
        if redacted != body:
            bind.execute(sa.update(outbox).where(outbox.c.id == row_id).values(body=redacted))


def downgrade() -> None:
    # SQLite 3.35+ drops a column in place (no copy, the indexes stay as they are).
    op.drop_column("users", "session_epoch")
