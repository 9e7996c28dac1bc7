"""The events table: appending a change's events, reading an account's feed by position.

Positions. A reader stores the position of the last event it read and asks for the ones after
it; that is only safe if an event can never become visible *behind* a position a reader has
already passed. A sequence or an autoincrement id does not give this: two transactions take
ids 7 and 8, the one holding 8 commits first, a reader sees 8, stores it, and never sees 7.

So the position comes from a counter on the account row (``accounts.event_position``), moved
by an ``UPDATE … RETURNING`` in the transaction that writes the events. The UPDATE takes the
account row's lock until the transaction ends, so a second writer of the account reads the
counter only once the first has committed or rolled back: positions are handed out in commit
order, and when a reader sees position p, every lower position is already committed (or was
never taken: a rolled-back writer's UPDATE is rolled back with it, so there is no gap). SQLite
has one writer at a time (``BEGIN IMMEDIATE``), which gives the same order.

The lock is the one the writes already take at their end (``records.shift_counts`` for SCIM
user writes, ``lock_account`` for the domain's): every door writes its events last, just before
its counts, so the row is held from there to the commit only. Different accounts never wait on
each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa

from scim_server.storage import models as m
from scim_server.storage.domain_tables import Event

_events = cast(sa.Table, Event.__table__)
_accounts = cast(sa.Table, m.Account.__table__)

_TAKE = (
    sa.update(_accounts)
    .where(_accounts.c.id == sa.bindparam("account"))
    .values(event_position=_accounts.c.event_position + sa.bindparam("count"))
    .returning(_accounts.c.event_position)
)
_INSERT = sa.insert(_events)


def append_events(connection: Any, account_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write events (the columns of ``events`` but account and position) in the caller's
    transaction, at the account's next positions, in the order given: two statements
    whatever their number (one executemany)."""
    if not rows:
        return
    last = connection.execute(_TAKE, {"account": account_id, "count": len(rows)}).scalar_one()
    first = int(last) - len(rows) + 1
    connection.execute(
        _INSERT,
        [{**row, "account_id": account_id, "position": first + i} for i, row in enumerate(rows)],
    )


def read_events(connection: Any, account_id: str, *, after: int, limit: int,
                types: Sequence[str] | None = None) -> list[Any]:
    """The account's events after position ``after``, in position order, at most ``limit``."""
    e = _events.c
    statement = sa.select(_events).where(e.account_id == account_id, e.position > after)
    if types:
        statement = statement.where(e.event_type.in_(list(types)))
    return list(connection.execute(statement.order_by(e.position).limit(limit)))


def erase_event_data(connection: Any, account_id: str, resource_id: str) -> None:
    """Drop the resource documents earlier events of a resource carry (a deleted user's
    personal data must not outlive them here either); their attribute names stay."""
    e = _events.c
    connection.execute(
        sa.update(_events)
        .where(e.account_id == account_id, e.resource_id == resource_id)
        .values(data=sa.null())
    )
