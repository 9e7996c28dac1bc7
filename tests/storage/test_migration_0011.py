"""Revision 0011 withholds the links of the mails the outbox kept before it, and gives every
user a session epoch (SQLite, the engine where adding a column can rebuild a table)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from scim_server.db import make_engine
from scim_server.migrate import upgrade


def test_upgrade_withholds_earlier_links(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        upgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO accounts (id, name, domains, guest_denylist, plan, seats_limit, "
                "operators_limit, created_at, activity_tracking_since) VALUES ('a1', 'acme', "
                "'[]', '[]', 'team', 5, 5, '2026-01-01', '2026-01-01')"))
            conn.execute(sa.text(
                "INSERT INTO outbox (account_id, to_address, subject, body, created_at) VALUES "
                "('a1', 'x@y.test', 'Confirm', 'Confirm: http://h/admin/email-confirmation/"
                "tok_SECRET1\nBye', '2026-01-01'), ('a1', 'z@y.test', 'Invite', "
                "'Accept: https://h/admin/invitation/tok_SECRET2', '2026-01-01')"))
        upgrade(engine)
        with engine.connect() as conn:
            bodies = conn.execute(sa.text("SELECT body FROM outbox ORDER BY id")).scalars().all()
            columns = {c["name"] for c in sa.inspect(conn).get_columns("users")}
            active_index = conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'ix_users_account_active'").scalar()
    finally:
        engine.dispose()
    assert not any("SECRET" in body for body in bodies)
    assert bodies[0] == ("Confirm: http://h/admin/email-confirmation/"
                         "[link withheld: mail is not configured]\nBye")
    assert "session_epoch" in columns
    # Added in place: the hub's index keeps its order (a batch copy would rebuild it without).
    assert "last_activity_at DESC" in active_index
