"""Fixtures for the SCIM door: an app on a fresh database, two accounts with their SCIM tokens."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scim_server.app import create_app
from scim_server.cli import create_account
from scim_server.db import make_session_factory
from scim_server.settings import Settings

SCIM = "/scim/v2"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@dataclass
class Account:
    id: str
    name: str
    token: str
    admin_email: str


class ScimClient:
    """A Flask test client that speaks SCIM with one account's token."""

    def __init__(self, client: FlaskClient, token: str | None) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
                raw: bytes | str | None = None, content_type: str = "application/scim+json",
                query: dict[str, Any] | None = None) -> Any:
        all_headers = {"Accept": "application/scim+json"}
        if self.token is not None:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if body is not None or raw is not None:
            all_headers["Content-Type"] = content_type
        all_headers.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        return self.client.open(SCIM + path, method=method, data=data, headers=all_headers,
                                query_string=query)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def app(database_url: str) -> Flask:
    # The buckets are taken on every request but never run dry: these tests send faster than
    # any identity provider; the limits have their own tests (test_rate_limits.py).
    settings = Settings.from_env({}, database_url=database_url, secret_key="test-secret-key-0123456789",
                                 rate_limit_per_second=10**6, rate_limit_burst=10**6)
    application = create_app(settings)
    application.config["TESTING"] = True
    return application


def _new_account(app: Flask, name: str, domain: str) -> Account:
    factory = make_session_factory(app.extensions["scim_engine"])
    with factory() as session:
        result = create_account(session, app.config["SCIM_SETTINGS"], name, domain)
    return Account(result["account_id"], name, result["scim_token"], result["admin_email"])


@pytest.fixture
def account(app: Flask) -> Account:
    return _new_account(app, "acme", "acme.example")


@pytest.fixture
def other_account(app: Flask) -> Account:
    return _new_account(app, "globex", "globex.example")


@pytest.fixture
def scim(app: Flask, account: Account) -> ScimClient:
    return ScimClient(app.test_client(), account.token)


@pytest.fixture
def other_scim(app: Flask, other_account: Account) -> ScimClient:
    return ScimClient(app.test_client(), other_account.token)


def user_body(user_name: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"value": user_name if "@" in user_name else f"{user_name}@acme.example",
                    "type": "work", "primary": True}],
        "active": True,
    }
    body.update(extra)
    return body


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def ada_joins_team_then_is_deactivated(scim: ScimClient) -> tuple[str, str]:
    """A user and a group created, the user added to the group then deactivated, through the
    SCIM door: the ids of the user and the group, for tests that follow the changes' events."""
    ada = scim.post("/Users", user_body("ada@acme.test", password="S3cret-pass!")).get_json()["id"]
    team = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Team"}
                     ).get_json()["id"]
    assert scim.patch(f"/Groups/{team}", patch_body(
        {"op": "add", "path": "members", "value": [{"value": ada}]})).status_code in (200, 204)
    assert scim.patch(f"/Users/{ada}", patch_body(
        {"op": "replace", "path": "active", "value": False})).status_code == 200
    return ada, team


@pytest.fixture
def fast_password_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cheap argon2 for the accounts' first Admins: SCIM tests never sign in with the password,
    and the production parameters cost about half a second per account."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr("scim_server.domain.accounts.hash_password", hasher.hash)
