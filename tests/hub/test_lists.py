"""The lists behind the cards: API users with their credentials, and who holds which permission
on each resource (directly, through a group, through a nested group)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor
from scim_server.domain.errors import InvalidInput, NotFound
from scim_server.hub.api_users import list_api_users
from scim_server.hub.permissions import grant_permission, permissions_overview, revoke_permission
from tests.domain.factories import make_user
from tests.hub.world import NOW, World, at, group

ACTOR = Actor(door="api", client="tests")


def test_api_users_with_each_credential(session: Session, world: World) -> None:
    page = list_api_users(session, world.account, now=NOW)
    assert page.total == 5
    by_name = {u.display_name: u for u in page.items}
    assert list(by_name) == ["Alice", "Bob", "Carol", "Dave", "Frank"]  # sorted by name
    alice = by_name["Alice"]
    assert [(c.kind, c.inactive_over_30_days) for c in alice.credentials] == [
        ("scim", True),  # issued 200 days ago, never used
        ("api", False),  # used 2 days ago
    ]
    assert (alice.last_used_at, alice.inactive_over_30_days) == (at(2), False)
    bob = by_name["Bob"]
    assert (bob.last_used_at, bob.inactive_over_30_days) == (None, True)
    carol = by_name["Carol"]  # the revoked API token is not listed
    assert [(c.kind, c.last_used_at) for c in carol.credentials] == [("oauth", at(58))]
    assert carol.inactive_over_30_days
    assert not by_name["Dave"].inactive_over_30_days  # never used, but issued 11 days ago
    assert by_name["Frank"].status == "inactive"


@pytest.mark.parametrize(
    ("sort", "names"),
    [
        ("-name", ["Frank", "Dave", "Carol", "Bob", "Alice"]),
        ("issued", ["Alice", "Carol", "Bob", "Frank", "Dave"]),  # first credential issued
        ("-issued", ["Dave", "Frank", "Bob", "Carol", "Alice"]),
    ],
)
def test_api_users_sorts(session: Session, world: World, sort: str, names: list[str]) -> None:
    page = list_api_users(session, world.account, now=NOW, sort=sort)
    assert [u.display_name for u in page.items] == names


def test_api_users_sorted_by_last_use(session: Session, world: World) -> None:
    ascending = list_api_users(session, world.account, now=NOW, sort="last_used")
    names = [u.display_name for u in ascending.items]
    # Never used (Bob, Dave: a tie the ids break) first on both engines, then the oldest use.
    assert set(names[:2]) == {"Bob", "Dave"}
    assert names[2:] == ["Carol", "Alice", "Frank"]
    descending = list_api_users(session, world.account, now=NOW, sort="-last_used")
    assert [u.display_name for u in descending.items] == names[2:][::-1] + names[:2][::-1]


def test_api_users_paging(session: Session, world: World) -> None:
    first = list_api_users(session, world.account, now=NOW, limit=2)
    second = list_api_users(session, world.account, now=NOW, limit=2, offset=2)
    third = list_api_users(session, world.account, now=NOW, limit=2, offset=4)
    names = [u.display_name for p in (first, second, third) for u in p.items]
    assert names == ["Alice", "Bob", "Carol", "Dave", "Frank"]
    assert first.total == second.total == third.total == 5


@pytest.mark.parametrize(("kw", "field"), [({"sort": "email"}, "sort"), ({"limit": 0}, "limit"),
                                           ({"offset": -1}, "offset")])
def test_api_users_bad_arguments(session: Session, world: World, kw: dict, field: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        list_api_users(session, world.account, now=NOW, **kw)
    assert excinfo.value.field == field


def test_permissions_directly_and_through_groups(session: Session, world: World) -> None:
    page = permissions_overview(session, world.account, resource_id=world.resources["monitor"])
    assert page.total == 1
    (monitor,) = page.items
    assert [(g.display_name, g.level) for g in monitor.groups] == [("Ops", "edit"),
                                                                  ("Parent", "view")]
    users = {u.display_name: u for u in monitor.users}
    # hank (deleted) held admin directly: deleted users hold nothing.
    assert sorted(users) == ["Alice", "Bob", "Erin"]
    alice = users["Alice"]
    assert (alice.direct_level, alice.level) == ("admin", "admin")
    assert [(g.display_name, g.level) for g in alice.through_groups] == [("Ops", "edit"),
                                                                        ("Parent", "view")]
    bob = users["Bob"]  # Ops directly, Parent through the nested Ops group
    assert (bob.direct_level, bob.level) == (None, "edit")
    assert [g.display_name for g in bob.through_groups] == ["Ops", "Parent"]
    assert (users["Erin"].level, users["Erin"].through_groups) == ("view", [])


def test_permissions_overview_lists_every_resource(session: Session, world: World) -> None:
    page = permissions_overview(session, world.account)
    assert page.total == 3
    assert {r.resource.kind for r in page.items} == {"monitor", "board", "workspace"}
    assert [r.users for r in page.items if r.resource.kind != "monitor"] == [[], []]
    production = permissions_overview(session, world.account, production=True)
    assert production.total == 2


def test_a_membership_cycle_ends(session: Session, world: World) -> None:
    a = group(session, world.account, "Cycle A", [world.users["dave"]])
    b = group(session, world.account, "Cycle B", [a])
    from scim_server.storage.models import GroupMember

    session.add(GroupMember(group_id=a.id, member_id=b.id, account_id=world.account.id,
                            member_type="Group"))
    grant_permission(session, world.account, world.resources["board"], principal_type="group",
                     principal_id=b.id, level="view", actor=ACTOR)
    (board,) = permissions_overview(session, world.account,
                                    resource_id=world.resources["board"]).items
    assert [u.display_name for u in board.users] == ["Dave"]


def test_grant_change_and_revoke(session: Session, world: World) -> None:
    rid, dave = world.resources["board"], world.users["dave"]
    grant_permission(session, world.account, rid, principal_type="user", principal_id=dave.id,
                     level="view", actor=ACTOR)
    grant_permission(session, world.account, rid, principal_type="user", principal_id=dave.id,
                     level="edit", actor=ACTOR)
    (board,) = permissions_overview(session, world.account, resource_id=rid).items
    assert [(u.display_name, u.level) for u in board.users] == [("Dave", "edit")]
    revoke_permission(session, world.account, rid, principal_type="user", principal_id=dave.id,
                      actor=ACTOR)
    (board,) = permissions_overview(session, world.account, resource_id=rid).items
    assert board.users == []
    with pytest.raises(NotFound):
        revoke_permission(session, world.account, rid, principal_type="user",
                          principal_id=dave.id, actor=ACTOR)


def test_grants_stay_inside_the_account(session: Session, world: World) -> None:
    stranger = make_user(session, world.other, "intruder")
    with pytest.raises(NotFound):
        grant_permission(session, world.account, world.resources["board"],
                         principal_type="user", principal_id=stranger.id, level="view",
                         actor=ACTOR)
    with pytest.raises(NotFound):
        grant_permission(session, world.other, world.resources["board"], principal_type="user",
                         principal_id=stranger.id, level="view", actor=ACTOR)
    with pytest.raises(InvalidInput):
        grant_permission(session, world.account, world.resources["board"],
                         principal_type="user", principal_id=world.users["dave"].id,
                         level="owner", actor=ACTOR)


def test_deleting_a_user_removes_their_schedule_and_grants(session: Session, world: World) -> None:
    from sqlalchemy import func, select

    from scim_server.domain.hub_cleanup import on_user_deleted
    from scim_server.storage.hub_tables import DutySchedule, DutyWindow, ResourcePermission

    hank = world.users["hank"]
    on_user_deleted(session, world.account, hank.id)
    for table in (DutySchedule, DutyWindow, ResourcePermission):
        count = session.scalar(select(func.count()).select_from(table).where(
            table.user_id == hank.id))
        assert count == 0, table.__tablename__
    # Everyone else's rows are untouched.
    assert session.get(DutySchedule, world.users["alice"].id) is not None
