"""The delivery worker's statements (Core, one short transaction each): take an endpoint that
has events to deliver, move its position after a 2xx, note a failure, log deliveries, purge.

Several workers. An endpoint is served by one worker at a time, so that its events go out in
order: a worker takes it with a lease (``lease_owner``, ``lease_until``), renewed by every
delivery it records, released when it is done. On PostgreSQL the candidate row is read
``FOR UPDATE OF webhook_endpoints SKIP LOCKED``, so that two workers looking at once pick
different endpoints instead of queueing on one (``OF``: never the account row, which every
write of events locks). The lease itself is what is exclusive, on both engines: the UPDATE
that takes it only matches a free or expired lease, and every later UPDATE of the worker
names the owner and the position it started from, so a worker that lost its lease (it
stalled past it, or an Admin asked for a replay meanwhile) changes nothing and stops.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

import sqlalchemy as sa

from scim_server.storage import models as m
from scim_server.storage.domain_tables import Event, WebhookDelivery, WebhookEndpoint

_w = cast(sa.Table, WebhookEndpoint.__table__)
_d = cast(sa.Table, WebhookDelivery.__table__)
_e = cast(sa.Table, Event.__table__)
_a = cast(sa.Table, m.Account.__table__)


def _free(now: dt.datetime) -> Any:
    return sa.or_(_w.c.lease_until.is_(None), _w.c.lease_until < now)


def claim_endpoint(connection: Any, *, owner: str, now: dt.datetime,
                   lease_until: dt.datetime) -> Any | None:
    """The endpoint served longest ago that has events to deliver and is due, now leased to
    ``owner``; None if there is none."""
    statement = (
        sa.select(_w)
        .join(_a, _a.c.id == _w.c.account_id)
        .where(_w.c.enabled.is_(True), _a.c.event_position > _w.c.position,
               sa.or_(_w.c.next_attempt_at.is_(None), _w.c.next_attempt_at <= now), _free(now))
        .order_by(_w.c.claimed_at.asc().nulls_first(), _w.c.id)
        .limit(1)
    )
    if connection.dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True, of=_w)
    row = connection.execute(statement).first()
    if row is None:
        return None
    taken = connection.execute(
        sa.update(_w).where(_w.c.id == row.id, _free(now))
        .values(lease_owner=owner, lease_until=lease_until, claimed_at=now)).rowcount
    return row if taken else None


def release(connection: Any, endpoint_id: str, owner: str) -> None:
    connection.execute(sa.update(_w).where(_w.c.id == endpoint_id, _w.c.lease_owner == owner)
                       .values(lease_owner=None, lease_until=None))


def _mine(endpoint_id: str, owner: str, position: int) -> Any:
    return sa.and_(_w.c.id == endpoint_id, _w.c.lease_owner == owner, _w.c.position == position)


# Built once: the hot path of a delivery (SQLAlchemy then reuses the compiled form).
_HELD = sa.and_(_w.c.id == sa.bindparam("endpoint"), _w.c.lease_owner == sa.bindparam("owner"),
                _w.c.position == sa.bindparam("from_position"))
_PASS_OVER = sa.update(_w).where(_HELD).values(
    position=sa.bindparam("to_position"), lease_until=sa.bindparam("lease_until"))
_DELIVERED = sa.update(_w).where(_HELD).values(
    position=sa.bindparam("to_position"), lease_until=sa.bindparam("lease_until"), attempts=0,
    first_failure_at=None, next_attempt_at=None, failing_since=None,
    last_attempt_at=sa.bindparam("now"), last_success_at=sa.bindparam("now"), last_error=None)
_LOG = sa.insert(_d)


def without_flush_wait(connection: Any) -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL to reach the disk.

    For a delivery's record (log row, position) only: a crash can lose the last few of them,
    which only means those events are delivered again (at least once, as after a killed
    worker), never that one is skipped, since the position can only go back. It spares a
    disk flush per delivery, which bounds one worker to a few hundred deliveries a second."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL synchronous_commit = off")


def advance(connection: Any, endpoint_id: str, *, owner: str, from_position: int,
            to_position: int, now: dt.datetime, lease_until: dt.datetime,
            delivered: bool) -> bool:
    """Move the position past a delivered (or filtered out) event; clears the retry state.
    False if the worker no longer holds the endpoint at ``from_position``."""
    params = {"endpoint": endpoint_id, "owner": owner, "from_position": from_position,
              "to_position": to_position, "lease_until": lease_until}
    if delivered:
        return bool(connection.execute(_DELIVERED, {**params, "now": now}).rowcount)
    return bool(connection.execute(_PASS_OVER, params).rowcount)


def note_failure(connection: Any, endpoint_id: str, *, owner: str, position: int,
                 now: dt.datetime, attempts: int, first_failure_at: dt.datetime,
                 next_attempt_at: dt.datetime, failing_since: dt.datetime | None,
                 error: str) -> bool:
    return bool(connection.execute(
        sa.update(_w).where(_mine(endpoint_id, owner, position)).values(
            attempts=attempts, first_failure_at=first_failure_at,
            next_attempt_at=next_attempt_at, failing_since=failing_since,
            last_attempt_at=now, last_error=error[:400])
    ).rowcount)


def log_deliveries(connection: Any, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        connection.execute(_LOG, list(rows))


def purge_before(connection: Any, before: dt.datetime, *, batch: int = 5000) -> int:
    """Delete up to ``batch`` events and as many delivery log rows older than ``before``."""
    old_events = sa.select(_e.c.id).where(_e.c.at < before).limit(batch).scalar_subquery()
    removed = connection.execute(sa.delete(_e).where(_e.c.id.in_(old_events))).rowcount
    old_logs = sa.select(_d.c.id).where(_d.c.at < before).limit(batch).scalar_subquery()
    removed += connection.execute(sa.delete(_d).where(_d.c.id.in_(old_logs))).rowcount
    return int(removed)
