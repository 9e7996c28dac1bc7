"""API users: the users holding at least one unrevoked API credential (API token, OAuth client,
SCIM token), with when each credential was issued and last used.

Credentials live in two tables (``credentials`` for API and SCIM tokens, ``oauth_clients``);
:func:`held_credentials` unions them into one selectable so that the hub's count and the
overview's list read the same rows under the same rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Subquery, case, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from scim_server.domain.actors import as_utc
from scim_server.domain.errors import InvalidInput
from scim_server.storage.domain_tables import OAuthClient
from scim_server.storage.models import Account, Credential, User

INACTIVE_AFTER = dt.timedelta(days=30)
SORTS = ("name", "last_used", "credentials", "issued")


@dataclass(frozen=True)
class CredentialView:
    id: str
    kind: str  # api | oauth | scim
    name: str | None
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    inactive_over_30_days: bool


@dataclass(frozen=True)
class ApiUserView:
    id: str
    display_name: str | None
    user_type: str
    status: str
    last_used_at: dt.datetime | None
    inactive_over_30_days: bool
    credentials: list[CredentialView]


@dataclass(frozen=True)
class ApiUsersPage:
    total: int
    items: list[ApiUserView]


def held_credentials(account: Account) -> Subquery:
    """One row per unrevoked credential of the account held by a user:
    ``id, user_id, kind, name, created_at, last_used_at``."""
    tokens = select(
        Credential.id, Credential.user_id, Credential.kind, Credential.name,
        Credential.created_at, Credential.last_used_at,
    ).where(
        Credential.account_id == account.id,
        Credential.revoked_at.is_(None),
        Credential.user_id.is_not(None),
    )
    clients = select(
        OAuthClient.id, OAuthClient.user_id, literal("oauth").label("kind"), OAuthClient.name,
        OAuthClient.created_at, OAuthClient.last_used_at,
    ).where(
        OAuthClient.account_id == account.id,
        OAuthClient.revoked_at.is_(None),
        OAuthClient.user_id.is_not(None),
    )
    return union_all(tokens, clients).subquery("held")


def per_user(account: Account, now: dt.datetime) -> Subquery:
    """One row per user holding a credential: how many, the last use, and whether every one of
    them has been idle for more than 30 days.

    A credential is idle when it was last used before the cutoff, or never used and issued
    before it; a user is inactive when all their credentials are idle, i.e. when the latest
    of (last use, else issue) is before the cutoff.
    """
    held = held_credentials(account)
    # SQLite keeps timestamps as zone-less text: the cutoff must be in UTC like the rows.
    cutoff = now.astimezone(dt.UTC) - INACTIVE_AFTER
    latest = func.max(func.coalesce(held.c.last_used_at, held.c.created_at))
    return (
        select(
            held.c.user_id.label("user_id"),
            func.count().label("credentials"),
            func.max(held.c.last_used_at).label("last_used_at"),
            func.min(held.c.created_at).label("first_issued_at"),
            case((latest < cutoff, 1), else_=0).label("inactive"),
        )
        .group_by(held.c.user_id)
        .subquery("api_users")
    )


def api_users_counts(session: Session, account: Account, now: dt.datetime) -> tuple[int, int]:
    """(users holding a credential, of whom inactive for more than 30 days): one query."""
    users = per_user(account, now)
    row = session.execute(
        select(func.count(), func.coalesce(func.sum(users.c.inactive), 0))
        .select_from(users)
        .join(User, User.id == users.c.user_id)
        .where(User.account_id == account.id, User.status != "deleted")
    ).one()
    return int(row[0]), int(row[1])


def _order(users: Subquery, sort: str) -> list[ColumnElement[Any]]:
    descending = sort.startswith("-")
    key = sort.removeprefix("-")
    if key not in SORTS:
        raise InvalidInput(
            "sort must be one of %(sorts)s, optionally prefixed with '-'", "sort",
            params={"sorts": ", ".join(SORTS)},
        )
    column: ColumnElement[Any] = {
        "name": func.lower(func.coalesce(User.display_name, "")),
        "last_used": users.c.last_used_at,
        "credentials": users.c.credentials,
        "issued": users.c.first_issued_at,
    }[key]
    # Never-used credentials sort as the oldest use, on both engines (their NULL order differs).
    primary = column.desc().nulls_last() if descending else column.asc().nulls_first()
    # Ending on the id makes pages stable when many rows share a value.
    return [primary, User.id.desc() if descending else User.id.asc()]


def list_api_users(
    session: Session,
    account: Account,
    *,
    now: dt.datetime,
    sort: str = "name",
    limit: int = 50,
    offset: int = 0,
) -> ApiUsersPage:
    """A page of API users with all their credentials: three queries (count, page, credentials)."""
    if not 1 <= limit <= 500:
        raise InvalidInput("limit must be between 1 and 500", "limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative", "offset")
    users = per_user(account, now)
    base: Select[Any] = (
        select(
            User.id, User.display_name, User.user_type, User.status, users.c.last_used_at,
            users.c.inactive,
        )
        .select_from(users)
        .join(User, User.id == users.c.user_id)
        .where(User.account_id == account.id, User.status != "deleted")
    )
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    rows = session.execute(base.order_by(*_order(users, sort)).limit(limit).offset(offset)).all()
    ids = [r[0] for r in rows]
    creds: dict[str, list[CredentialView]] = {uid: [] for uid in ids}
    if ids:
        held = held_credentials(account)
        cutoff = now.astimezone(dt.UTC) - INACTIVE_AFTER
        for cid, uid, kind, name, created, used in session.execute(
            select(
                held.c.id, held.c.user_id, held.c.kind, held.c.name, held.c.created_at,
                held.c.last_used_at,
            )
            .where(held.c.user_id.in_(ids))
            .order_by(held.c.user_id, held.c.created_at, held.c.id)
        ):
            # SQLite hands timestamps back without their zone; they were stored in UTC.
            created, used = as_utc(created), None if used is None else as_utc(used)
            creds[uid].append(
                CredentialView(cid, kind, name, created, used, (used or created) < cutoff)
            )
    items = [
        ApiUserView(
            id=uid, display_name=name, user_type=user_type, status=status,
            last_used_at=None if last_used is None else as_utc(last_used),
            inactive_over_30_days=bool(inactive),
            credentials=creds[uid],
        )
        for uid, name, user_type, status, last_used, inactive in rows
    ]
    return ApiUsersPage(int(total), items)
