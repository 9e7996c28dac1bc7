"""The admin user list: search, filters, sort by name or last activity, keyset paging.

A user without activity reads "no activity since" the account's ``activity_tracking_since``,
which is earlier than any recorded activity, so such users sort first ascending and last
descending. Each sort runs as two index-friendly segments (the NULLs, then the values, or the
reverse) so that a page costs an index range scan whatever the page number, even at 100,000
users; the cursor names the segment and the last (value, id) seen.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from scim_server.domain.documents import comparison_key
from scim_server.domain.errors import InvalidInput
from scim_server.storage.models import PAYING_TYPES, Account, User

SORTS = ("name", "last_activity")
ORDERS = ("asc", "desc")


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_cursor: str | None


def _column(sort: str) -> Any:
    return User.display_name_key if sort == "name" else User.last_activity_at


def _encode(seg: int, value: Any, user_id: str) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps([seg, value, user_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, sort: str) -> tuple[int, Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        seg, value, user_id = json.loads(raw)
        if seg not in (0, 1) or not isinstance(user_id, str):
            raise ValueError
        if value is not None:
            value = dt.datetime.fromisoformat(value) if sort == "last_activity" else str(value)
        return seg, value, user_id
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise InvalidInput("the cursor is not one this list returned", field="cursor") from None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filters(account: Account, *, q: str | None, user_type: str | None, status: str | None,
             paying: bool | None) -> list[ColumnElement[bool]]:
    """The conditions of a list's filter (deleted users never in it); ``paying``: only the
    types that take a seat (True) or only the others (False)."""
    where: list[ColumnElement[bool]] = [User.account_id == account.id, User.status != "deleted"]
    if user_type:
        where.append(User.user_type == user_type)
    if paying is not None:
        paying_type = User.user_type.in_(PAYING_TYPES)
        where.append(paying_type if paying else ~paying_type)
    if status:
        where.append(User.status == status)
    if q:
        pattern = f"%{_escape_like(comparison_key(q.strip()))}%"
        where.append(or_(User.display_name_key.like(pattern, escape="\\"),
                         User.email.like(pattern, escape="\\"),
                         User.user_name_key.like(pattern, escape="\\")))
    return where


def count_users(session: Session, account: Account, *, q: str | None = None,
                user_type: str | None = None, status: str | None = None,
                paying: bool | None = None) -> int:
    """How many users the same filter of :func:`list_users` lists, over all its pages."""
    where = _filters(account, q=q, user_type=user_type, status=status, paying=paying)
    return int(session.scalar(select(func.count()).select_from(User).where(*where)) or 0)


def list_users(
    session: Session, account: Account, *, q: str | None = None, user_type: str | None = None,
    status: str | None = None, paying: bool | None = None, sort: str = "name",
    order: str = "asc", limit: int = 50, cursor: str | None = None,
) -> UserPage:
    """One page of the account's users (deleted users excluded)."""
    if sort not in SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(SORTS)}", field="sort")
    if order not in ORDERS:
        raise InvalidInput("order must be asc or desc", field="order")
    col = _column(sort)
    where = _filters(account, q=q, user_type=user_type, status=status, paying=paying)
    desc = order == "desc"
    # Segment order: NULLs ("no activity") first ascending, last descending.
    segments = ("value", "null") if desc else ("null", "value")
    start, after_value, after_id = (_decode(cursor, sort) if cursor else (0, None, None))

    taken: list[tuple[int, User]] = []
    has_more = False
    for seg in range(start, 2):
        remaining = limit - len(taken)
        stmt = select(User).where(*where)
        resume = seg == start and after_id is not None
        if segments[seg] == "null":
            stmt = stmt.where(col.is_(None))
            if resume:
                stmt = stmt.where(User.id < after_id if desc else User.id > after_id)
            stmt = stmt.order_by(User.id.desc() if desc else User.id)
        else:
            stmt = stmt.where(col.is_not(None))
            if resume:
                if desc:
                    stmt = stmt.where(or_(col < after_value,
                                          and_(col == after_value, User.id < after_id)))
                else:
                    stmt = stmt.where(or_(col > after_value,
                                          and_(col == after_value, User.id > after_id)))
            stmt = stmt.order_by(*( (col.desc(), User.id.desc()) if desc else (col, User.id)))
        rows = list(session.scalars(stmt.limit(remaining + 1)))
        taken.extend((seg, u) for u in rows[:remaining])
        if len(rows) > remaining:
            has_more = True
            break
    next_cursor = None
    if has_more and taken:
        seg, last = taken[-1]
        next_cursor = _encode(seg, getattr(last, col.key), last.id)
    return UserPage([u for _, u in taken], next_cursor)
