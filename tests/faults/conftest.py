"""Fixtures of the fault and fairness tests: an app on PostgreSQL with accounts reachable at
every door (a SCIM token, an admin API token, a signed-in admin UI session)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import flask
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from admin_ui.security import sign_in
from scim_server.app import create_app
from scim_server.cli import create_account
from scim_server.db import make_engine, make_session_factory
from scim_server.domain.credentials import issue_credential
from scim_server.settings import Settings
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import User

SECRET = "faults-secret-key-0123456789"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@dataclass(frozen=True)
class Tenant:
    """One account and a credential for each door."""

    id: str
    domain: str
    scim_token: str
    api_token: str
    admin_id: str


@pytest.fixture(autouse=True)
def fast_password_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cheap argon2 for the accounts' first Admins (the production cost is most of a second
    each, and these tests never sign in with the password)."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr("scim_server.domain.accounts.hash_password", hasher.hash)


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings.from_env({}, database_url=url, secret_key=SECRET, **overrides)


def make_app(url: str, **overrides: Any) -> Flask:
    app = create_app(settings_for(url, **overrides))
    app.config["TESTING"] = True
    return app


def add_tenant(url: str, name: str) -> Tenant:
    """An account made as ``scim-server init`` makes it, plus an admin API token."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            made = create_account(session, settings_for(url), name, f"{name}.example")
            account = session.get(AccountRow, made["account_id"])
            admin = session.scalar(select(User).where(User.account_id == made["account_id"]))
            assert account is not None and admin is not None
            api_token = issue_credential(session, account, admin, kind="api").secret
            session.commit()
            return Tenant(id=made["account_id"], domain=f"{name}.example",
                          scim_token=made["scim_token"], api_token=api_token, admin_id=admin.id)
    finally:
        engine.dispose()


def signed_in(app: Flask, tenant: Tenant) -> FlaskClient:
    """A test client whose session cookie is the tenant's Admin signed in to the console (the
    session the console's own sign-in writes, without a password to type)."""
    with app.test_request_context(), app.extensions["scim_sessions"]() as db:
        admin = db.get(User, tenant.admin_id)
        assert admin is not None
        sign_in(admin)
        cookie = dict(flask.session)
    client = app.test_client()
    with client.session_transaction() as session:
        session.update(cookie)
    return client


def user_body(user_name: str) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": user_name,
            "emails": [{"value": user_name, "type": "work", "primary": True}], "active": True}
