"""Fixtures for the request log: the real app on a fresh database (its log in its own file on
SQLite), two accounts each with an Admin, a SCIM token and an admin API token."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask

from scim_server.app import create_app
from scim_server.domain.request_log import RequestLog
from scim_server.request_capture import request_log_of
from scim_server.settings import Settings
from tests.domain.factories import make_account, make_token, make_user
from tests.scim.conftest import ScimClient


@dataclass
class Tenant:
    account_id: str
    admin_id: str
    scim_token: str
    api_token: str
    scim: ScimClient

    def api(self, app: Flask, method: str, path: str, **kw: Any) -> Any:
        headers = kw.pop("headers", {})
        headers.setdefault("Authorization", f"Bearer {self.api_token}")
        return getattr(app.test_client(), method)("/api/v1" + path, headers=headers, **kw)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    # Flushed by the tests themselves (``log.flush()``), never by the clock.
    values: dict[str, Any] = dict(database_url=database_url, secret_key="x" * 32,
                                  rate_limit_per_second=10**6, rate_limit_burst=10**6,
                                  request_log_flush_interval=3600)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    application = create_app(make_settings(database_url))
    application.config["TESTING"] = True
    yield application
    log = request_log_of(application)
    if log is not None:
        log.close()
        log.engine.dispose()
    application.extensions["scim_engine"].dispose()


@pytest.fixture
def log(app: Flask) -> RequestLog:
    found = request_log_of(app)
    assert found is not None
    return found


def _tenant(app: Flask, name: str, domain: str) -> Tenant:
    with app.extensions["scim_sessions"]() as db:
        account = make_account(db, name, domains=[domain], seats_limit=1000,
                               operators_limit=1000)
        admin = make_user(db, account, "boss", user_type="Admin")
        scim_token = make_token(db, account, admin, kind="scim")
        api_token = make_token(db, account, admin, kind="api")
        db.commit()
        return Tenant(account.id, admin.id, scim_token, api_token,
                      ScimClient(app.test_client(), scim_token))


@pytest.fixture
def tenant(app: Flask) -> Tenant:
    return _tenant(app, "acme", "acme.test")


@pytest.fixture
def other(app: Flask) -> Tenant:
    return _tenant(app, "globex", "globex.test")
