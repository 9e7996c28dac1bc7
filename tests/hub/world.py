"""A small account whose every hub figure is counted by hand (see the comments), and a second
account that must never leak into it.

The instant NOW is Monday 31 March 2025, 07:30 UTC: the day after Europe/Paris moved to summer
time (Sunday 30 March, 02:00 CET -> 03:00 CEST), so Paris wall-clock time is 09:30, not 08:30.
New York is already on EDT (03:30); Tokyo is 16:30; London is on BST (08:30).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from scim_server.domain.documents import comparison_key
from scim_server.security import hash_token, new_token
from scim_server.storage.domain_tables import OAuthClient
from scim_server.storage.hub_tables import (
    DutyException,
    DutySchedule,
    DutyWindow,
    ResourcePermission,
)
from scim_server.storage.models import Account, Credential, Group, GroupMember, User
from tests.domain.factories import make_account, make_resource, make_user

NOW = dt.datetime(2025, 3, 31, 7, 30, tzinfo=dt.UTC)
MON = 0
SUN = 6


def at(days_ago: float) -> dt.datetime:
    return NOW - dt.timedelta(days=days_ago)


@dataclass
class World:
    account: Account
    other: Account
    users: dict[str, User] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    other_secret: str = ""


def credential(
    session: Session, account: Account, user: User, kind: str, *, issued: dt.datetime,
    used: dt.datetime | None = None, revoked: dt.datetime | None = None,
) -> str:
    secret = new_token(kind)
    session.add(
        Credential(
            account_id=account.id, user_id=user.id, kind=kind, prefix=secret[:12],
            secret_hash=hash_token(secret), created_at=issued, last_used_at=used,
            revoked_at=revoked,
        )
    )
    session.flush()
    return secret


def oauth_client(
    session: Session, account: Account, user: User, *, issued: dt.datetime,
    used: dt.datetime | None = None,
) -> None:
    session.add(
        OAuthClient(
            account_id=account.id, client_id=new_token("oauth")[:40], user_id=user.id,
            secret_hash=hash_token(new_token("oauth")), name="ci", created_at=issued,
            last_used_at=used,
        )
    )
    session.flush()


def schedule(
    session: Session, account: Account, user: User, tz: str,
    windows: list[tuple[int, dt.time, dt.time]] = (),  # type: ignore[assignment]
    exceptions: list[tuple[dt.date, str, dt.time | None, dt.time | None]] = (),  # type: ignore[assignment]
) -> None:
    session.add(DutySchedule(user_id=user.id, account_id=account.id, time_zone=tz))
    session.flush()
    for weekday, start, end in windows:
        session.add(DutyWindow(account_id=account.id, user_id=user.id, weekday=weekday,
                               start_time=start, end_time=end))
    for on_date, kind, start, end in exceptions:
        session.add(DutyException(account_id=account.id, user_id=user.id, on_date=on_date,
                                  kind=kind, start_time=start, end_time=end))
    session.flush()


def group(session: Session, account: Account, name: str, members: list[User | Group], *,
          group_id: str | None = None) -> Group:
    g = Group(account_id=account.id, display_name=name, display_name_key=comparison_key(name))
    if group_id is not None:
        g.id = group_id
    session.add(g)
    session.flush()
    for m in members:
        session.add(GroupMember(group_id=g.id, member_id=m.id, account_id=account.id,
                                member_type="User" if isinstance(m, User) else "Group"))
    session.flush()
    return g


def t(hour: int, minute: int = 0) -> dt.time:
    return dt.time(hour, minute)


def build_world(session: Session) -> World:
    acme = make_account(session, "acme", seats_limit=10, operators_limit=20)
    other = make_account(session, "globex", domains=["globex.test"])
    w = World(acme, other)

    def user(name: str, user_type: str, status: str = "active", **kw: object) -> User:
        u = make_user(session, acme, name, user_type=user_type, status=status, **kw)
        w.users[name] = u
        return u

    # Operators: 7 not deleted (hank is), 5 active, 3 of them paying (Admin/Member).
    alice = user("alice", "Admin", last_activity_at=at(1))
    bob = user("bob", "Member", last_activity_at=at(11))
    carol = user("carol", "Member")
    dave = user("dave", "Viewer", last_activity_at=at(3))
    erin = user("erin", "Guest")
    frank = user("frank", "Member", "inactive")
    user("gina", "Member", "pending")
    hank = user("hank", "Admin", "deleted")

    # API users: alice, bob, carol, dave, frank = 5; idle > 30 days: bob, carol = 2.
    w.secrets["alice"] = credential(session, acme, alice, "api", issued=at(100), used=at(2))
    credential(session, acme, alice, "scim", issued=at(200))  # never used, but alice is active
    credential(session, acme, bob, "api", issued=at(89))  # never used, issued > 30 days ago
    oauth_client(session, acme, carol, issued=at(120), used=at(58))
    credential(session, acme, carol, "api", issued=at(5), used=at(1), revoked=at(1))  # revoked
    credential(session, acme, dave, "api", issued=at(11))  # never used, issued < 30 days ago
    credential(session, acme, frank, "api", issued=at(40), used=at(1))
    credential(session, acme, hank, "api", issued=at(300))  # deleted user: not counted

    # On duty at NOW: alice (Paris, DST), bob (New York, Sunday night window), erin ("on"
    # exception) = 3. Not: carol (outside), dave ("off" all day), frank (inactive), hank (deleted).
    schedule(session, acme, alice, "Europe/Paris", [(MON, t(9), t(17))])
    schedule(session, acme, bob, "America/New_York", [(SUN, t(22), t(6))])
    schedule(session, acme, carol, "UTC", [(MON, t(9), t(17))])
    schedule(session, acme, dave, "Asia/Tokyo", [(MON, t(9), t(17))],
             [(dt.date(2025, 3, 31), "off", None, None)])
    schedule(session, acme, erin, "Europe/London", [],
             [(dt.date(2025, 3, 31), "on", t(8), t(9))])
    schedule(session, acme, frank, "Europe/Paris", [(MON, t(0), t(0))])
    schedule(session, acme, hank, "Europe/Paris", [(MON, t(0), t(0))])

    # Groups: 4, of which 2 without members (Alpha, Zulu); Parent holds only a group.
    ops = group(session, acme, "Ops", [alice, bob])
    parent = group(session, acme, "Parent", [ops])
    w.groups.update(ops=ops, parent=parent,
                    alpha=group(session, acme, "Alpha", []), zulu=group(session, acme, "Zulu", []))

    # Resources: 3, of which 2 in production.
    monitor = make_resource(session, acme, "monitor", alice, production=True)
    board = make_resource(session, acme, "board", bob, production=True)
    workspace = make_resource(session, acme, "workspace", alice)
    w.resources.update(monitor=monitor.id, board=board.id, workspace=workspace.id)
    for grant in (
        ResourcePermission(group_id=ops.id, level="edit"),
        ResourcePermission(group_id=parent.id, level="view"),
        ResourcePermission(user_id=alice.id, level="admin"),
        ResourcePermission(user_id=erin.id, level="view"),
        ResourcePermission(user_id=hank.id, level="admin"),
    ):
        grant.account_id = acme.id
        grant.resource_id = monitor.id
        session.add(grant)
    session.flush()

    # The other account: one of everything, all of it invisible from acme.
    stranger = make_user(session, other, "stranger", user_type="Admin", last_activity_at=at(0))
    w.other_secret = credential(session, other, stranger, "api", issued=at(400))
    schedule(session, other, stranger, "UTC", [(MON, t(0), t(0))])
    group(session, other, "Lonely", [])
    make_resource(session, other, "monitor", stranger, production=True)
    return w
