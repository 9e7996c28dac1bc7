"""Storage fixtures: an engine, a session and two accounts on a fresh migrated database.

The databases come from tests/conftest.py (``sqlite_url`` / ``pg_url``); the storage flushes in
one session that the test never commits, as the HTTP layer would own the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from scim_server.db import make_engine, make_session_factory
from scim_server.storage.models import Account
from scim_server.storage.scim_storage import SqlScimStorage


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    session = make_session_factory(engine)()
    yield session
    session.rollback()
    session.close()


@pytest.fixture
def accounts(session: Session) -> tuple[str, str]:
    first, second = Account(name="first"), Account(name="second")
    session.add_all([first, second])
    session.flush()
    return first.id, second.id


@pytest.fixture
def make_storage(session: Session, accounts: tuple[str, str], provider) -> Callable[[str], SqlScimStorage]:
    def make(account_id: str) -> SqlScimStorage:
        return SqlScimStorage(session=lambda: session, account_id=lambda: account_id, provider=provider)

    return make


@pytest.fixture
def storage(make_storage: Callable[[str], SqlScimStorage], accounts: tuple[str, str]) -> SqlScimStorage:
    return make_storage(accounts[0])


class StatementLog:
    """The SQL statements an engine ran, to prove what a call costs."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        self.statements.append(statement)


@pytest.fixture
def statements(engine: Engine) -> Iterator[StatementLog]:
    log = StatementLog()
    event.listen(engine, "before_cursor_execute", log)
    yield log
    event.remove(engine, "before_cursor_execute", log)
