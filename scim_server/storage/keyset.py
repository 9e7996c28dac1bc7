"""Keyset paging (RFC 9865 cursors): a page's position is its edge row's (missing, sort key, id).

Rows are ordered by missing-last sort key, then id; a position names the last (``next``) or
first (``previous``) row of a page, and the next page is the rows on the far side of it. The
position goes to the client sealed by scim2-server; here it is only read back and checked.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from scim2_models import InvalidCursorException
from sqlalchemy.sql.elements import ColumnElement

from scim_server.storage.conversion import utc
from scim_server.storage.dialects import Predicate
from scim_server.storage.mapping import sql_type

Anchor = tuple[bool, Any, str]
"""(sort key missing, sort key, id) of an edge row."""


def encode(value: Any) -> Any:
    """A sort value in a form JSON holds, for a cursor position."""
    if isinstance(value, dt.datetime):
        return {"datetime": utc(value).isoformat()}
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def position(direction: str, sort_key: Any, identifier: str) -> dict[str, Any]:
    return {"d": direction, "k": encode(sort_key), "i": identifier}


def read_position(position: Any, kind: str) -> tuple[str, Anchor]:
    """The direction and anchor of a position that a search gave; anything else is a bad cursor."""
    try:
        direction, value, identifier = position["d"], position["k"], position["i"]
    except (TypeError, KeyError):
        raise InvalidCursorException from None
    if direction not in ("next", "previous") or not isinstance(identifier, str):
        raise InvalidCursorException
    if value is None:
        return direction, (True, None, identifier)
    if kind == "dtcol":
        try:
            value = dt.datetime.fromisoformat(value["datetime"])
        except (KeyError, TypeError, ValueError):
            raise InvalidCursorException from None
    elif kind == "bool":
        if not isinstance(value, bool):
            raise InvalidCursorException
    elif kind == "num":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidCursorException
    elif not isinstance(value, str):
        raise InvalidCursorException
    return direction, (False, value, identifier)


@dataclass(frozen=True)
class Keyset:
    """The order of a search: a sort key (SQL NULL when missing) then the id; without a sort
    key (no ``sortBy``), the id alone, so that the primary key's index serves the order."""

    sort_key: ColumnElement[Any] | None
    identifier: ColumnElement[Any]
    ordered: ColumnElement[Any] | None
    """The sort key as it orders (see ``JsonDialect.ordered``)."""
    kind: str

    def order(self, reverse: bool) -> list[Any]:
        keys: list[Any] = [self.identifier]
        if self.sort_key is not None:
            missing = sa.case((self.sort_key.is_(None), 1), else_=0)
            keys = [missing, self.ordered, self.identifier]
        return [key.desc() if reverse else key.asc() for key in keys]

    def after(self, anchor: Anchor, *, inclusive: bool = False) -> Predicate:
        """Rows whose (missing, value, id) key is greater than the anchor's (or equal)."""
        is_missing, value, identifier = anchor
        beyond = self.identifier >= identifier if inclusive else self.identifier > identifier
        if self.sort_key is None:
            return beyond
        if is_missing:
            return sa.and_(self.sort_key.is_(None), beyond)
        param = sa.literal(value, type_=sql_type(self.kind))
        return sa.or_(
            self.sort_key.is_(None),
            self.ordered > param,
            sa.and_(self.sort_key == param, beyond),
        )

    def before(self, anchor: Anchor, *, inclusive: bool = False) -> Predicate:
        """Rows whose key is smaller than the anchor's (or equal)."""
        is_missing, value, identifier = anchor
        below = self.identifier <= identifier if inclusive else self.identifier < identifier
        if self.sort_key is None:
            return below
        if is_missing:
            return sa.or_(self.sort_key.is_not(None), below)
        param = sa.literal(value, type_=sql_type(self.kind))
        return sa.and_(
            self.sort_key.is_not(None),
            sa.or_(self.ordered < param, sa.and_(self.sort_key == param, below)),
        )
