"""The reads of the hot path as prepared Core statements: one statement returns the stored
documents a response needs, a user's groups included.

Each statement is built once per engine and shape, with bound parameters, so SQLAlchemy's
compiled cache and the driver's prepared statements serve every request after the first;
nothing here hydrates an ORM entity.
"""

from __future__ import annotations

import functools
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Row

from scim_server.storage import models as m
from scim_server.storage.dialects import json_dialect
from scim_server.storage.scope import USER_VISIBLE, AccountScope

_users = cast(sa.Table, m.User.__table__)
_groups = cast(sa.Table, m.Group.__table__)
_members = cast(sa.Table, m.GroupMember.__table__)
_emails = cast(sa.Table, m.UserEmail.__table__)
_accounts = cast(sa.Table, m.Account.__table__)

USER_COLUMNS = (
    _users.c.id, _users.c.data, _users.c.status, _users.c.last_activity_at,
    _users.c.created_at, _users.c.modified_at, _users.c.version, _users.c.user_type,
    _users.c.email, _users.c.user_name_key.label("unique_key"),
)
GROUP_COLUMNS = (
    _groups.c.id, _groups.c.data, _groups.c.created_at, _groups.c.modified_at, _groups.c.version,
    _groups.c.display_name_key.label("unique_key"),
)


def columns(dialect: str, kind: str) -> tuple[Any, ...]:
    """What a read of a user (with its groups, as [id, name] pairs) or a group selects."""
    if kind == "Group":
        return GROUP_COLUMNS
    return (*USER_COLUMNS, _user_groups(dialect))


@functools.cache
def _user_groups(dialect: str) -> Any:
    # Correlated to the user row: one index lookup on group_members(member_id, group_id).
    inner_groups = _groups.alias("member_of")
    inner = _members.alias("membership")
    return (
        sa.select(json_dialect(dialect).pairs(inner.c.group_id, inner_groups.c.display_name))
        .select_from(inner.join(inner_groups, inner_groups.c.id == inner.c.group_id))
        .where(inner.c.member_id == _users.c.id, inner.c.account_id == _users.c.account_id)
        .scalar_subquery()
        .label("groups")
    )


def visible(kind: str) -> Any:
    """The rows of the bound account (``:account``) that SCIM sees."""
    if kind == "User":
        return sa.and_(_users.c.account_id == sa.bindparam("account"), USER_VISIBLE)
    return _groups.c.account_id == sa.bindparam("account")


@functools.cache
def by_id(dialect: str, kind: str) -> Any:
    table = _users if kind == "User" else _groups
    return sa.select(*columns(dialect, kind)).where(table.c.id == sa.bindparam("id"), visible(kind))


# Exact lookups (RFC 7644 §3.4.2.2 ``eq`` on an indexed key): the attribute → the predicate on
# the bound ``:key`` (and ``:type`` for emails of one type).
def _lookup_predicate(kind: str, attribute: str) -> Any:
    if kind == "User":
        u = _users.c
        if attribute == "emails":
            return u.id.in_(sa.select(_emails.c.user_id).where(
                _emails.c.account_id == sa.bindparam("account"),
                _emails.c.value_key == sa.bindparam("key")))
        if attribute == "emails-typed":
            return u.id.in_(sa.select(_emails.c.user_id).where(
                _emails.c.account_id == sa.bindparam("account"),
                _emails.c.value_key == sa.bindparam("key"),
                _emails.c.type_key == sa.bindparam("type")))
        column = {"username": u.user_name_key, "externalid": u.external_id, "id": u.id}[attribute]
    else:
        g = _groups.c
        column = {"displayname": g.display_name_key, "externalid": g.external_id, "id": g.id}[
            attribute
        ]
    return column == sa.bindparam("key")


@functools.cache
def lookup(dialect: str, kind: str, attribute: str) -> Any:
    """The rows a lookup finds, by id, paged by bound ``:limit`` and ``:offset``."""
    table = _users if kind == "User" else _groups
    return (
        sa.select(*columns(dialect, kind))
        .where(visible(kind), _lookup_predicate(kind, attribute))
        .order_by(table.c.id)
        .limit(sa.bindparam("limit"))
        .offset(sa.bindparam("offset"))
    )


@functools.cache
def lookup_count(kind: str, attribute: str) -> Any:
    table = _users if kind == "User" else _groups
    return sa.select(sa.func.count()).select_from(table).where(
        visible(kind), _lookup_predicate(kind, attribute)
    )


def total_of_all(kind: str) -> Any:
    """How many rows of the account SCIM sees, without counting them for users: the account
    row keeps it (``operators_used``: users not deleted)."""
    if kind == "User":
        return (
            sa.select(_accounts.c.operators_used)
            .where(_accounts.c.id == sa.bindparam("account"))
            .scalar_subquery()
        )
    return (
        sa.select(sa.func.count())
        .select_from(_groups)
        .where(visible("Group"))
        .correlate(None)
        .scalar_subquery()
    )


class Reads:
    """Runs the prepared reads for one account."""

    def __init__(self, scope: AccountScope) -> None:
        self.scope = scope

    def one(self, kind: str, resource_id: str) -> Row[Any] | None:
        """A user (with its groups) or a group header, by id: one statement."""
        return self.scope.run(
            by_id(self.scope.dialect, kind), {"id": resource_id, "account": self.scope.account}
        ).first()
