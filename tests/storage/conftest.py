"""Storage fixtures: one migrated database per engine for the session, one rolled-back
transaction per test (the outer-transaction-plus-savepoint pattern of warehouse's tests).

Creating a PostgreSQL database per test (tests/conftest.py's ``pg_url``) costs a checkpoint, about
a second; the storage never commits, so rolling back the test's transaction isolates just as well.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from scim2_models import ScimProvider
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from scim_server.db import make_engine
from scim_server.storage.models import Account
from scim_server.storage.schema import build_provider
from scim_server.storage.scim_storage import SqlScimStorage


@pytest.fixture(scope="session")
def _storage_sqlite_engine(
    _sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    path = tmp_path_factory.mktemp("storage") / "scim.db"
    shutil.copyfile(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _storage_pg_engine(pg_cluster: Any, _pg_template: str) -> Iterator[Engine]:
    name = f"storage_{uuid.uuid4().hex[:12]}"
    pg_cluster.create_database(name, template=_pg_template)
    engine = make_engine(pg_cluster.url(name))
    yield engine
    engine.dispose()
    pg_cluster.drop_database(name)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """The engine a test runs on; the contract classes pin one."""
    return str(request.param)


@pytest.fixture
def engine(backend: str, request: pytest.FixtureRequest) -> Engine:
    name = "_storage_sqlite_engine" if backend == "sqlite" else "_storage_pg_engine"
    return request.getfixturevalue(name)  # type: ignore[no-any-return]


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    # The session's own commits and savepoints nest inside the outer transaction.
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield session
    session.close()
    outer.rollback()
    connection.close()


_PROVIDER = build_provider()


@pytest.fixture
def provider() -> ScimProvider:
    return _PROVIDER


@pytest.fixture
def accounts(session: Session) -> tuple[str, str]:
    first, second = (
        Account(name=f"first-{uuid.uuid4().hex[:8]}"),
        Account(name=f"second-{uuid.uuid4().hex[:8]}"),
    )
    session.add_all([first, second])
    session.flush()
    return first.id, second.id


@pytest.fixture
def make_storage(session: Session, provider: ScimProvider) -> Callable[[str], SqlScimStorage]:
    def make(account_id: str) -> SqlScimStorage:
        return SqlScimStorage(
            session=lambda: session, account_id=lambda: account_id, provider=provider
        )

    return make


@pytest.fixture
def storage(
    make_storage: Callable[[str], SqlScimStorage], accounts: tuple[str, str]
) -> SqlScimStorage:
    return make_storage(accounts[0])


class StatementLog:
    """The SQL statements an engine ran, to prove what a call costs."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.statements.append(statement)


@pytest.fixture
def statements(engine: Engine) -> Iterator[StatementLog]:
    log = StatementLog()
    event.listen(engine, "before_cursor_execute", log)
    yield log
    event.remove(engine, "before_cursor_execute", log)
