"""The audit log's writing rule (a change that changes nothing is not logged) and its filters
(door, action, time range: in the query, on indexes), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from scim_server.domain import users
from scim_server.domain.actors import Actor
from scim_server.domain.audit import list_audit, people, record_audit, record_audits
from scim_server.storage.models import Account, User
from tests.domain.factories import make_user


def test_a_change_that_changes_nothing_is_not_logged(session: Session, account: Account,
                                                     actor: Actor) -> None:
    m = make_user(session, account, "m")
    same = {"user_type": "Member", "status": "active"}
    record_audit(session, account, actor=actor, action="user.change_type", target_type="user",
                 target_id=m.id, before=same, after=dict(same))
    assert list_audit(session, account) == []
    # An entry without before and after records that the action happened: kept.
    record_audit(session, account, actor=actor, action="group.rename", target_type="group",
                 target_id="g1", before=None, after=None)
    # Two different names, both scrubbed to the same marker, are still a change.
    record_audit(session, account, actor=actor, action="user.update_profile", target_type="user",
                 target_id=m.id, before={"display_name": "Ann"}, after={"display_name": "Anne"})
    # In a batch, only the no-op is left out.
    record_audits(session, account, actor=actor, action="user.create", target_type="user",
                  changes=[("a", {"x": 1}, {"x": 1}), ("b", None, {"x": 1})])
    assert [(e.action, e.target_id) for e in list_audit(session, account)] == [
        ("user.create", "b"), ("user.update_profile", m.id), ("group.rename", "g1")]


def test_domain_services_do_not_log_a_no_op(session: Session, account: Account,
                                            actor: Actor) -> None:
    m = make_user(session, account, "m")
    users.change_user_type(session, account, m.id, "Member", actor=actor)
    assert list_audit(session, account) == []
    users.update_profile(session, account, m.id, {"title": "CTO"}, actor=actor)
    users.update_profile(session, account, m.id, {"title": "CTO"}, actor=actor)
    users.change_user_type(session, account, m.id, "Viewer", actor=actor)
    users.deactivate_user(session, account, m.id, actor=actor)
    users.deactivate_user(session, account, m.id, actor=actor)
    assert [e.action for e in list_audit(session, account)] == [
        "user.deactivate", "user.change_type", "user.update_profile"]


def test_filters_by_door_action_and_time(session: Session, account: Account,
                                         admin: User) -> None:
    start = dt.datetime(2026, 11, 1, 12, tzinfo=dt.UTC)
    for i in range(30):
        door = ("api", "ui", "scim")[i % 3]
        record_audit(session, account, actor=Actor(door=door, user_id=admin.id),
                     action=("user.activate", "user.deactivate")[i % 2], target_type="user",
                     target_id=f"t{i}", before={"n": i}, after={"n": i + 1},
                     clock=lambda i=i: start + dt.timedelta(days=i))
    ui = list_audit(session, account, door="ui")
    assert [e.target_id for e in ui] == [f"t{i}" for i in range(28, -1, -3)]
    both = list_audit(session, account, door="ui", action="user.deactivate")
    assert [e.target_id for e in both] == [f"t{i}" for i in range(25, -1, -6)]
    window = list_audit(session, account, since=start + dt.timedelta(days=10),
                        until=start + dt.timedelta(days=13))
    assert [e.target_id for e in window] == ["t12", "t11", "t10"]
    paged = list_audit(session, account, door="api", limit=3)
    older = list_audit(session, account, door="api", limit=3, before_id=paged[-1].id)
    assert [e.target_id for e in paged + older] == [f"t{i}" for i in (27, 24, 21, 18, 15, 12)]


def test_people_are_read_in_one_query_with_deleted_users_marked(
        session: Session, account: Account, actor: Actor) -> None:
    ann = make_user(session, account, "ann")
    gone = make_user(session, account, "gone")
    users.deactivate_user(session, account, gone.id, actor=actor)
    users.delete_user(session, account, gone.id, actor=actor)
    found = people(session, account, [ann.id, gone.id, "0" * 32, ""])
    assert set(found) == {ann.id, gone.id}
    assert found[gone.id].deleted and not found[ann.id].deleted
    assert found[ann.id].email == ann.email


@pytest.mark.parametrize(("where", "index"), [
    ("door = 'ui'", "ix_audit_log_account_door"),
    ("action = 'user.deactivate'", "ix_audit_log_account_action"),
])
def test_the_filters_use_an_index(session: Session, account: Account, where: str,
                                  index: str) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the plan is read with SQLite's EXPLAIN QUERY PLAN")
    plan = session.execute(text(
        f"EXPLAIN QUERY PLAN SELECT * FROM audit_log WHERE account_id = :a AND {where} "
        "ORDER BY id DESC LIMIT 51"), {"a": account.id}).all()
    assert index in " ".join(str(row[-1]) for row in plan)
