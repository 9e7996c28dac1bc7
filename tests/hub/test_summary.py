"""Every figure of the hub against the hand-counted account of ``world.py``, on both engines,
and the promise that the summary costs a constant number of queries."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, delete, event, select
from sqlalchemy.orm import Session

from scim_server.hub.summary import hub_summary
from scim_server.storage.models import Account, Group, GroupMember, User
from tests.domain.factories import make_account, make_user
from tests.hub.world import NOW, World, credential, group, schedule, t


def test_operators_count_everyone_not_deleted(session: Session, world: World) -> None:
    summary = hub_summary(session, world.account, now=NOW)
    assert summary.operators.total == 7
    assert summary.operators.active_total == 5
    # Most recent activity first; users without activity (carol, erin) after, by id.
    never = sorted([world.users["carol"].id, world.users["erin"].id])
    assert [o.id for o in summary.operators.active] == [
        world.users["alice"].id, world.users["dave"].id, world.users["bob"].id, *never
    ]
    first = summary.operators.active[0]
    assert (first.display_name, first.user_type) == ("Alice", "Admin")
    assert first.last_activity_at == NOW - dt.timedelta(days=1)


def test_groups_without_members(session: Session, world: World) -> None:
    summary = hub_summary(session, world.account, now=NOW)
    assert summary.operator_groups.total == 4
    # Parent holds a group and no user: it has a member, so it is not empty.
    assert summary.operator_groups.without_members == 2
    assert [g.display_name for g in summary.operator_groups.empty] == ["Alpha", "Zulu"]


def test_api_users_and_the_30_day_rule(session: Session, world: World) -> None:
    summary = hub_summary(session, world.account, now=NOW)
    # alice, bob, carol, dave, frank; hank is deleted and carol's revoked token does not count.
    assert summary.api_users.total == 5
    # bob: never used, issued 89 days ago; carol: OAuth client last used 58 days ago.
    assert summary.api_users.inactive_over_30_days == 2


def test_on_duty_now(session: Session, world: World) -> None:
    summary = hub_summary(session, world.account, now=NOW)
    assert summary.on_duty.total == 3  # alice, bob, erin


def test_seats_and_resources(session: Session, world: World) -> None:
    summary = hub_summary(session, world.account, now=NOW)
    seats = summary.seats
    assert (seats.operators_used, seats.operators_limit) == (7, 20)
    assert (seats.paying_active, seats.paying_limit) == (3, 10)  # alice, bob, carol
    assert (summary.resources.total, summary.resources.production) == (3, 2)
    assert summary.as_of == NOW


def test_the_other_account_sees_only_its_own(session: Session, world: World) -> None:
    summary = hub_summary(session, world.other, now=NOW)
    assert summary.operators.total == 1
    assert summary.operator_groups.total == summary.operator_groups.without_members == 1
    assert (summary.api_users.total, summary.api_users.inactive_over_30_days) == (1, 1)
    assert summary.on_duty.total == 1
    assert (summary.resources.total, summary.resources.production) == (1, 1)


def test_an_empty_account(session: Session) -> None:
    account = make_account(session, "empty")
    summary = hub_summary(session, account, now=NOW)
    assert summary.operators.total == summary.operators.active_total == 0
    assert summary.operators.active == []
    assert summary.operator_groups.total == summary.api_users.total == 0
    assert summary.on_duty.total == summary.resources.total == 0


def test_exactly_30_days_idle_is_not_inactive(session: Session) -> None:
    account = make_account(session, "edge")
    u = make_user(session, account, "edge")
    credential(session, account, u, "api", issued=NOW - dt.timedelta(days=30))
    assert hub_summary(session, account, now=NOW).api_users.inactive_over_30_days == 0
    later = NOW + dt.timedelta(seconds=1)
    assert hub_summary(session, account, now=later).api_users.inactive_over_30_days == 1


def _populate(session: Session, n: int) -> None:
    """An account of ``n`` users, each with a credential, a schedule, and a group of their own."""
    account = make_account(session, f"size{n}")
    for i in range(n):
        u = make_user(session, account, f"user{i}", last_activity_at=NOW)
        credential(session, account, u, "api", issued=NOW - dt.timedelta(days=i % 60))
        schedule(session, account, u, "Europe/Paris", [(i % 7, t(9), t(17))])
        group(session, account, f"group{i}", [u] if i % 2 else [])
    session.commit()


@pytest.mark.parametrize("n", [10, 200])
def test_summary_is_a_constant_number_of_queries(session: Session, engine: Engine, n: int) -> None:
    _populate(session, n)
    account = session.scalars(select(Account).where(Account.name == f"size{n}")).one()
    statements: list[str] = []

    def count(_conn: object, _cursor: object, sql: str, *_args: object) -> None:
        statements.append(sql)

    event.listen(engine, "before_cursor_execute", count)
    try:
        summary = hub_summary(session, account, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert summary.operators.total == n
    # user figures, first active, group figures, first empty, API users, duty windows, duty
    # exceptions, resources, webhook health: 9, whether the account has 10 users or 200.
    assert len(statements) == 9, statements


def test_empty_groups_with_user_nested_and_no_members(session: Session) -> None:
    """Groups with users, with only a nested group, and with nobody, next to another account's
    groups. The ids are chosen around the empty-group test (a seek in the membership key for
    the first group id at or after the group's own): an empty group right below a group with
    members, right below another account's group with members, and above every membership."""
    acme = make_account(session, "acme-groups")
    globex = make_account(session, "globex-groups", domains=["globex.test"])
    ann, bea = make_user(session, acme, "ann"), make_user(session, acme, "bea")
    gus = make_user(session, globex, "gus")

    def grp(account: Account, gid: str, name: str, members: list[User | Group]) -> Group:
        return group(session, account, name, members, group_id=gid)

    grp(acme, "g10", "Empty first", [])  # below every membership
    users = grp(acme, "g20", "Users", [ann, bea])
    grp(acme, "g19", "Empty below users", [])  # the next membership is g20's
    grp(acme, "g30", "Nested only", [users])  # a group member and no user: not empty
    grp(acme, "g40", "Empty below globex", [])  # the next membership is globex's g41
    grp(globex, "g41", "Globex staff", [gus])
    grp(globex, "g42", "Globex empty", [])
    grp(acme, "g99", "Empty last", [])  # no membership at or after it
    session.commit()

    groups = hub_summary(session, acme, now=NOW).operator_groups
    assert (groups.total, groups.without_members) == (6, 4)
    assert [g.display_name for g in groups.empty] == [
        "Empty below globex", "Empty below users", "Empty first", "Empty last"
    ]
    other = hub_summary(session, globex, now=NOW).operator_groups
    assert (other.total, other.without_members) == (2, 1)
    assert [g.id for g in other.empty] == ["g42"]

    # Emptying a group and filling another moves them across.
    session.execute(delete(GroupMember).where(GroupMember.group_id == "g20"))
    session.add(GroupMember(group_id="g99", member_id=ann.id, account_id=acme.id,
                            member_type="User"))
    session.commit()
    groups = hub_summary(session, acme, now=NOW).operator_groups
    # g20 is now empty; g30 still holds g20 (a group member); g99 holds ann.
    assert (groups.total, groups.without_members) == (6, 4)
    assert {g.id for g in groups.empty} == {"g10", "g19", "g20", "g40"}


def test_user_figures_read_the_account_counts(session: Session, world: World) -> None:
    """Operators and paying seats come from the counts kept on the account row, read fresh: a
    change flushed in this session is counted even though the caller's account object predates
    it; the active users are counted from the users."""
    make_user(session, world.account, "ivy", user_type="Member")  # active, paying
    make_user(session, world.account, "jo", user_type="Viewer", status="inactive")
    world.users["bob"].status = "deleted"  # was active and paying
    summary = hub_summary(session, world.account, now=NOW)
    assert (summary.operators.total, summary.seats.operators_used) == (8, 8)
    assert summary.operators.active_total == 5  # alice, carol, dave, erin, ivy
    assert summary.seats.paying_active == 3  # alice, carol, ivy
