"""The shared database fixtures hand every test its own empty, migrated database."""

from __future__ import annotations

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from scim_server.db import make_engine
from scim_server.storage.all_models import metadata
from scim_server.storage.models import Account


def _write_then_count(url: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as session, session.begin():
            before = session.scalar(select(func.count()).select_from(Account))
            session.add(Account(name="acme"))
        return int(before or 0)
    finally:
        engine.dispose()


@pytest.mark.parametrize("attempt", [1, 2])
def test_each_test_gets_an_empty_database(database_url: str, attempt: int) -> None:
    # Run twice on each engine: the second run would see "acme" if databases were shared.
    assert _write_then_count(database_url) == 0


def test_database_is_at_migration_head(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert set(metadata.tables) <= tables
    assert "alembic_version" in tables


def test_open_connections_do_not_block_the_drop(pg_url: str) -> None:
    # The teardown drops the database WITH (FORCE): an engine whose pool still holds a
    # connection (a test that forgot dispose()) does not make the teardown fail.
    engine = make_engine(pg_url)
    with Session(engine) as session:
        session.scalar(select(func.count()).select_from(Account))
    assert engine.pool.checkedin() == 1
