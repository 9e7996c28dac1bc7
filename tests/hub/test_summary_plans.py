"""The hub summary's queries read indexes, not tables: the plans each engine picks for the exact
statements ``hub_summary`` sends, on an analysed account (EXPLAIN, on SQLite and PostgreSQL).

Speed itself is measured by ``bench/hub_summary.py``; these only pin the plan shapes that keep
the summary from growing with the number of users or memberships.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from scim_server.hub.summary import hub_summary
from scim_server.storage.models import Account, Group, GroupMember, User
from tests.domain.factories import T0, make_account
from tests.hub.world import NOW


def _new_id() -> str:
    return uuid.uuid4().hex


def _statements(engine: Engine, session: Session, account: Account) -> list[tuple[str, Any]]:
    """The statements (with their parameters) one summary of ``account`` sends."""
    sent: list[tuple[str, Any]] = []

    def grab(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", grab)
    try:
        hub_summary(session, account, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    return sent


def _plan(session: Session, statement: str, parameters: Any) -> str:
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in rows)
    rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    return "\n".join(str(row[-1]) for row in rows)


def _the(sent: list[tuple[str, Any]], marker: str) -> tuple[str, Any]:
    (found,) = [(s, p) for s, p in sent if marker in " ".join(s.split())]
    return found


def _analyse(session: Session) -> None:
    session.execute(sa.text("ANALYZE"))


@pytest.fixture
def crowd(session: Session) -> Account:
    """An account of 2,000 users (six in seven active, a third never active), 40 empty groups
    and one group holding every user: the shape whose statistics (one distinct group_id among
    the memberships) led PostgreSQL to scan every membership once per group."""
    account = make_account(session, "crowd", seats_limit=10_000, operators_limit=10_000)
    users = [_new_id() for _ in range(2000)]
    session.execute(sa.insert(User), [
        {"id": uid, "account_id": account.id, "user_name": f"u{n}", "user_name_key": f"u{n}",
         "user_type": "Member", "status": "inactive" if n % 7 == 0 else "active",
         "last_activity_at": None if n % 3 == 0 else T0.replace(minute=n % 60),
         "created_at": T0, "modified_at": T0, "version": 1, "data": {}, "search": {}}
        for n, uid in enumerate(users)])
    groups = [_new_id() for _ in range(41)]
    session.execute(sa.insert(Group), [
        {"id": gid, "account_id": account.id, "display_name": f"g{n}",
         "display_name_key": f"g{n}", "created_at": T0, "modified_at": T0, "version": 1,
         "data": {}, "search": {}}
        for n, gid in enumerate(groups)])
    session.execute(sa.insert(GroupMember), [
        {"group_id": groups[0], "member_id": uid, "account_id": account.id,
         "member_type": "User"} for uid in users])
    session.commit()
    _analyse(session)
    return account


def test_the_first_active_users_come_from_the_partial_index(
    session: Session, engine: Engine, crowd: Account
) -> None:
    sent = _statements(engine, session, crowd)
    statement, parameters = _the(sent, "ORDER BY users.last_activity_at DESC NULLS LAST")
    if session.connection().dialect.name == "postgresql":
        # Forbid the sequential scan, as the storage's index tests do: the question is which
        # index can serve the order, not whether 2,000 rows are worth an index.
        session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    plan = _plan(session, statement, parameters)
    assert "ix_users_account_active" in plan, plan
    # The index gives the order: no sort of the account's active users.
    assert "Sort" not in plan and "TEMP B-TREE" not in plan, plan


def test_the_empty_groups_are_found_by_one_probe_per_group(
    session: Session, engine: Engine, crowd: Account
) -> None:
    summary = hub_summary(session, crowd, now=NOW)
    assert (summary.operator_groups.total, summary.operator_groups.without_members) == (41, 40)
    sent = _statements(engine, session, crowd)
    # The group figures and the first empty groups.
    probing = [(s, p) for s, p in sent if "FROM group_members" in s]
    assert len(probing) == 2, sent
    for statement, parameters in probing:
        plan = _plan(session, statement, parameters)
        if session.connection().dialect.name == "postgresql":
            assert "Index Only Scan using pk_group_members" in plan, plan
            assert "Seq Scan on group_members" not in plan, plan
            assert "ix_group_members_member" not in plan, plan
        else:
            assert "sqlite_autoindex_group_members_1 (group_id" in plan, plan
            assert "SCAN group_members" not in plan, plan
