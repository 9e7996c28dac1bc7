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

SORTS = ("name", "last_activity", "type", "status")
ORDERS = ("asc", "desc")
# Type and status sort in the order an admin reads them (most rights first, active first),
# not alphabetically; a value outside these (none is expected) comes last.
TYPE_ORDER = ("Admin", "Member", "Viewer", "Guest")
STATUS_ORDER = ("active", "pending", "inactive")


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    next_cursor: str | None
    # The page before this one (``before=``), when there is one.
    prev_cursor: str | None = None


@dataclass(frozen=True)
class _Segment:
    """One index-friendly part of a sort: the rows of ``where``, ordered by ``key`` (if any)
    then id."""

    where: ColumnElement[bool]
    key: Any | None = None
    is_time: bool = False


def _column(sort: str) -> Any:
    return User.display_name_key if sort == "name" else User.last_activity_at


def _segments(sort: str, desc: bool) -> list[_Segment]:
    if sort in ("type", "status"):
        col, values = ((User.user_type, TYPE_ORDER) if sort == "type"
                       else (User.status, STATUS_ORDER))
        known = [_Segment(col == v) for v in values]
        # Values outside these come last either way: none is expected (the domain refuses
        # them), and a segment scanned first for nothing would slow every first page.
        return [*(known[::-1] if desc else known), _Segment(col.not_in(values), col)]
    if sort == "name":
        # Users without a display name are listed by their userName (which the UI shows).
        parts = [_Segment(User.display_name_key.is_(None), User.user_name_key),
                 _Segment(User.display_name_key.is_not(None), User.display_name_key)]
    else:
        # No activity reads "no activity since" the tracking start: earlier than any value.
        parts = [_Segment(User.last_activity_at.is_(None)),
                 _Segment(User.last_activity_at.is_not(None), User.last_activity_at, True)]
    return parts[::-1] if desc else parts


def _encode(seg: int, value: Any, user_id: str) -> str:
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    raw = json.dumps([seg, value, user_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, segments: list[_Segment]) -> tuple[int, Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        seg, value, user_id = json.loads(raw)
        if not isinstance(seg, int) or not 0 <= seg < len(segments) \
                or not isinstance(user_id, str):
            raise ValueError
        segment = segments[seg]
        if segment.key is None:
            value = None
        elif value is not None:
            value = dt.datetime.fromisoformat(value) if segment.is_time else str(value)
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
    """How many users a filter of :func:`list_users` matches (one COUNT query)."""
    where = _filters(account, q=q, user_type=user_type, status=status, paying=paying)
    return int(session.scalar(select(func.count()).select_from(User).where(*where)) or 0)


def _after(segment: _Segment, value: Any, user_id: str, forward: bool) -> ColumnElement[bool]:
    """Rows past (value, id) in the direction ``forward`` of the segment's order."""
    past_id = User.id > user_id if forward else User.id < user_id
    if segment.key is None:
        return past_id
    col = segment.key
    if value is None:  # only in a segment whose key may be NULL: none is expected
        return past_id
    past_value = col > value if forward else col < value
    return or_(past_value, and_(col == value, past_id))


def _ordered(stmt: Any, segment: _Segment, forward: bool) -> Any:
    cols = ([segment.key] if segment.key is not None else []) + [User.id]
    return stmt.order_by(*(cols if forward else [c.desc() for c in cols]))


def list_users(
    session: Session, account: Account, *, q: str | None = None, user_type: str | None = None,
    status: str | None = None, paying: bool | None = None, sort: str = "name",
    order: str = "asc", limit: int = 50, cursor: str | None = None, before: str | None = None,
) -> UserPage:
    """One page of the account's users (deleted users excluded): the first, the one after
    ``cursor`` or the one before ``before`` (both cursors of an earlier page)."""
    if sort not in SORTS:
        raise InvalidInput("sort must be one of %(sorts)s", field="sort",
                           params={"sorts": ", ".join(SORTS)})
    if order not in ORDERS:
        raise InvalidInput("order must be asc or desc", field="order")
    desc = order == "desc"
    where = _filters(account, q=q, user_type=user_type, status=status, paying=paying)
    segments = _segments(sort, desc)
    backward = before is not None and cursor is None
    mark = before if backward else cursor
    if mark:
        start, after_value, after_id = _decode(mark, segments)
    else:
        start, after_value, after_id = 0, None, None

    taken: list[tuple[int, User]] = []
    has_more = False
    # Walk the segments forward from the cursor, or backward from ``before``; within a segment
    # the flipped order reads the index the other way round.
    order_of_segments = range(start, -1, -1) if backward else range(start, len(segments))
    for seg in order_of_segments:
        segment = segments[seg]
        # A descending list runs each segment's key descending: "forward" in the index sense.
        forward = (not desc) != backward
        remaining = limit - len(taken)
        stmt = select(User).where(*where, segment.where)
        if seg == start and after_id is not None:
            stmt = stmt.where(_after(segment, after_value, after_id, forward))
        rows = list(session.scalars(_ordered(stmt, segment, forward).limit(remaining + 1)))
        taken.extend((seg, u) for u in rows[:remaining])
        if len(rows) > remaining:
            has_more = True
            break

    def mark_of(item: tuple[int, User]) -> str:
        seg, user = item
        key = segments[seg].key
        return _encode(seg, getattr(user, key.key) if key is not None else None, user.id)

    if backward:
        taken.reverse()
        next_cursor = mark_of(taken[-1]) if taken else None
        prev_cursor = mark_of(taken[0]) if has_more and taken else None
    else:
        next_cursor = mark_of(taken[-1]) if has_more and taken else None
        prev_cursor = mark_of(taken[0]) if cursor and taken else None
    return UserPage([u for _, u in taken], next_cursor, prev_cursor)
