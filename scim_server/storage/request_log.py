"""The SCIM request log's tables and statements, on the log's own engine.

The log never shares the provisioning write path: on SQLite it lives in a file of its own
(SQLite has one writer per file, and a log holding that lock would make provisioning wait);
on PostgreSQL it is written through an engine of its own, with a pool of one connection,
in short batch transactions. On PostgreSQL its tables are the migrations' (0016); on SQLite
the log file's tables are created here (the main file's copies, made by the same migration
so that models and migrations agree, stay empty).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    func,
    insert,
    select,
    text,
)

from scim_server.db import reading
from scim_server.storage.models import Base, UTCDateTime

# On the main metadata, so that the migrations (which create these tables on both engines)
# and the models agree; on SQLite the log writes to the copies in its own file.
metadata = Base.metadata

ROW_ID = BigInteger().with_variant(Integer(), "sqlite")

scim_requests = Table(
    "scim_requests",
    metadata,
    Column("id", ROW_ID, primary_key=True, autoincrement=True),
    Column("account_id", String(32), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("connection_id", String(32), nullable=True),
    Column("connection_label", String(200), nullable=True),
    Column("profile", String(20), nullable=True),
    Column("user_agent", String(200), nullable=True),
    Column("method", String(10), nullable=False),
    Column("path", String(400), nullable=False),
    Column("query", Text, nullable=True),
    Column("status", Integer, nullable=False),
    # 2, 4 or 5: the page's status filter walks one index range in id order.
    Column("status_class", Integer, nullable=False),
    Column("scim_type", String(60), nullable=True),
    Column("rule", String(80), nullable=True),
    Column("duration_ms", Float, nullable=False),
    Column("quirks", JSON, nullable=False),
    Column("resource_ids", JSON, nullable=False),
    Column("request_body", Text, nullable=True),
    Column("request_truncated", Boolean, nullable=False),
    Column("response_body", Text, nullable=True),
    Column("response_truncated", Boolean, nullable=False),
)
# The page lists an account's newest first (id order) and filters on these.
Index("ix_scim_requests_account_id_order", scim_requests.c.account_id, scim_requests.c.id)
Index("ix_scim_requests_account_at", scim_requests.c.account_id, scim_requests.c.at)
# status_class last: a connection's error count (the hub card) reads the index alone.
Index("ix_scim_requests_account_connection", scim_requests.c.account_id,
      scim_requests.c.connection_id, scim_requests.c.id, scim_requests.c.status_class)
Index("ix_scim_requests_account_status", scim_requests.c.account_id,
      scim_requests.c.status_class, scim_requests.c.id)

# Which requests touched which resource: the user page's link, the resource filter.
scim_request_resources = Table(
    "scim_request_resources",
    metadata,
    Column("request_id", ROW_ID, primary_key=True),
    Column("resource_id", String(64), primary_key=True),
    Column("account_id", String(32), nullable=False),
)
Index("ix_scim_request_resources_lookup", scim_request_resources.c.account_id,
      scim_request_resources.c.resource_id, scim_request_resources.c.request_id)

# The profile detected from a connection's first requests (the Admin's choice, when made, is
# the credential's own column in the main database).
scim_connections = Table(
    "scim_connections",
    metadata,
    Column("connection_id", String(32), primary_key=True),
    Column("account_id", String(32), nullable=False),
    Column("detected_profile", String(20), nullable=False),
    Column("detected_at", UTCDateTime(), nullable=False),
)


def create_schema(engine: Engine) -> None:
    """The log's tables, when the log has a database of its own (SQLite)."""
    metadata.create_all(engine, tables=[scim_requests, scim_request_resources, scim_connections],
                        checkfirst=True)


_COLUMNS = [c.name for c in scim_requests.c]
# The table's own column names, not input: no value is ever formatted into the statement.
_SQLITE_INSERT = (f"INSERT INTO scim_requests ({', '.join(_COLUMNS)}) "  # noqa: S608
                  f"VALUES ({', '.join('?' for _ in _COLUMNS)})")


_PG_INSERT = (f"INSERT INTO scim_requests ({', '.join(_COLUMNS)}) "  # noqa: S608
              f"VALUES ({', '.join('%s' for _ in _COLUMNS)})")


def _pg_values(new_id: int, row: dict[str, Any]) -> tuple[Any, ...]:
    from psycopg.types.json import Json

    return tuple(new_id if name == "id" else
                 Json(row[name]) if name in ("quirks", "resource_ids") else row[name]
                 for name in _COLUMNS)


def _sqlite_values(new_id: int, row: dict[str, Any]) -> tuple[Any, ...]:
    values: list[Any] = []
    for name in _COLUMNS:
        value: Any = new_id if name == "id" else row[name]
        if name == "at":
            # As UTCDateTime and SQLite's DATETIME store it: naive UTC, microseconds.
            value = value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        elif name in ("quirks", "resource_ids"):
            value = json.dumps(value)
        elif isinstance(value, bool):
            value = int(value)
        values.append(value)
    return tuple(values)


