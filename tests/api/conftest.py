"""Admin API fixtures: the real app on a fresh database, an account with an Admin and tokens."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scim_server.app import create_app
from scim_server.settings import Settings
from tests.domain.factories import make_account, make_token, make_user
from tests.scim.conftest import ScimClient


@dataclass
class Seed:
    account_id: str
    admin_id: str
    token: str
    other_token: str  # an Admin of another account


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key="x" * 32, max_body_bytes=64 * 1024)


def make_api_app(settings: Settings) -> Flask:
    """The real application (every door), so the API is tested with the factory's own request
    transaction: commit on success, roll back otherwise."""
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    app = make_api_app(settings)
    yield app
    app.extensions["scim_engine"].dispose()


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    session = app.extensions["scim_sessions"]()
    yield session
    session.close()


@pytest.fixture
def seed(db: Any) -> Seed:
    account = make_account(db, seats_limit=5)
    admin = make_user(db, account, "boss", user_type="Admin")
    token = make_token(db, account, admin)
    other = make_account(db, "other", domains=["other.test"])
    other_admin = make_user(db, other, "root", user_type="Admin")
    other_token = make_token(db, other, other_admin)
    db.commit()
    return Seed(account.id, admin.id, token, other_token)


class Api:
    """A test client that sends the seeded Admin's token."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client, self.token = client, token

    def __getattr__(self, method: str) -> Any:
        def call(path: str, **kw: Any) -> Any:
            headers = kw.pop("headers", {})
            headers.setdefault("Authorization", f"Bearer {self.token}")
            return getattr(self.client, method)("/api/v1" + path, headers=headers, **kw)

        return call


@pytest.fixture
def api(app: Flask, seed: Seed) -> Api:
    return Api(app.test_client(), seed.token)


@pytest.fixture
def other_api(app: Flask, seed: Seed) -> Api:
    return Api(app.test_client(), seed.other_token)


@pytest.fixture
def scim(app: Flask, db: Any, seed: Seed) -> ScimClient:
    """A SCIM client of the seeded account, as its identity provider holds one."""
    from scim_server.storage.models import Account

    account = db.get(Account, seed.account_id)
    owner = make_user(db, account, "idp-owner", user_type="Admin")
    token = make_token(db, account, owner, kind="scim")
    db.commit()
    return ScimClient(app.test_client(), token)


def add_user(db: Any, seed: Seed, name: str, **kw: Any) -> str:
    from scim_server.storage.models import Account

    account = db.get(Account, seed.account_id)
    user = make_user(db, account, name, **kw)
    db.commit()
    return str(user.id)
