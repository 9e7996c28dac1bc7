"""Rows of signed event delivery: the signing keys, and what each poll-based receiver
(RFC 8936) has acknowledged (see ``domain_tables.SetPollReceiver`` for the shape).

A receiver's state is changed under its own row's lock (``SELECT … FOR UPDATE`` on
PostgreSQL, the single writer on SQLite): two polls of one receiver at once take turns, and
never lose each other's acknowledgements.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

import sqlalchemy as sa

from scim_server.storage.dialects import json_dialect
from scim_server.storage.domain_tables import Event, SetPollAck, SetPollReceiver, SigningKey
from scim_server.storage.models import utcnow

_keys = cast(sa.Table, SigningKey.__table__)
_events = cast(sa.Table, Event.__table__)
_receivers = cast(sa.Table, SetPollReceiver.__table__)
_acks = cast(sa.Table, SetPollAck.__table__)


# --- signing keys -------------------------------------------------------------------------------

def signing_keys(connection: Any) -> list[Any]:
    """Every key, oldest first."""
    return list(connection.execute(sa.select(_keys).order_by(_keys.c.generation)))


def newest_signing_key(connection: Any) -> Any | None:
    return connection.execute(
        sa.select(_keys).order_by(_keys.c.generation.desc()).limit(1)).first()


def add_signing_key(connection: Any, row: dict[str, Any]) -> bool:
    """Insert a key at its generation; False when another instance took that generation
    first (the caller reads the winner's key)."""
    statement = (json_dialect(connection.dialect.name).insert(_keys)
                 .values(**row, created_at=utcnow()).on_conflict_do_nothing())
    return bool(connection.execute(statement).rowcount)


# --- poll-based receivers -----------------------------------------------------------------------

def forget_receiver(connection: Any, account_id: str, receiver: str) -> None:
    """Drop a receiver's acknowledgements (its credential was revoked: it will never poll
    again, and its state would otherwise stay for good)."""
    for table in (_acks, _receivers):
        connection.execute(sa.delete(table).where(table.c.account_id == account_id,
                                                  table.c.receiver == receiver))


def take_receiver(connection: Any, account_id: str, receiver: str) -> int:
    """The receiver's acknowledged prefix, its row locked until the transaction ends (created
    at 0 on its first poll)."""
    r = _receivers.c
    connection.execute(
        json_dialect(connection.dialect.name).insert(_receivers)
        .values(account_id=account_id, receiver=receiver, acked_position=0, updated_at=utcnow())
        .on_conflict_do_nothing())
    statement = sa.select(r.acked_position).where(r.account_id == account_id,
                                                  r.receiver == receiver)
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return int(connection.execute(statement).scalar_one())


def positions_of(connection: Any, account_id: str, event_ids: Iterable[str]) -> dict[str, int]:
    """The positions of those events that are the account's (another account's, or an
    unknown id, is simply absent)."""
    ids = list(dict.fromkeys(event_ids))
    found: dict[str, int] = {}
    e = _events.c
    for start in range(0, len(ids), 500):  # bounded IN lists
        rows = connection.execute(sa.select(e.id, e.position).where(
            e.account_id == account_id, e.id.in_(ids[start:start + 500])))
        found.update({row.id: int(row.position) for row in rows})
    return found


def acknowledge(connection: Any, account_id: str, receiver: str, prefix: int,
                positions: Iterable[int]) -> int:
    """Record acknowledged positions and move the prefix over every contiguous run of them;
    the new prefix. Acks at or below the prefix change nothing (acknowledged twice)."""
    a = _acks.c
    new = sorted({p for p in positions if p > prefix})
    if new:
        connection.execute(
            json_dialect(connection.dialect.name).insert(_acks).on_conflict_do_nothing(),
            [{"account_id": account_id, "receiver": receiver, "position": p} for p in new])
    # Events below the first one still kept were purged (retention): nothing to wait for.
    first = connection.execute(sa.select(sa.func.min(_events.c.position)).where(
        _events.c.account_id == account_id, _events.c.position > prefix)).scalar()
    start = prefix if first is None else max(prefix, int(first) - 1)
    acked = connection.execute(
        sa.select(a.position).where(a.account_id == account_id, a.receiver == receiver,
                                    a.position > start).order_by(a.position)).scalars()
    moved = start
    for position in acked:  # positions have no gap (storage.events): a run is consecutive
        if position != moved + 1:
            break
        moved = position
    if moved != prefix:
        connection.execute(sa.delete(_acks).where(
            a.account_id == account_id, a.receiver == receiver, a.position <= moved))
        connection.execute(
            sa.update(_receivers)
            .where(_receivers.c.account_id == account_id, _receivers.c.receiver == receiver)
            .values(acked_position=moved, updated_at=utcnow()))
    return moved


def unacknowledged(connection: Any, account_id: str, receiver: str, prefix: int,
                   limit: int) -> list[Any]:
    """The account's first events above the prefix that the receiver has not acknowledged,
    in position order, at most ``limit``."""
    e, a = _events.c, _acks.c
    acked = sa.exists().where(a.account_id == e.account_id, a.receiver == receiver,
                              a.position == e.position)
    return list(connection.execute(
        sa.select(_events).where(e.account_id == account_id, e.position > prefix, ~acked)
        .order_by(e.position).limit(limit)))


def receiver_prefix(connection: Any, account_id: str, receiver: str) -> int:
    """The acknowledged prefix, read without a lock (a long poll's later looks)."""
    r = _receivers.c
    return int(connection.execute(sa.select(r.acked_position).where(
        r.account_id == account_id, r.receiver == receiver)).scalar_one_or_none() or 0)
