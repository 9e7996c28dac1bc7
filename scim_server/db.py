"""Engines and sessions: one engine per database URL, one session (one transaction) per request."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

# Whether the transactions begun in this context only read (SQLite: a plain deferred BEGIN).
_reading: ContextVar[bool] = ContextVar("scim_reading", default=False)

# Requests that only read, or write rarely and may fail to (a throttled last-use time).
READ_ONLY = frozenset({"GET", "HEAD", "OPTIONS"})


@contextmanager
def reading(session: Session | None = None) -> Iterator[None]:
    """Transactions begun inside only read, or write rarely and may fail to (a GET).

    On SQLite they begin DEFERRED, so that readers of every worker run side by side under WAL
    instead of queueing for the write lock. On PostgreSQL, the ``session``'s statements run in
    autocommit when they are its first: no BEGIN and no COMMIT round trips, each statement
    its own snapshot (as READ COMMITTED gives anyway)."""
    if (
        session is not None
        and not session.in_transaction()
        and session.get_bind().dialect.name == "postgresql"
    ):
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


# PostgreSQL connections older than this are replaced at their next checkout.
POOL_RECYCLE_SECONDS = 1800

# A pooled SQLite connection runs ``PRAGMA optimize`` every this many check-ins.
SQLITE_OPTIMIZE_EVERY = 100


T = TypeVar("T")


def once_more_if_dropped(session: Session, first: Callable[[], T]) -> T:
    """Run a request's first statements; on a pooled connection that the database dropped
    (a restart, an idle timeout), once more on a new one.

    No connection is pinged before use (a round trip per request): the first statement of a
    request finds a dead one, SQLAlchemy then renews the pool's older connections, and the
    second try runs on a fresh one."""
    try:
        return first()
    except DBAPIError as exc:
        session.rollback()
        if not exc.connection_invalidated:
            raise
    return first()


def make_engine(url: str, *, sqlite_busy_timeout: float = 30.0, **kwargs: Any) -> Engine:
    """Create an engine with the settings each backend needs.

    SQLite runs in WAL mode with foreign keys on and a busy timeout, so that several gunicorn
    workers can share the file; PostgreSQL uses psycopg 3.
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        connect_args = {"check_same_thread": False, "timeout": sqlite_busy_timeout}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs.setdefault("poolclass", StaticPool)
        engine = create_engine(url, connect_args=connect_args, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy issue BEGIN itself so that savepoints work (pysqlite quirk).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # ANALYZE (see _sqlite_optimize) samples at most this many index entries: approximate
            # statistics in milliseconds whatever the size of the tables.
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.close()

        @event.listens_for(engine, "checkin")
        def _sqlite_optimize(dbapi_connection: Any, record: Any) -> None:
            """Keep the query planner's statistics: without them SQLite drives an indexed
            lookup from the wrong table (an ``emails[...]`` filter scanned every user of the
            account: 530 ms at 100,000 users, 0.5 ms with statistics). ``PRAGMA optimize``
            analyses only the tables whose statistics are missing or stale, as SQLite advises
            for long-lived connections; it never waits for the write lock."""
            if dbapi_connection is None:
                return
            record.info["checkins"] = checkins = record.info.get("checkins", 0) + 1
            if checkins % SQLITE_OPTIMIZE_EVERY:
                return
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("PRAGMA busy_timeout=0")
                cursor.execute("PRAGMA optimize")
            except sqlite3.OperationalError:
                pass  # the database is busy: the next turn will do it
            finally:
                cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout * 1000)}")
                cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # IMMEDIATE takes the write lock up front: no deadlock between two writers. Reads
            # begin DEFERRED (see ``reading``) and never wait for a writer under WAL.
            conn.exec_driver_sql("BEGIN" if _reading.get() else "BEGIN IMMEDIATE")

        return engine
    # No ping before each use (a round trip per request): a connection the server dropped fails
    # its first statement, which the doors try once more (``auth.authenticate_request``), and
    # connections are renewed before any server-side idle timeout is likely to cut them.
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    if "poolclass" not in kwargs:  # NullPool (migrations) takes no sizing arguments
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 10)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
