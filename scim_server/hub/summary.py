"""The hub's read model: one summary of an account, computed with a fixed handful of aggregate
queries (counts with FILTER / CASE, short LIMITed lists) whatever the number of users.

The queries, in order: user figures (the counts kept on the account row, and the active users),
the first active users, API-user figures, resource figures, group figures, the first empty
groups, duty windows, duty exceptions, webhook health. Links are the HTTP
layer's business; this module only knows figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scim_server.domain.actors import as_utc
from scim_server.domain.resources import count_resources
from scim_server.domain.webhooks import webhook_health
from scim_server.hub.api_users import api_users_counts
from scim_server.hub.duty import on_duty_at
from scim_server.storage.members import group_is_empty
from scim_server.storage.models import Account, Group, User

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
class WebhooksCard:
    endpoints: int
    failing: int
    # The oldest event an enabled endpoint has not received yet; None: all caught up.
    oldest_undelivered_at: dt.datetime | None
    oldest_undelivered_seconds: int | None


@dataclass(frozen=True)
class HubSummary:
    operators: OperatorsCard
    operator_groups: OperatorGroupsCard
    api_users: ApiUsersCard
    on_duty: OnDutyCard
    seats: SeatsCard
    resources: ResourcesCard
    webhooks: WebhooksCard
    as_of: dt.datetime


def _operators(session: Session, account: Account) -> tuple[OperatorsCard, int]:
    """The operators card and the number of active paying users.

    The operators (users not deleted) and the active paying users are the counts the storage
    keeps on the account row (``operators_used``, ``paying_active``, equal to real counts: see
    tests/scim/test_account_counts.py); only the active users are counted, from an index of
    (account, status) or the partial index of active users: index-only, not the user rows,
    where the visibility map allows. Read in one statement with the account row from the
    database: the object the caller holds may predate this session's flushes, which update
    the counts in SQL.
    """
    active = (
        select(func.count())
        .select_from(User)
        .where(User.account_id == account.id, User.status == "active")
        .scalar_subquery()
    )
    total, paying, active_total = session.execute(
        select(Account.operators_used, Account.paying_active, active).where(
            Account.id == account.id
        )
    ).one()
    # Most recently active first: the people an admin is likely looking for. Served in this
    # order by ix_users_account_active: five index entries, whatever the account's size.
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
    card = OperatorsCard(total=int(total), active_total=int(active_total), active=briefs)
    return card, int(paying)


def _groups(session: Session, account: Account) -> OperatorGroupsCard:
    empty = group_is_empty()
    total, without_members = session.execute(
        select(func.count(), func.count().filter(empty)).where(Group.account_id == account.id)
    ).one()
    first = session.execute(
        select(Group.id, Group.display_name)
        .where(Group.account_id == account.id, empty)
        .order_by(Group.display_name_key, Group.id)
        .limit(PREVIEW)
    ).all()
    return OperatorGroupsCard(
        int(total), int(without_members), [GroupBrief(*row) for row in first]
    )


def _webhooks(session: Session, account: Account, now: dt.datetime) -> WebhooksCard:
    health = webhook_health(session, account)
    oldest = health.oldest_undelivered_at
    age = None if oldest is None else max(0, int((now - oldest).total_seconds()))
    return WebhooksCard(health.endpoints, health.failing, oldest, age)


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
        webhooks=_webhooks(session, account, now),
        as_of=now,
    )
