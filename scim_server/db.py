"""Engines and sessions: one engine per database URL, one session (one transaction) per request."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
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


@dataclass(frozen=True)
class Unavailable:
    """Why the database cannot serve a request right now. Every door answers it 503 with
    ``Retry-After``: the request itself was fine and may succeed as it is a moment later."""

    kind: str  # "unreachable" | "busy" (lock or statement timeout, no free connection)
    detail: str
    retry_after: int


UNREACHABLE = Unavailable(
    "unreachable", "The database is unreachable right now; retry the request.", 5)
BUSY = Unavailable("busy", "The database is busy; retry the request.", 1)
LOCKED = Unavailable(
    "busy", "Another request holds what this one needs to change; retry the request.", 1)
TOO_SLOW = Unavailable(
    "busy", "The database took too long to answer; retry the request.", 1)
# Two transactions waiting on each other (PostgreSQL aborts one) or a serialization failure:
# the aborted request did nothing and succeeds when sent again.
CROSSED = Unavailable(
    "busy", "This request crossed another one changing the same data; retry the request.", 1)

# SQLSTATEs of a server that is going away, starting, or out of room: nothing the request
# did wrong (class 08: connection exception; 53: insufficient resources, e.g. too many
# connections; 57P01-57P03: shutdown, crash, cannot connect now).
_UNREACHABLE_STATES = ("08", "53", "57P01", "57P02", "57P03")


def unavailable(exc: BaseException) -> Unavailable | None:
    """The database fault behind ``exc``, or None when it is something else (a bug, a
    constraint): one verdict for every door, so SQLite's busy lock, a PostgreSQL restart and a
    lock or statement timeout all answer the same way. Follows explicit ``raise ... from``."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        verdict = _verdict(current)
        if verdict is not None:
            return verdict
        current, seen = current.__cause__, seen + 1
    return None


def _verdict(exc: BaseException) -> Unavailable | None:
    if isinstance(exc, PoolTimeout):
        return BUSY  # every pooled connection stayed in use for the pool's whole timeout
    if isinstance(exc, DisconnectionError):
        return UNREACHABLE
    if not isinstance(exc, DBAPIError):
        return None
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        # The write lock was not free within the busy timeout (a burst of writers).
        text = str(orig)
        return BUSY if "database is locked" in text or "database is busy" in text else None
    state = getattr(orig, "sqlstate", None)
    if state == "55P03":  # lock_not_available: lock_timeout
        return LOCKED
    if state == "57014":  # query_canceled: statement_timeout (or an operator's cancel)
        return TOO_SLOW
    if state in ("40P01", "40001"):  # deadlock_detected, serialization_failure
        return CROSSED
    if state is not None and state.startswith(_UNREACHABLE_STATES):
        return UNREACHABLE
    if exc.connection_invalidated or (state is None and isinstance(exc, OperationalError)):
        # psycopg reports a refused or broken connection with no SQLSTATE at all.
        return UNREACHABLE
    return None


def describe(exc: BaseException) -> str:
    """A log line for a database fault: the driver's error class, SQLSTATE and first line;
    never SQLAlchemy's text, which quotes the statement's parameters (token hashes, emails)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    first_line = (str(orig).strip().splitlines() or [""])[0]
    state = getattr(orig, "sqlstate", None)
    return f"{type(orig).__name__}{f' [{state}]' if state else ''}: {first_line}"


def _milliseconds(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def make_engine(
    url: str,
    *,
    sqlite_busy_timeout: float = 30.0,
    lock_timeout: float | None = None,
    statement_timeout: float | None = None,
    connect_timeout: float | None = None,
    **kwargs: Any,
) -> Engine:
    """Create an engine with the settings each backend needs.

    SQLite runs in WAL mode with foreign keys on and a busy timeout, so that several gunicorn
    workers can share the file; PostgreSQL uses psycopg 3. On PostgreSQL, ``lock_timeout``,
    ``statement_timeout`` and ``connect_timeout`` (seconds; 0 or None: no bound) bound every
    wait of the server's connections (the app passes its settings; migrations and the CLI do
    not, so a long migration is never cut short).
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
    if connect_timeout:
        # libpq waits for an unreachable host as long as TCP does (minutes) without it.
        connect_args = dict(kwargs.pop("connect_args", {}))
        connect_args.setdefault("connect_timeout", max(1, round(connect_timeout)))
        kwargs["connect_args"] = connect_args
    engine = create_engine(url, **kwargs)
    timeouts = {
        name: _milliseconds(value)
        for name, value in (("lock_timeout", lock_timeout),
                            ("statement_timeout", statement_timeout))
        if value is not None
    }
    if timeouts:

        @event.listens_for(engine, "connect")
        def _bounded_waits(dbapi_connection: Any, _record: Any) -> None:
            """Session defaults for each new connection: a request waiting on a row lock (one
            account's row held by a long transaction) or a runaway statement gives up and
            answers 503, instead of holding a worker thread for as long as the holder likes.
            Set outside any transaction, so the pool's rollback on check-in keeps them; a
            request may still ``SET LOCAL`` its own. One round trip per new connection."""
            autocommit = dbapi_connection.autocommit
            dbapi_connection.autocommit = True
            try:
                cursor = dbapi_connection.cursor()
                cursor.execute(
                    "SELECT " + ", ".join(
                        f"set_config('{name}', '{ms}', false)" for name, ms in timeouts.items()
                    )
                )
                cursor.close()
            finally:
                dbapi_connection.autocommit = autocommit

    return engine


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
