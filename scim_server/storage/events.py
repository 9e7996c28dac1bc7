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
writes, ``lock_account`` for the domain's), and a SCIM write takes its positions in that very
statement: the UPDATE that shifts the account's counts (or, for a write that shifts none,
moves the position alone) also advances ``event_position`` and returns it. On PostgreSQL the
events' INSERT rides in the same statement (``WITH taken AS (UPDATE … RETURNING
event_position), written AS (INSERT … SELECT … FROM taken, jsonb_to_recordset(:rows))``), so
writing events costs a write no round trip; SQLite inserts them right after, in process. The
row is held from that last statement to the commit only. Different accounts never wait on
each other.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from scim_server.storage import models as m
from scim_server.storage.domain_tables import Event

_events = cast(sa.Table, Event.__table__)
_accounts = cast(sa.Table, m.Account.__table__)

_TAKE = (
    sa.update(_accounts)
    .where(_accounts.c.id == sa.bindparam("account"))
    .values(event_position=_accounts.c.event_position + sa.bindparam("events"))
    .returning(_accounts.c.event_position)
)
_INSERT = sa.insert(_events)
# The columns an event row brings (the rest, account and position, come from the statement).
_GIVEN = ("id", "at", "door", "actor_user_id", "actor_credential_id", "client", "event_type",
          "resource_type", "resource_id", "payload", "data", "txn")
_RECORD_TYPES: dict[str, Any] = {
    "at": sa.DateTime(timezone=True), "payload": postgresql.JSON(), "data": postgresql.JSON(),
}


def _with_events(taking: Any) -> Any:
    """PostgreSQL: ``taking`` (an UPDATE of the account row that advances ``event_position``
    by ``:events`` and returns it) and the INSERT of the events at the positions it took, as
    one statement (two data-modifying CTEs): the events cost the write no round trip of
    their own. The rows come as one JSON array (``:rows``), each with its ``ord`` (1…n)."""
    taken = taking.cte("taken")
    record = sa.func.jsonb_to_recordset(sa.bindparam("rows", type_=postgresql.JSONB)) \
        .table_valued(sa.column("ord", sa.Integer()),
                      *(sa.column(name, _RECORD_TYPES.get(name, sa.Text())) for name in _GIVEN)) \
        .render_derived(name="r", with_types=True)
    position = taken.c.event_position - sa.bindparam("events") + record.c.ord
    written = sa.insert(_events).from_select(
        ["account_id", "position", *_GIVEN],
        sa.select(sa.bindparam("account"), position, *(record.c[name] for name in _GIVEN))
        .select_from(taken).join(record, sa.true()),
    ).cte("written")
    return sa.select(taken.c.event_position).add_cte(written)


def _in_json(row: dict[str, Any]) -> dict[str, Any]:
    at = row["at"]
    # A key left out is SQL NULL in the record (never a JSON null in ``data``).
    values = {k: v for k, v in row.items() if v is not None}
    return {**values, "at": at.astimezone(dt.UTC).isoformat() if at.tzinfo else at.isoformat()}


@functools.cache
def _combined(taking: Any) -> Any:
    return _with_events(taking)


def take_and_append(connection: Any, taking: Any, params: dict[str, Any],
                    rows: Sequence[dict[str, Any]]) -> bool:
    """Run ``taking`` (an ``UPDATE accounts`` that advances ``event_position`` by
    ``:events``, returning it, and may do more: shift the counts, within limits) and write the
    events at the positions it took; False, and nothing written, when it updated no row (a
    limit refused the write). One statement on PostgreSQL, two on SQLite (no round trip
    there)."""
    params = {**params, "events": len(rows)}
    if connection.dialect.name == "postgresql":
        given = [{name: row.get(name) for name in _GIVEN} for row in rows]
        params["rows"] = [{**_in_json(row), "ord": i} for i, row in enumerate(given, 1)]
        return connection.execute(_combined(taking), params).first() is not None
    last = connection.execute(taking, params).scalar()
    if last is None:
        return False
    first = int(last) - len(rows) + 1
    connection.execute(
        _INSERT,
        [{**row, "account_id": params["account"], "position": first + i}
         for i, row in enumerate(rows)],
    )
    return True


def append_events(connection: Any, account_id: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write events (the columns of ``events`` but account and position) in the caller's
    transaction, at the account's next positions, in the order given: one statement on
    PostgreSQL whatever their number, two on SQLite. A write that also shifts the account's
    counts does both in one (``records.shift_counts`` with ``events``)."""
    if not rows:
        return
    take_and_append(connection, _TAKE, {"account": account_id}, rows)


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
