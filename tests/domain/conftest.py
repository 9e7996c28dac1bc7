"""Domain fixtures: a session on a fresh migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from scim_server.db import make_engine, make_session_factory
from scim_server.domain.actors import Actor
from scim_server.storage.models import Account, User
from tests.domain.factories import make_account, make_user


@pytest.fixture
def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    s = make_session_factory(engine)()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def account(session: Session) -> Account:
    return make_account(session)


@pytest.fixture
def admin(session: Session, account: Account) -> User:
    return make_user(session, account, "boss", user_type="Admin")


@pytest.fixture
def actor(admin: User) -> Actor:
    return Actor(door="api", user_id=admin.id, client="tests")
