"""Sign-in: the same password work whoever the email belongs to (counted, not timed), and the
attempt limits per address across emails and per email across addresses, which never refuse
the right password from an address the attacker does not share (``SignInLimiter``)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scim_server import security
from scim_server.db import make_session_factory
from tests.ui.conftest import PASSWORD, Seeded, add_user, csrf_of, make_app, seed

LIMIT = 3  # per email; an address gets LIMIT × 3


class CountingHasher:
    """argon2's hasher, counting what it is asked to do."""

    def __init__(self, real: Any) -> None:
        self.real, self.calls = real, 0

    def verify(self, stored: str, password: str) -> bool:
        self.calls += 1
        return bool(self.real.verify(stored, password))

    def hash(self, password: str) -> str:
        self.calls += 1
        return str(self.real.hash(password))


def _from(app: Flask, address: str) -> FlaskClient:
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _attempt(client: FlaskClient, email: str, password: str, account: str = "") -> int:
    data = {"csrf_token": csrf_of(client), "email": email, "password": password}
    if account:
        data["account"] = account
    return client.post("/admin/login", data=data).status_code


@pytest.fixture
def limited(sqlite_url: str) -> tuple[Flask, Seeded]:
    app = make_app(sqlite_url, login_rate_limit=LIMIT)
    return app, seed(app)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> CountingHasher:
    # Not counted: the decoy hash is made once per process.
    security.verify_password("warm-up", None)
    hasher = CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", hasher)
    return hasher


def test_every_sign_in_costs_one_password_check(ui_app: Flask, seeded: Seeded,
                                                counting: CountingHasher) -> None:
    with make_session_factory(ui_app.extensions["scim_engine"])() as session:
        # An Admin of both accounts (the same email), and an active Admin without a password.
        add_user(session, seeded.other_account_id, "frank@acme.io", "Frank Twice",
                 user_type="Admin")
        add_user(session, seeded.account_id, "nopass@acme.io", "No Password",
                 user_type="Admin", with_password=False)
        session.commit()
    cases = [
        ("nobody@acme.io", PASSWORD, "", 401),  # no such user
        ("alice@acme.io", PASSWORD, "", 401),  # a Member, right password
        ("erin@acme.io", PASSWORD, "", 401),  # inactive
        ("nopass@acme.io", PASSWORD, "", 401),  # an active Admin without a password
        (seeded.admin_email, "wrong password", "", 401),  # an active Admin, wrong password
        ("frank@acme.io", "wrong password", "", 401),  # Admin of two accounts, wrong password
        ("frank@acme.io", PASSWORD, "", 400),  # ... right password: name the account
        ("frank@acme.io", PASSWORD, "Globex", 302),
        (seeded.admin_email, PASSWORD, "", 302),
    ]
    for email, password, account, status in cases:
        client = _from(ui_app, "192.0.2.10")
        before = counting.calls
        assert _attempt(client, email, password, account) == status, email
        assert counting.calls - before == 1, (email, password, account)


def test_one_address_cannot_spray_many_emails(limited: tuple[Flask, Seeded]) -> None:
    app, seeded = limited
    sprayer = _from(app, "198.51.100.7")
    for i in range(LIMIT * 3):
        assert _attempt(sprayer, f"guess{i}@acme.io", "Winter2026!") == 401
    assert _attempt(sprayer, "another@acme.io", "Winter2026!") == 429
    assert _attempt(sprayer, seeded.admin_email, PASSWORD) == 429  # the address is out
    assert _attempt(_from(app, "203.0.113.5"), seeded.admin_email, PASSWORD) == 302


def test_many_addresses_cannot_guess_one_email_but_its_admin_gets_in(
        limited: tuple[Flask, Seeded]) -> None:
    app, seeded = limited
    target = seeded.admin_email
    attackers = [_from(app, f"198.51.100.{i}") for i in range(1, LIMIT + 1)]
    for attacker in attackers:
        assert _attempt(attacker, target, "guess") == 401
    # The email is under attack: every address that failed on it is refused, even with the
    # right password (the attacker must not learn it is right)...
    for attacker in attackers:
        assert _attempt(attacker, target, PASSWORD) == 429
    # ... a new address gets one try, then is refused as well...
    newcomer = _from(app, "198.51.100.99")
    assert _attempt(newcomer, target, "guess") == 401
    assert _attempt(newcomer, target, PASSWORD) == 429
    # ... and the Admin, from their own address, signs in.
    admin = _from(app, "203.0.113.5")
    assert _attempt(admin, target, PASSWORD) == 302
    assert admin.get("/admin/users").status_code == 200
    # Other emails are not affected by the attack on this one.
    assert _attempt(attackers[0], seeded.other_admin_email, PASSWORD) == 302


def test_one_address_guessing_one_email_is_stopped_at_the_limit(
        limited: tuple[Flask, Seeded]) -> None:
    app, seeded = limited
    client = _from(app, "198.51.100.7")
    for _ in range(LIMIT):
        assert _attempt(client, seeded.admin_email, "wrong password") == 401
    assert _attempt(client, seeded.admin_email, PASSWORD) == 429
    assert _attempt(client, seeded.other_admin_email, PASSWORD) == 302


def test_a_success_forgives_only_its_own_failures(limited: tuple[Flask, Seeded]) -> None:
    app, seeded = limited
    # The Admin's own typos, forgiven by their sign-in: the next typos count afresh.
    for _ in range(2):
        client = _from(app, "203.0.113.5")
        for _ in range(LIMIT - 1):
            assert _attempt(client, seeded.admin_email, "typo") == 401
        assert _attempt(client, seeded.admin_email, PASSWORD) == 302
    # An attacker's success on their own account forgives none of their other failures.
    attacker = _from(app, "198.51.100.7")
    for i in range(LIMIT * 3 - 1):
        assert _attempt(attacker, f"guess{i}@acme.io", "Winter2026!") == 401
    assert _attempt(attacker, seeded.other_admin_email, PASSWORD) == 302
    assert _attempt(attacker, "last@acme.io", "Winter2026!") == 401
    assert _attempt(attacker, "more@acme.io", "Winter2026!") == 429
