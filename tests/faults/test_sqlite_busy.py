"""SQLite's busy write lock is the same fault as a PostgreSQL lock timeout: 503 with
Retry-After at the admin API and the console too, not only at SCIM
(``tests/scim/test_sqlite_reads.py``)."""

from __future__ import annotations

import sqlite3

from scim_server.app import create_app
from scim_server.db import make_engine
from tests.faults.conftest import add_tenant, settings_for, signed_in


def test_a_write_that_cannot_get_the_lock_is_a_503_at_the_api_and_the_console(
    sqlite_url: str,
) -> None:
    tenant = add_tenant(sqlite_url, "acme")
    app = create_app(settings_for(sqlite_url),
                     engine=make_engine(sqlite_url, sqlite_busy_timeout=0.2))
    client = app.test_client()
    api = {"Authorization": f"Bearer {tenant.api_token}"}
    console = signed_in(app, tenant)
    with console.session_transaction() as session:
        session["csrf_token"] = "csrf-for-the-test"
    assert client.get("/api/v1/users", headers=api).status_code == 200
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0.1,
                             isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        invited = client.post("/api/v1/users/invite", headers=api,
                              json={"email": f"new@{tenant.domain}"})
        page = console.post("/admin/users/invite", data={
            "csrf_token": "csrf-for-the-test", "email": f"other@{tenant.domain}",
            "user_type": "Member"})
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    for response in (invited, page):
        assert response.status_code == 503, response.data[:300]
        assert response.headers["Retry-After"] == "1"
    assert invited.mimetype == "application/problem+json"
    assert page.mimetype == "text/html"
    assert "The database is unavailable right now" in page.get_data(as_text=True)
