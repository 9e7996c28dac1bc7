"""The hub's read model: one summary of an account, computed with a fixed handful of aggregate
queries (counts with FILTER / CASE, short LIMITed lists) whatever the number of users.

The queries, in order: user figures, the first active users, group figures, the first empty
groups, API-user figures, duty windows, duty exceptions, resource figures. Links are the HTTP
layer's business; this module only knows figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from scim_server.domain.actors import as_utc
from scim_server.domain.resources import count_resources
from scim_server.domain.users import PAYING_TYPES
from scim_server.hub.api_users import api_users_counts
from scim_server.hub.duty import on_duty_at
from scim_server.storage.models import Account, Group, GroupMember, User

# How many names a card shows; the full list is behind the card's link.
PREVIEW = 5


@dataclass(frozen=True)
class OperatorBrief:
    id: str
    display_name: str | None
    user_type: str
    last_activity_at: dt.datetime | None


@dataclass(frozen=True)
class OperatorsCard:
    total: int
    active_total: int
    active: list[OperatorBrief]


@dataclass(frozen=True)
class GroupBrief:
    id: str
    display_name: str | None


@dataclass(frozen=True)
class OperatorGroupsCard:
    total: int
    without_members: int
    empty: list[GroupBrief]


@dataclass(frozen=True)
class ApiUsersCard:
    total: int
    inactive_over_30_days: int


@dataclass(frozen=True)
class OnDutyCard:
    total: int


@dataclass(frozen=True)
class SeatsCard:
    operators_used: int
    operators_limit: int
    paying_active: int
    paying_limit: int


@dataclass(frozen=True)
class ResourcesCard:
    total: int
    production: int


@dataclass(frozen=True)
class HubSummary:
    operators: OperatorsCard
    operator_groups: OperatorGroupsCard
    api_users: ApiUsersCard
    on_duty: OnDutyCard
    seats: SeatsCard
    resources: ResourcesCard
    as_of: dt.datetime


def _operators(session: Session, account: Account) -> tuple[OperatorsCard, int]:
    """The operators card and the number of active paying users (same scan of users)."""
    total, active, paying = session.execute(
        select(
            func.count().filter(User.status != "deleted"),
            func.count().filter(User.status == "active"),
            func.count().filter(User.status == "active", User.user_type.in_(PAYING_TYPES)),
        ).where(User.account_id == account.id)
    ).one()
    # Most recently active first: the people an admin is likely looking for.
    first = session.execute(
        select(User.id, User.display_name, User.user_type, User.last_activity_at)
        .where(User.account_id == account.id, User.status == "active")
        .order_by(User.last_activity_at.desc().nulls_last(), User.id)
        .limit(PREVIEW)
    ).all()
    briefs = [
        OperatorBrief(uid, name, user_type, None if last is None else as_utc(last))
        for uid, name, user_type, last in first
    ]
    card = OperatorsCard(total=int(total), active_total=int(active), active=briefs)
    return card, int(paying)


def _groups(session: Session, account: Account) -> OperatorGroupsCard:
    # Deleting a user removes their memberships, so "no membership row" is "no member".
    has_member = exists().where(GroupMember.group_id == Group.id)
    total, empty = session.execute(
        select(func.count(), func.count().filter(~has_member)).where(
            Group.account_id == account.id
        )
    ).one()
    first = session.execute(
        select(Group.id, Group.display_name)
        .where(Group.account_id == account.id, ~has_member)
        .order_by(Group.display_name_key, Group.id)
        .limit(PREVIEW)
    ).all()
    return OperatorGroupsCard(int(total), int(empty), [GroupBrief(*row) for row in first])


def hub_summary(session: Session, account: Account, *, now: dt.datetime) -> HubSummary:
    """Every figure of the hub for ``account`` at ``now`` (an aware datetime)."""
    operators, paying = _operators(session, account)
    api_total, api_inactive = api_users_counts(session, account, now)
    resources_total, production = count_resources(session, account)
    return HubSummary(
        operators=operators,
        operator_groups=_groups(session, account),
        api_users=ApiUsersCard(api_total, api_inactive),
        on_duty=OnDutyCard(len(on_duty_at(session, account, now))),
        seats=SeatsCard(
            operators_used=operators.total,
            operators_limit=account.operators_limit,
            paying_active=paying,
            paying_limit=account.seats_limit,
        ),
        resources=ResourcesCard(resources_total, production),
        as_of=now,
    )
