"""On SQLite a SCIM GET begins a DEFERRED transaction: it reads beside a writer instead of
queueing for the write lock that every write transaction takes (``BEGIN IMMEDIATE``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from flask import Flask

from scim_server.app import create_app
from scim_server.settings import Settings
from tests.scim.conftest import ScimClient, _new_account, user_body


def sqlite_app(sqlite_url: str) -> Flask:
    settings = Settings.from_env({}, database_url=sqlite_url, secret_key="test-secret-key-0123456789")
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


def test_a_get_reads_while_another_connection_holds_the_write_lock(sqlite_url: str) -> None:
    app = sqlite_app(sqlite_url)
    account = _new_account(app, "acme", "acme.example")
    scim = ScimClient(app.test_client(), account.token)
    assert scim.post("/Users", user_body("reader@acme.example")).status_code == 201
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0.1,
                             isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a long Bulk, say
    try:
        found = scim.get("/Users", query={"filter": 'userName eq "reader@acme.example"'})
        assert found.status_code == 200
        assert found.get_json()["totalResults"] == 1
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_writes_take_the_write_lock_after_the_token_is_read(sqlite_url: str) -> None:
    """A POST reads its token in a short DEFERRED transaction, then begins IMMEDIATE for its
    writes: it holds the write lock for its writes only, and never fails halfway through on a
    read lock it could not upgrade. A GET begins DEFERRED."""
    app = sqlite_app(sqlite_url)
    engine = app.extensions["scim_engine"]
    seen: list[str] = []
    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *rest: seen.append(statement))
    account = _new_account(app, "acme", "acme.example")
    scim = ScimClient(app.test_client(), account.token)
    seen.clear()
    assert scim.post("/Users", user_body("w@acme.example")).status_code == 201
    assert seen[0] == "BEGIN"
    immediate = seen.index("BEGIN IMMEDIATE")
    assert any("FROM credentials" in statement for statement in seen[:immediate])
    assert any(statement.startswith("INSERT INTO users") for statement in seen[immediate:])
    seen.clear()
    assert scim.get("/Users").status_code == 200
    assert seen[0] == "BEGIN"


def test_a_write_that_cannot_get_the_lock_is_a_503_and_writes_nothing(sqlite_url: str) -> None:
    """The write lock held past the busy timeout (a burst of writers): the SCIM client gets a
    SCIM 503 with Retry-After (RFC 7644 §3.12), a Bulk as a whole, and nothing is half-applied."""
    from scim_server.db import make_engine

    settings = Settings.from_env({}, database_url=sqlite_url,
                                 secret_key="test-secret-key-0123456789")
    app = create_app(settings, engine=make_engine(sqlite_url, sqlite_busy_timeout=0.2))
    account = _new_account(app, "acme", "acme.example")
    scim = ScimClient(app.test_client(), account.token)
    assert scim.get("/Users").status_code == 200  # the token's first use is recorded
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=0.1,
                             isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        refused = scim.post("/Users", user_body("busy@acme.example"))
        bulk = scim.post("/Bulk", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            # Operations of the stock step-by-step path, which reports errors per operation.
            "Operations": [{"method": "POST", "path": "/Groups", "bulkId": f"g{i}",
                            "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                     "displayName": f"Busy {i}"}} for i in range(2)]})
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    for response in (refused, bulk):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        assert response.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert scim.get("/Users").get_json()["totalResults"] == 1  # the bootstrap admin only
    assert scim.get("/Groups").get_json()["totalResults"] == 0


def test_the_planner_statistics_are_kept(sqlite_url: str, monkeypatch: Any) -> None:
    """Pooled connections run ``PRAGMA optimize`` now and then: the statistics exist, and an
    ``emails[...]`` lookup is driven from the email index, not by scanning the account's users
    (which SQLite chose without statistics: 530 ms at 100,000 users)."""
    from scim_server import db

    monkeypatch.setattr(db, "SQLITE_OPTIMIZE_EVERY", 5)
    app = sqlite_app(sqlite_url)
    account = _new_account(app, "acme", "acme.example")
    scim = ScimClient(app.test_client(), account.token)
    assert scim.post("/Bulk", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
                        "data": user_body(f"u{i}@acme.example")} for i in range(200)]},
    ).status_code == 200
    lookup = {"filter": 'emails[type eq "work"].value eq "u7@acme.example"'}
    for _ in range(12):
        assert scim.get("/Users", query=lookup).get_json()["totalResults"] == 1
    raw = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    try:
        analysed = {row[0] for row in raw.execute("SELECT tbl FROM sqlite_stat1")}
        assert {"users", "user_emails"} <= analysed
        plan = " ".join(str(row[3]) for row in raw.execute(
            "EXPLAIN QUERY PLAN SELECT users.id FROM users WHERE users.account_id = ? "
            "AND users.status != 'deleted' AND users.id IN (SELECT ue.user_id FROM user_emails "
            "AS ue WHERE ue.account_id = ? AND ue.value_key = ?)",
            (account.id, account.id, "u7@acme.example")))
        assert "ix_users_account_status" not in plan, plan
    finally:
        raw.close()
