"""The pages added to the console, driven in headless Chromium with real data behind them: the
Webhooks page (an endpoint registered in the browser, events delivered to a receiver on
127.0.0.1 by the worker, a failed test event), the Provisioning log (SCIM requests of an
identity provider, one refused) and one request side by side, and the audit log filtered by
door. Each test takes the README's screenshot of its page. Skips without Chromium."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from scim_server.request_capture import request_log_of
from scim_server.storage.models import Account, User
from scim_server.webhook_worker import Worker
from tests.domain.factories import make_token
from tests.scim.conftest import ScimClient, patch_body, user_body
from tests.ui.conftest import LiveServer, Seeded, browser_sign_in, make_app, screenshot
from tests.webhooks.conftest import FAST, drain, running_receiver

pytestmark = pytest.mark.browser

ENTRA = {"User-Agent": "Azure AD SCIM Provisioning"}
PASSWORD_SENT = "Never-Logged-Pa55!"


@pytest.fixture
def ui_app(sqlite_url: str) -> Iterator[Flask]:
    # Webhooks to 127.0.0.1 over http, fast retries; the request log flushed by the test itself
    # (``log.flush()``), never by the clock, so that the page shows what was sent.
    app = make_app(sqlite_url, request_log_flush_interval=3600, **FAST)
    yield app
    log = request_log_of(app)
    if log is not None:
        log.close()
        log.engine.dispose()


def _scim(app: Flask, seeded: Seeded) -> ScimClient:
    """The SCIM door with a new token of the account, as an identity provider holds one."""
    with app.extensions["scim_sessions"]() as db:
        token = make_token(db, db.get(Account, seeded.account_id),
                           db.get(User, seeded.admin_id), "scim")
        db.commit()
    return ScimClient(app.test_client(), token)


def test_the_webhooks_page_with_its_delivery_log(page: Any, live_server: LiveServer) -> None:
    app = live_server.app
    with running_receiver() as receiver:
        browser_sign_in(page, live_server)
        page.goto(live_server.url + "/admin/webhooks")
        page.fill('[data-testid="webhook-url"]', receiver.url)
        page.fill('input[name="description"]', "HR system")
        page.click('[data-testid="webhook-register"]')
        secret = page.locator('[data-testid="webhook-secret"]').inner_text()
        assert re.search(r"whsec_[A-Za-z0-9+/=]+", secret)

        # An identity provider pushes two people and deactivates one; the worker delivers.
        scim = _scim(app, live_server.seeded)
        ids = []
        for email in ("nina@acme.io", "omar@acme.io"):
            made = scim.post("/Users", user_body(email))
            assert made.status_code == 201, made.get_json()
            ids.append(made.get_json()["id"])
        assert scim.patch(f"/Users/{ids[1]}", patch_body(
            {"op": "replace", "path": "active", "value": False})).status_code in (200, 204)
        worker = Worker(app.extensions["scim_engine"], app.config["SCIM_SETTINGS"])
        drain(worker, receiver, 3)
        while worker.run_once():
            pass
        delivered = len(receiver.received)

        page.goto(live_server.url + "/admin/webhooks")
        listed = page.locator('[data-testid="webhook-row"]')
        assert listed.count() == 1
        assert receiver.url in listed.inner_text() and "Healthy" in listed.inner_text()
        listed.locator("a").click()
        page.wait_for_url("**/admin/webhooks/*")

        # The receiver is down when the Admin sends a test event: the failure is in the log.
        receiver.answer = lambda _m: 500
        page.click('[data-testid="send-test"]')
        page.wait_for_load_state()
        assert "The test event was not delivered: HTTP 500" in page.inner_text("main")
        rows = page.locator('[data-testid="delivery-row"]')
        assert rows.count() == delivered + 1
        texts = [rows.nth(i).inner_text() for i in range(rows.count())]
        assert sum("204" in t for t in texts) == delivered
        assert sum("500" in t for t in texts) == 1
        assert any("create" in t for t in texts)
        assert page.locator('[data-testid="health"]').inner_text() in {"Healthy", "Retrying"}
        screenshot(page, "webhook.png")


def test_the_provisioning_log_and_one_request(page: Any, live_server: LiveServer) -> None:
    app = live_server.app
    scim = _scim(app, live_server.seeded)
    # Entra ID's ways: "active" as a string, "Replace" capitalised; then a duplicate refused.
    body = user_body("paula@acme.io", password=PASSWORD_SENT, active="True")
    created = scim.post("/Users", body, headers=ENTRA)
    assert created.status_code == 201, created.get_json()
    user_id = created.get_json()["id"]
    assert scim.patch(f"/Users/{user_id}", patch_body(
        {"op": "Replace", "path": "displayName", "value": "Paula Nguyen"}),
        headers=ENTRA).status_code in (200, 204)
    assert scim.get("/Users", query={"filter": 'userName eq "paula@acme.io"'},
                    headers=ENTRA).status_code == 200
    assert scim.post("/Users", user_body("paula@acme.io"), headers=ENTRA).status_code == 409
    log = request_log_of(app)
    assert log is not None and log.flush() == 4

    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/provisioning-log")
    rows = page.locator('[data-testid="log-table"] tbody tr')
    assert rows.count() == 4
    texts = [rows.nth(i).inner_text() for i in range(4)]
    # Newest first: the refused duplicate on top, with its scimType.
    assert "POST /scim/v2/Users" in texts[0] and "409" in texts[0] and "uniqueness" in texts[0]
    assert "GET /scim/v2/Users?" in texts[1] and "200" in texts[1]
    assert f"PATCH /scim/v2/Users/{user_id}" in texts[2] and "op-capitalised" in texts[2]
    assert "POST /scim/v2/Users" in texts[3] and "201" in texts[3]
    assert "string-boolean" in texts[3]
    assert all("entra" in t for t in texts)
    assert "entra" in page.locator('[data-testid="connections"]').inner_text()
    assert PASSWORD_SENT not in page.content()
    screenshot(page, "provisioning-log.png")

    rows.nth(3).locator("a").click()
    page.wait_for_url("**/admin/provisioning-log/*")
    quirks = page.locator('[data-testid="quirks"]').inner_text()
    assert "string-boolean" in quirks
    sent = page.locator('[data-testid="request-body"]').inner_text()
    answered = page.locator('[data-testid="response-body"]').inner_text()
    assert "[REDACTED]" in sent and PASSWORD_SENT not in page.content()
    assert '"paula@acme.io"' in sent and user_id in answered
    assert "Azure AD SCIM Provisioning" in page.locator('[data-testid="request-summary"]').inner_text()
    screenshot(page, "provisioning-request.png")


def test_the_audit_log_in_words_filtered_by_door(page: Any, live_server: LiveServer) -> None:
    seeded = live_server.seeded
    browser_sign_in(page, live_server)
    page.goto(live_server.url + "/admin/users?q=carol")
    row = page.locator(f'[data-user-id="{seeded.users["carol@acme.io"]}"]')
    row.locator('[data-testid="type-badge"]').click()
    row.locator('[data-testid="set-type-Member"]').click()
    page.wait_for_url("**/admin/users?q=carol")
    bob = seeded.users["bob@acme.io"]
    page.goto(f"{live_server.url}/admin/users/{bob}/deactivate?next=/admin/users")
    page.click('[data-testid="deactivate-submit"]')
    page.wait_for_url("**/admin/users")
    # A change through SCIM too, which the door filter leaves out.
    scim = _scim(live_server.app, seeded)
    assert scim.patch(f"/Users/{seeded.users['alice@acme.io']}", patch_body(
        {"op": "replace", "path": "displayName", "value": "Alice M."})).status_code in (200, 204)

    page.goto(live_server.url + "/admin/audit")
    everything = page.locator('[data-testid="audit-entry"]')
    assert any("Alice" in everything.nth(i).inner_text() for i in range(everything.count()))
    page.select_option('[data-testid="filter-door"]', "ui")
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    page.fill('[data-testid="filter-from"]', since)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**door=ui**")
    entries = page.locator('[data-testid="audit-entry"]')
    texts = [entries.nth(i).inner_text() for i in range(entries.count())]
    assert len(texts) == 2
    assert "Bob Stone (bob@acme.io)" in texts[0] and "Status: active → inactive" in texts[0]
    assert "Carol Viewer (carol@acme.io)" in texts[1] and "Type: Viewer → Member" in texts[1]
    assert not any("Alice" in t for t in texts)
    screenshot(page, "audit.png")
