"""The log never fails provisioning, and never takes its write lock: real faults of the log's
database (its table dropped, its file unopenable or full, its file locked, its PostgreSQL
cluster stopped), each while provisioning goes on."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, text

from scim_server.app import create_app
from scim_server.db import make_engine
from scim_server.domain.request_log import RequestLog
from scim_server.migrate import upgrade
from scim_server.request_capture import request_log_of
from tests.pgcluster import PgCluster, find_bin_dir
from tests.requestlog.conftest import Tenant, _tenant, make_settings
from tests.requestlog.test_entries import entries
from tests.scim.conftest import user_body


def _provision(tenant: Tenant, name: str) -> None:
    created = tenant.scim.post("/Users", user_body(f"{name}@acme.test"))
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    assert tenant.scim.get(f"/Users/{user_id}").status_code == 200
    assert tenant.scim.delete(f"/Users/{user_id}").status_code == 204


def test_the_log_table_dropped(app: Flask, log: RequestLog, tenant: Tenant) -> None:
    with log.engine.begin() as connection:
        connection.execute(text("DROP TABLE scim_request_resources"))
        connection.execute(text("DROP TABLE scim_requests"))
    _provision(tenant, "dropped")
    assert log.flush() == 0
    assert log.stats.failed == 3 and log.stats.last_error
    # On SQLite the log's own file gets its tables back; on PostgreSQL they are the
    # migrations' and stay missing: either way provisioning goes on.
    _provision(tenant, "after")


@pytest.fixture
def sqlite_app(sqlite_url: str, tmp_path: Path) -> Iterator[Flask]:
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        application = create_app(make_settings(sqlite_url, **overrides))
        application.config["TESTING"] = True
        apps.append(application)
        return application

    yield make  # type: ignore[misc]
    for application in apps:
        log = request_log_of(application)
        if log is not None:
            log.close()
            log.engine.dispose()
        application.extensions["scim_engine"].dispose()


def test_the_log_file_cannot_be_opened(sqlite_app: Any, tmp_path: Path) -> None:
    # A directory where the log's file should be: every open fails, as on a dead disk.
    where = tmp_path / "log-is-a-directory.db"
    where.mkdir()
    app = sqlite_app(request_log_url=f"sqlite:///{where}")
    log = request_log_of(app)
    assert log is not None and log.stats.last_error  # reported at start, not raised
    tenant = _tenant(app, "acme", "acme.test")
    _provision(tenant, "nofile")
    assert log.flush() == 0 and log.stats.failed == 3


def test_the_log_disk_full(sqlite_app: Any, tmp_path: Path) -> None:
    app = sqlite_app()
    log = request_log_of(app)
    assert log is not None
    tenant = _tenant(app, "acme", "acme.test")
    _provision(tenant, "first")
    assert log.flush() == 3

    # SQLite's own SQLITE_FULL ("database or disk is full"): the file may not grow any more.
    @event.listens_for(log.engine, "connect")
    def cap(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    log.engine.dispose()
    tenant.scim.post("/Users", user_body("pad@acme.test", nickName="x" * 60_000))
    _provision(tenant, "full")
    assert log.flush() == 0
    assert "full" in (log.stats.last_error or "")
    _provision(tenant, "still")


def test_the_log_never_takes_the_main_write_lock(sqlite_app: Any, sqlite_url: str) -> None:
    app = sqlite_app()
    log = request_log_of(app)
    assert log is not None
    tenant = _tenant(app, "acme", "acme.test")
    _provision(tenant, "locked")
    # Another process holds the main database's write lock: the log writes all the same.
    main = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        main.execute("BEGIN IMMEDIATE")
        assert log.flush() == 3
    finally:
        main.execute("ROLLBACK")
        main.close()


def test_a_locked_log_file_does_not_stop_provisioning(sqlite_app: Any) -> None:
    app = sqlite_app()
    log = request_log_of(app)
    assert log is not None
    tenant = _tenant(app, "acme", "acme.test")
    path = str(log.engine.url.database)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the log's write lock, held by someone else
        _provision(tenant, "busy")
        assert log.pending == 3
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert log.flush() == 3
    assert len(entries(log, tenant.account_id)) == 3


@pytest.mark.postgres
def test_the_log_cluster_stopped(pg_url: str) -> None:
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries not found")
    with PgCluster(bin_dir) as log_cluster:
        log_cluster.create_database("requests")
        log_url = log_cluster.url("requests")
        engine = make_engine(log_url)
        upgrade(engine)
        engine.dispose()
        app = create_app(make_settings(pg_url, request_log_url=log_url))
        app.config["TESTING"] = True
        log = request_log_of(app)
        assert log is not None
        try:
            tenant = _tenant(app, "acme", "acme.test")
            _provision(tenant, "up")
            assert log.flush() == 3
            log_cluster.halt()
            _provision(tenant, "down")
            assert log.flush() == 0 and log.stats.failed == 3
            log_cluster.resume()
            _provision(tenant, "back")
            assert log.flush() == 3
            assert len(entries(log, tenant.account_id)) == 6
        finally:
            log.close()
            log.engine.dispose()
            app.extensions["scim_engine"].dispose()
