"""Shared fixtures: fresh, migrated databases on SQLite and on a throwaway PostgreSQL cluster.

``database_url`` runs a test once per engine; ``sqlite_url`` and ``pg_url`` serve tests that need
only one. Each yields the URL of an empty database already at the migration head, made by copying
a template migrated once per session (per xdist worker), so a test pays for a copy, not a
migration, and never sees another test's rows.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from scim_server.db import make_engine
from scim_server.migrate import upgrade
from tests.pgcluster import PgCluster, find_bin_dir

PG_MISSING = (
    "PostgreSQL server binaries not found: install postgresql-15 "
    "(apt-get install postgresql-15) or set SCIM_TEST_PG_BIN"
)
PG_TEMPLATE_DB = "scim_template"


def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        # A template must have no open connection: PostgreSQL refuses to copy one in use,
        # and SQLite folds its WAL back into the main file only when the last one closes.
        engine.dispose()


# -- SQLite ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    _migrate(f"sqlite:///{path}")
    # Copying a WAL database is only safe once everything is in the main file.
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def sqlite_url(_sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite database file for this test."""
    path = tmp_path / "scim.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


# -- PostgreSQL --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL cluster for this session.

    Under pytest-xdist each worker starts its own (session fixtures are per worker), so workers
    share no databases, ports or locks.
    """
    bin_dir = find_bin_dir()
    if bin_dir is None:
        pytest.skip(PG_MISSING)
    with PgCluster(bin_dir) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def _pg_template(pg_cluster: PgCluster) -> str:
    pg_cluster.create_database(PG_TEMPLATE_DB)
    _migrate(pg_cluster.url(PG_TEMPLATE_DB))
    return PG_TEMPLATE_DB


@pytest.fixture
def pg_url(pg_cluster: PgCluster, _pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    # A file-level copy of the template: much cheaper than running the migrations again.
    pg_cluster.create_database(name, template=_pg_template)
    try:
        yield pg_cluster.url(name)
    finally:
        pg_cluster.drop_database(name)


# -- both --------------------------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database for this test, once on SQLite and once on PostgreSQL."""
    # Resolved lazily so that a SQLite-only run (-m "not postgres") never starts a cluster.
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(fixture))


# -- mail --------------------------------------------------------------------------------------


class Mailbox:
    """The mails the server wrote to its log instead of sending them (no SMTP configured):
    the development copy, the one place their links appear."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    @property
    def messages(self) -> list[dict[str, str]]:
        return [record.mail for record in self._caplog.records  # type: ignore[attr-defined]
                if record.name == "scim_server.mail" and hasattr(record, "mail")]

    def link(self, to: str | None = None) -> str:
        """The path of the link in the last mail (to ``to``, if given)."""
        mails = [m for m in self.messages if to is None or m["to"] == to]
        assert mails, f"no mail logged{' to ' + to if to else ''}"
        found = re.search(r"https?://[^/\s]+(/admin/(?:invitation|email-confirmation)/\S+)",
                          mails[-1]["body"])
        assert found, mails[-1]["body"]
        return found.group(1)

    def token(self, to: str | None = None) -> str:
        return self.link(to).rsplit("/", 1)[1]


@pytest.fixture
def mailbox(caplog: pytest.LogCaptureFixture) -> Mailbox:
    caplog.set_level(logging.WARNING, logger="scim_server.mail")
    return Mailbox(caplog)
