"""A write checks the version (RFC 7644 §3.14) on the row as committed when it locks it, not on
the copy an earlier read of the same request left in the session."""

from __future__ import annotations

import pytest
from flask import Flask
from scim2_models import PreconditionFailedException

from scim_server.db import make_session_factory
from scim_server.storage.scim_storage import SqlScimStorage, default_provider
from tests.scim.conftest import Account, ScimClient, patch_body, user_body


def test_a_write_between_the_read_and_the_lock_is_seen(
    app: Flask, account: Account, scim: ScimClient
) -> None:
    if app.extensions["scim_engine"].dialect.name == "sqlite":
        pytest.skip("SQLite: a write transaction holds the database lock from its first read, "
                    "so no other write can come between its read and its lock")
    user = scim.post("/Users", user_body("race@acme.example")).get_json()
    provider = default_provider()
    user_type = next(rt for rt in provider.resource_types if rt.name == "User")
    with make_session_factory(app.extensions["scim_engine"])() as session:
        storage = SqlScimStorage(session=lambda: session, account_id=lambda: account.id,
                                 provider=provider)
        with provider:
            read = storage.get(user_type, user["id"])  # version 1, held in this session
            # Another request changes the user and commits: version 2.
            assert scim.patch(f"/Users/{user['id']}", patch_body(
                {"op": "replace", "path": "displayName", "value": "Other writer"})).status_code == 200
            read.display_name = "Stale writer"
            with pytest.raises(PreconditionFailedException):
                storage.update(user_type, read, expected_version=read.meta.version)
        session.rollback()
    assert scim.get(f"/Users/{user['id']}").get_json()["displayName"] == "Other writer"