def insert_rows(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """One short transaction: the requests, then the resources each touched, each one
    multi-row statement."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            # BEGIN IMMEDIATE holds the file's write lock: the ids after the largest are ours,
            # and the rows go in as a batch (RETURNING in order would insert them one by one).
            first = (connection.execute(select(func.max(scim_requests.c.id))).scalar() or 0) + 1
            ids = list(range(first, first + len(rows)))
            # The driver's own executemany: SQLAlchemy's per-row parameter processing was a
            # third of the writer's time per entry (values converted as the column types do).
            connection.exec_driver_sql(_SQLITE_INSERT, [
                _sqlite_values(new_id, row) for new_id, row in zip(ids, rows, strict=True)])
        else:
            # The ids first, in one round trip; then the driver's executemany of one fixed
            # statement (psycopg parses it once), where a multi-row VALUES with RETURNING was
            # a new statement to parse for every batch size (a third of a millisecond a row).
            ids = list(connection.execute(text(
                "SELECT nextval(pg_get_serial_sequence('scim_requests', 'id')) "
                "FROM generate_series(1, :n)"), {"n": len(rows)}).scalars())
            connection.exec_driver_sql(_PG_INSERT, [
                _pg_values(new_id, row) for new_id, row in zip(ids, rows, strict=True)])
        touched = [
            {"request_id": new_id, "resource_id": resource_id, "account_id": row["account_id"]}
            for new_id, row in zip(ids, rows, strict=True)
            for resource_id in row["resource_ids"]
        ]
        if touched:
            connection.execute(insert(scim_request_resources), touched)


def purge_before(engine: Engine, cutoff: dt.datetime, *, batch: int = 5000) -> int:
    """Delete the entries older than ``cutoff`` in short batches; how many went."""
    gone = 0
    while True:
        with engine.begin() as connection:
            ids = list(connection.scalars(
                select(scim_requests.c.id).where(scim_requests.c.at < cutoff)
                .order_by(scim_requests.c.id).limit(batch)))
            if not ids:
                return gone
            connection.execute(delete(scim_request_resources)
                               .where(scim_request_resources.c.request_id.in_(ids)))
            connection.execute(delete(scim_requests).where(scim_requests.c.id.in_(ids)))
            gone += len(ids)


def detected_profiles(engine: Engine, connection_ids: Sequence[str]) -> dict[str, str]:
    if not connection_ids:
        return {}
    with reading(), engine.connect() as connection:
        rows = connection.execute(
            select(scim_connections.c.connection_id, scim_connections.c.detected_profile)
            .where(scim_connections.c.connection_id.in_(list(connection_ids))))
        return {r[0]: r[1] for r in rows}


def record_detected(engine: Engine, account_id: str, connection_id: str, profile: str,
                    at: dt.datetime) -> None:
    """The first detection of a connection wins; a later one is ignored."""
    with engine.begin() as connection:
        known = connection.execute(select(scim_connections.c.connection_id).where(
            scim_connections.c.connection_id == connection_id)).first()
        if known is None:
            connection.execute(insert(scim_connections).values(
                connection_id=connection_id, account_id=account_id,
                detected_profile=profile, detected_at=at))


@dataclass
class RequestFilter:
    status_class: int | None = None  # 2, 4 or 5
    connection_id: str | None = None
    method: str | None = None
    resource_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    before_id: int | None = None


SUMMARY_COLUMNS = [c for c in scim_requests.c
                   if c.name not in ("request_body", "response_body")]


def list_rows(engine: Engine, account_id: str, where: RequestFilter,
              limit: int) -> list[dict[str, Any]]:
    t = scim_requests
    conditions = [t.c.account_id == account_id]
    if where.status_class is not None:
        conditions.append(t.c.status_class == where.status_class)
    if where.connection_id is not None:
        conditions.append(t.c.connection_id == where.connection_id)
    if where.method is not None:
        conditions.append(t.c.method == where.method)
    if where.since is not None:
        conditions.append(t.c.at >= where.since)
    if where.until is not None:
        conditions.append(t.c.at < where.until)
    if where.before_id is not None:
        conditions.append(t.c.id < where.before_id)
    if where.resource_id is not None:
        r = scim_request_resources
        touched = select(r.c.request_id).where(
            r.c.account_id == account_id, r.c.resource_id == where.resource_id)
        conditions.append(t.c.id.in_(touched))
    stmt = select(*SUMMARY_COLUMNS).where(and_(*conditions)).order_by(t.c.id.desc()).limit(limit)
    with reading(), engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(stmt)]


def get_row(engine: Engine, account_id: str, request_id: int) -> dict[str, Any] | None:
    t = scim_requests
    with reading(), engine.connect() as connection:
        row = connection.execute(
            select(t).where(t.c.account_id == account_id, t.c.id == request_id)).first()
    return None if row is None else dict(row._mapping)


def connection_activity(engine: Engine, account_id: str, connection_ids: Sequence[str],
                        since: dt.datetime) -> dict[str, dict[str, Any]]:
    """Per connection: its last request, and its requests and errors (4xx and 5xx) since
    ``since``. Each figure is an index range of one connection: the day's first id stands for
    ``since`` (ids follow the writers' batches, so the bound is as exact as a flush interval)."""
    t = scim_requests
    found: dict[str, dict[str, Any]] = {}
    with reading(), engine.connect() as connection:
        first_id = connection.execute(
            select(func.min(t.c.id)).where(t.c.account_id == account_id, t.c.at >= since)
        ).scalar()
        for connection_id in connection_ids:
            last = connection.execute(
                select(t.c.id, t.c.at, t.c.method, t.c.path, t.c.status)
                .where(t.c.account_id == account_id, t.c.connection_id == connection_id)
                .order_by(t.c.id.desc()).limit(1)).first()
            entry: dict[str, Any] = {"last": dict(last._mapping) if last else None,
                                     "total": 0, "errors": 0}
            if last is not None and first_id is not None:
                recent = [t.c.account_id == account_id, t.c.connection_id == connection_id,
                          t.c.id >= first_id]
                counted = connection.execute(
                    select(func.count(), func.count().filter(t.c.status_class >= 4))
                    .select_from(t).where(*recent)).one()
                entry["total"], entry["errors"] = int(counted[0]), int(counted[1])
            found[connection_id] = entry
    return found
