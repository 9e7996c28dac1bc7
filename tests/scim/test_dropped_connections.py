"""Pooled connections are not pinged before use (a round trip per request): a connection the
database dropped (a restart, an idle timeout) fails its first statement, and the request tries
once more on a new one. Tested for real: PostgreSQL terminates every connection of the pool."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from flask import Flask
from sqlalchemy import select

from scim_server.db import make_session_factory
from scim_server.domain.credentials import issue_credential
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import User
from tests.scim.conftest import Account, ScimClient, user_body


def admin_account(session: Any, account_id: str) -> AccountRow:
    row = session.get(AccountRow, account_id)
    assert row is not None
    return row


def _drop_every_connection(database_url: str) -> int:
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        return len(admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall())


@pytest.mark.postgres
def test_every_door_answers_after_the_database_dropped_its_connections(
    pg_url: str, app: Flask, account: Account, scim: ScimClient
) -> None:
    # The app's pool now holds open connections.
    assert scim.get("/Users").status_code == 200
    assert scim.post("/Users", user_body("first@acme.example")).status_code == 201
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    with make_session_factory(app.extensions["scim_engine"])() as session:
        admin = session.scalar(select(User).where(User.account_id == account.id))
        assert admin is not None
        api_token = issue_credential(session, admin_account(session, account.id), admin,
                                     kind="api").secret
        session.commit()

    for request in (
        lambda: scim.get("/Users"),
        lambda: scim.post("/Users", user_body("second@acme.example")),
        lambda: client.get("/healthz"),
        lambda: client.get("/api/v1/users", headers={"Authorization": f"Bearer {api_token}"}),
    ):
        assert _drop_every_connection(pg_url) >= 1
        assert request().status_code in (200, 201)


@pytest.fixture
def database_url(pg_url: str) -> str:
    return pg_url
