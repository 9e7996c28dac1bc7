"""Every wait on PostgreSQL is bounded: a write that meets a row lock held by another
transaction gives up after ``SCIM_DB_LOCK_TIMEOUT`` (SQLSTATE 55P03), or after
``SCIM_DB_STATEMENT_TIMEOUT`` when no lock timeout is set (57014), and every door answers it
503 with Retry-After in its own format; a Bulk fails as a whole, with nothing written."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from tests.faults.conftest import SCIM_ERROR, Tenant, add_tenant, make_app, signed_in, user_body

pytestmark = pytest.mark.postgres

TIMEOUT = 0.3


@pytest.fixture
def tenant(pg_url: str) -> Tenant:
    return add_tenant(pg_url, "acme")


@pytest.mark.parametrize("bound", ["lock", "statement"])
def test_a_write_waiting_on_a_held_row_gives_up_with_503_at_every_door(
    pg_url: str, tenant: Tenant, bound: str
) -> None:
    timeouts = ({"db_lock_timeout": TIMEOUT} if bound == "lock"
                else {"db_lock_timeout": 0, "db_statement_timeout": TIMEOUT})
    app = make_app(pg_url, **timeouts)
    client = app.test_client()
    scim = {"Authorization": f"Bearer {tenant.scim_token}", "Content-Type": "application/scim+json"}
    api = {"Authorization": f"Bearer {tenant.api_token}"}
    console = signed_in(app, tenant)
    with console.session_transaction() as session:
        session["csrf_token"] = "csrf-for-the-test"
    assert client.get("/scim/v2/Users", headers=scim).status_code == 200  # first use recorded

    holder = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"))
    try:
        holder.execute("SELECT id FROM accounts WHERE id = %s FOR UPDATE", (tenant.id,))
        answers = {}
        for name, send in {
            "scim": lambda: client.post("/scim/v2/Users", headers=scim,
                                        data=json.dumps(user_body(f"one@{tenant.domain}"))),
            "bulk": lambda: client.post("/scim/v2/Bulk", headers=scim, data=json.dumps({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    {"method": "POST", "path": "/Groups", "bulkId": "g",
                     "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                              "displayName": "Before"}},
                    {"method": "POST", "path": "/Users", "bulkId": "u",
                     "data": user_body(f"two@{tenant.domain}")}]})),
            "api": lambda: client.post("/api/v1/users/invite", headers=api,
                                       json={"email": f"three@{tenant.domain}"}),
            "console": lambda: console.post("/admin/users/invite", data={
                "csrf_token": "csrf-for-the-test", "email": f"four@{tenant.domain}",
                "user_type": "Member"}),
        }.items():
            started = time.monotonic()
            answers[name] = (send(), time.monotonic() - started)
    finally:
        holder.rollback()
        holder.close()

    for name, (response, seconds) in answers.items():
        assert response.status_code == 503, (name, response.status_code, response.data[:300])
        assert response.headers["Retry-After"] == "1", name
        assert TIMEOUT * 0.9 <= seconds < TIMEOUT + 1.5, (name, seconds)
    for name in ("scim", "bulk"):
        body = answers[name][0].get_json(force=True)
        assert body["schemas"] == [SCIM_ERROR] and body["status"] == "503", body
    assert answers["api"][0].mimetype == "application/problem+json"
    assert answers["console"][0].mimetype == "text/html"
    # Nothing half-written: the Bulk's group, created before its user timed out, is gone.
    listed = client.get("/scim/v2/Groups", headers=scim).get_json()
    assert listed["totalResults"] == 0, listed
