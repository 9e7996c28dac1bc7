"""The Provisioning log page: list and filters, one request side by side with its redacted
bodies and quirks, connections and their profiles, the user page's link, the hub card, in
English and French; another account's requests are not found."""

from __future__ import annotations

import html
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from scim_server.domain.request_log import RequestLog
from scim_server.request_capture import request_log_of
from scim_server.storage.models import Account, User
from tests.domain.factories import make_token
from tests.scim.conftest import ScimClient, patch_body, user_body
from tests.ui.conftest import Seeded, csrf_of, make_app, seed, sign_in

SECRET = "never-shown-secret-123"


@pytest.fixture
def ui_app(sqlite_url: str) -> Iterator[Flask]:
    app = make_app(sqlite_url, request_log_flush_interval=3600)
    yield app
    log = request_log_of(app)
    assert log is not None
    log.close()
    log.engine.dispose()


@pytest.fixture
def seeded(ui_app: Flask) -> Seeded:
    return seed(ui_app)


@pytest.fixture
def admin_client(ui_app: Flask, seeded: Seeded) -> FlaskClient:
    client = ui_app.test_client()
    assert sign_in(client, seeded.admin_email).status_code == 302
    return client


def _scim(app: Flask, account_id: str, admin_id: str) -> ScimClient:
    with app.extensions["scim_sessions"]() as db:
        token = make_token(db, db.get(Account, account_id), db.get(User, admin_id), kind="scim")
        db.commit()
    return ScimClient(app.test_client(), token)


@pytest.fixture
def traffic(ui_app: Flask, seeded: Seeded) -> dict[str, str]:
    scim = _scim(ui_app, seeded.account_id, seeded.admin_id)
    okta = {"User-Agent": "Okta SCIM Client 1.0.0"}
    user = scim.post("/Users", user_body("new@acme.io", password=SECRET), headers=okta)
    assert user.status_code == 201, user.get_json()
    user_id = user.get_json()["id"]
    scim.patch(f"/Users/{user_id}", patch_body({"op": "Replace", "path": "active",
                                                "value": False}), headers=okta)
    scim.get("/Users/" + "0" * 32, headers=okta)
    log = request_log_of(ui_app)
    assert log is not None
    log.flush()
    return {"user_id": user_id}


def _text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def test_the_list_filters_and_detail(ui_app: Flask, admin_client: FlaskClient,
                                     traffic: dict[str, str]) -> None:
    page = admin_client.get("/admin/provisioning-log")
    assert page.status_code == 200
    text = _text(page)
    assert 'name="resource_id" maxlength="64" value=""' in text  # no "None" in an empty filter
    assert "POST /scim/v2/Users" in text and "op-capitalised" in text and "404" in text
    assert SECRET not in text
    errors = _text(admin_client.get("/admin/provisioning-log?status=4xx"))
    assert "GET /scim/v2/Users/" + "0" * 32 in errors and "POST /scim/v2/Users" not in errors
    patches = _text(admin_client.get("/admin/provisioning-log?method=PATCH"))
    assert "PATCH /scim/v2/Users/" in patches and "POST /scim/v2/Users" not in patches
    bad = admin_client.get("/admin/provisioning-log?status=9xx&since=yesterday")
    assert bad.status_code == 200
    assert "That request is not valid." in _text(bad) and "YYYY-MM-DD" in _text(bad)

    log = request_log_of(ui_app)
    assert log is not None
    from scim_server.storage import request_log as store

    account_rows = store.list_rows(log.engine, _account_of(ui_app), store.RequestFilter(), 10)
    created = next(r for r in account_rows if r["method"] == "POST")
    detail = admin_client.get(f"/admin/provisioning-log/{created['id']}")
    assert detail.status_code == 200
    body = _text(detail)
    assert 'data-testid="request-body"' in body and 'data-testid="response-body"' in body
    assert "[REDACTED]" in body and SECRET not in body
    assert "Okta SCIM Client" in body
    patched = next(r for r in account_rows if r["method"] == "PATCH")
    quirks = _text(admin_client.get(f"/admin/provisioning-log/{patched['id']}"))
    assert "op-capitalised" in quirks and "not in lower case (Replace, Add)" in quirks
    assert admin_client.get("/admin/provisioning-log/nope").status_code == 404
    assert admin_client.get("/admin/provisioning-log/999999").status_code == 404


def _account_of(app: Flask) -> str:
    with app.extensions["scim_sessions"]() as db:
        return str(db.query(Account.id).filter(Account.name == "Acme").scalar())


def test_the_user_page_links_to_its_requests(admin_client: FlaskClient,
                                             traffic: dict[str, str]) -> None:
    user_id = traffic["user_id"]
    profile = _text(admin_client.get(f"/admin/users/{user_id}/profile"))
    link = f"/admin/provisioning-log?resource_id={user_id}"
    assert link in profile
    touched = _text(admin_client.get(link))
    assert "POST /scim/v2/Users" in touched and f"PATCH /scim/v2/Users/{user_id}" in touched
    assert "0" * 32 not in touched


def test_profiles_are_shown_and_set_and_the_hub_card(admin_client: FlaskClient,
                                                     traffic: dict[str, str]) -> None:
    page = _text(admin_client.get("/admin/provisioning-log"))
    assert "okta" in page and "detected" in page
    hub = _text(admin_client.get("/admin/"))
    assert 'data-testid="hub-connections"' in hub and "okta" in hub
    assert "33 % (1 / 3)" in hub
    connection = page.split('data-testid="connection-', 2)[2].split('"', 1)[0]
    token = csrf_of(admin_client, "/admin/provisioning-log")
    changed = admin_client.post(f"/admin/provisioning-log/connections/{connection}",
                                data={"csrf_token": token, "profile": "jumpcloud"})
    assert changed.status_code == 302
    after = _text(admin_client.get("/admin/provisioning-log"))
    assert "jumpcloud" in after and "set by an Admin" in after
    refused = admin_client.post(f"/admin/provisioning-log/connections/{connection}",
                                data={"csrf_token": token, "profile": "ldap"})
    assert refused.status_code == 400
    no_csrf = admin_client.post(f"/admin/provisioning-log/connections/{connection}",
                                data={"profile": "okta"})
    assert no_csrf.status_code == 400


def test_in_french(admin_client: FlaskClient, traffic: dict[str, str]) -> None:
    admin_client.set_cookie("admin_lang", "fr")
    page = _text(admin_client.get("/admin/provisioning-log"))
    assert "Journal de provisionnement" in page and "Particularités appliquées" in page
    assert "Connexions" in page


def test_another_accounts_requests_are_not_found(ui_app: Flask, seeded: Seeded,
                                                 admin_client: FlaskClient) -> None:
    with ui_app.extensions["scim_sessions"]() as db:
        other_admin = db.query(User.id).filter(User.account_id == seeded.other_account_id,
                                               User.user_type == "Admin").scalar()
    scim = _scim(ui_app, seeded.other_account_id, other_admin)
    scim.get("/Users")
    log: RequestLog | None = request_log_of(ui_app)
    assert log is not None and log.flush() == 1
    from scim_server.storage import request_log as store

    [theirs] = store.list_rows(log.engine, seeded.other_account_id, store.RequestFilter(), 10)
    assert admin_client.get(f"/admin/provisioning-log/{theirs['id']}").status_code == 404
    assert "GET /scim/v2/Users" not in _text(admin_client.get("/admin/provisioning-log"))
