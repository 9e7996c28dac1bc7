"""Fixtures of the admin UI tests: an app on a fresh SQLite database with two accounts and a
handful of users, a signed-in Flask test client, and for the browser tests a live server on
127.0.0.1 driven by headless Chromium through Playwright."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from scim_server.app import create_app
from scim_server.cli import create_account
from scim_server.db import make_session_factory
from scim_server.security import hash_password
from scim_server.settings import Settings
from scim_server.storage.models import Account, User
from scim_server.storage.schema import build_provider
from scim_server.storage.scim_storage import SqlScimStorage

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_MISSING = "Chromium not found: apt-get install chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Seeded:
    """What the tests can refer to: account ids, the admins' emails, users by email."""

    account_id: str
    admin_email: str
    admin_id: str
    other_account_id: str
    other_admin_email: str
    users: dict[str, str] = field(default_factory=dict)  # email → id
    other_users: dict[str, str] = field(default_factory=dict)


@functools.cache
def password_hash() -> str:
    # One argon2 hash costs most of a second here: hash the shared test password once.
    return hash_password(PASSWORD)


def add_user(session: Any, account_id: str, email: str, name: str, *, user_type: str = "Member",
             status: str = "active", last_activity: dt.datetime | None = None,
             with_password: bool = True) -> User:
    """A user written by the SCIM storage (as an identity provider would create it), so its
    document, search copy and email rows are what the rest of the server expects."""
    provider = build_provider()
    resource_type = next(rt for rt in provider.resource_types if rt.name == "User")
    model = provider.model_for(resource_type)
    storage = SqlScimStorage(session=lambda: session, account_id=lambda: account_id)
    given, _, family = name.partition(" ")
    with provider:
        resource = model.model_validate({
            "userName": email, "displayName": name,
            "name": {"givenName": given, "familyName": family or given},
            "emails": [{"value": email, "type": "work", "primary": True}],
            "userType": user_type, "active": status == "active",
        })
        created = storage.create(resource_type, resource)
    user = session.get(User, created.id)
    # Not SCIM attributes: the status beyond active/inactive, activity, a password to sign in.
    user.status = status
    user.last_activity_at = last_activity
    user.password_hash = password_hash() if with_password else None
    session.flush()
    return user


def seed(app: Flask) -> Seeded:
    settings = app.config["SCIM_SETTINGS"]
    factory = make_session_factory(app.extensions["scim_engine"])
    with factory() as session:
        acme = create_account(session, settings, "Acme", "acme.io")
        globex = create_account(session, settings, "Globex", "globex.io")
    with factory() as session:
        for info in (acme, globex):
            admin = session.get(User, session.query(User.id).filter(
                User.account_id == info["account_id"]).scalar())
            admin.password_hash = password_hash()
        account = session.get(Account, acme["account_id"])
        account.guest_denylist = ["blocked.io"]
        when = dt.datetime(2026, 1, 15, 12, 0, tzinfo=dt.UTC)
        people = [
            ("alice@acme.io", "Alice Martin", "Member", "active", when),
            ("bob@acme.io", "Bob Stone", "Member", "active", when - dt.timedelta(days=3)),
            ("carol@acme.io", "Carol Viewer", "Viewer", "active", None),
            ("dave@partner.io", "Dave Guest", "Guest", "active", when - dt.timedelta(days=9)),
            ("erin@acme.io", "Erin Idle", "Member", "inactive", None),
            ("frank@acme.io", "Frank Admin", "Admin", "active", when - dt.timedelta(days=1)),
        ]
        users = {email: add_user(session, acme["account_id"], email, name, user_type=t,
                                 status=s, last_activity=a).id
                 for email, name, t, s, a in people}
        other = {"zed@globex.io": add_user(session, globex["account_id"], "zed@globex.io",
                                           "Zed Other").id}
        admin_id = session.query(User.id).filter(User.account_id == acme["account_id"],
                                                 User.email == acme["admin_email"]).scalar()
        session.commit()
    return Seeded(
        account_id=acme["account_id"], admin_email=acme["admin_email"], admin_id=admin_id,
        other_account_id=globex["account_id"], other_admin_email=globex["admin_email"],
        users=users, other_users=other,
    )


def make_app(database_url: str, **overrides: Any) -> Flask:
    settings = Settings.from_env({}, database_url=database_url,
                                 secret_key="ui-test-secret-key-0123456789", **overrides)
    app = create_app(settings)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def ui_app(sqlite_url: str) -> Flask:
    return make_app(sqlite_url)


@pytest.fixture
def seeded(ui_app: Flask) -> Seeded:
    return seed(ui_app)


def db_session(app: Flask) -> Session:
    """A session on the app's own database, for a test to look at what the UI stored."""
    return make_session_factory(app.extensions["scim_engine"])()


def stored_user(app: Flask, user_id: str) -> User:
    """The user as stored now, detached so that the test can read it after the session."""
    with db_session(app) as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expunge(user)
        return user


def csrf_of(client: FlaskClient, path: str = "/admin/login") -> str:
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    token = csrf_of(client)
    return client.post("/admin/login", data={"csrf_token": token, "email": email,
                                             "password": password})


@pytest.fixture
def admin_client(ui_app: Flask, seeded: Seeded) -> FlaskClient:
    client = ui_app.test_client()
    response = sign_in(client, seeded.admin_email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


# --- browser -----------------------------------------------------------------------------------

@dataclass
class LiveServer:
    url: str
    app: Flask
    seeded: Seeded


@pytest.fixture
def live_server(ui_app: Flask, seeded: Seeded) -> Iterator[LiveServer]:
    server = make_server("127.0.0.1", 0, ui_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", ui_app, seeded)
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.skip(CHROMIUM_MISSING)
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
        )
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def paris_page(chromium: Any, **options: Any) -> Iterator[Any]:
    """A page of a Paris browser with English preferred (the tests check dates move to the
    admin's zone); ``options`` add to the context's (a viewport, a phone's touch)."""
    context = chromium.new_context(
        locale="en-US", timezone_id="Europe/Paris",
        extra_http_headers={"Accept-Language": "en-US,en;q=0.9"}, **options,
    )
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(chromium: Any, live_server: LiveServer) -> Iterator[Any]:
    with paris_page(chromium, viewport={"width": 1360, "height": 900}) as pg:
        yield pg


def browser_sign_in(page: Any, live: LiveServer) -> None:
    page.goto(live.url + "/admin/login")
    page.fill("input[name=email]", live.seeded.admin_email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live.url + "/admin/")


def screenshot(page: Any, name: str, folder: Path | None = None) -> Path:
    """Save a full-page screenshot, and check it was written: into README.md's folder when
    SCIM_UPDATE_SCREENSHOTS=1 asks for it, else a temporary one (a test run, CI's included,
    must leave the checkout as it found it)."""
    if folder is None:
        folder = SCREENSHOTS if os.environ.get("SCIM_UPDATE_SCREENSHOTS") == "1" else Path(
            tempfile.gettempdir()) / "scim-server-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    assert path.exists() and path.stat().st_size > 0, f"no screenshot at {path}"
    return path
