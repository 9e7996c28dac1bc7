"""The account's settings, set by its Admins in the UI and by the API: a guest denylist set on
the settings page applies at all three doors; a user SCIM creates without a type gets the
account's default; the plan is shown, not changed."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from scim_server.storage.models import Account, User
from tests.domain.factories import make_token
from tests.ui.conftest import Seeded, csrf_of

SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _tokens(app: Flask, seeded: Seeded) -> tuple[str, str]:
    with app.extensions["scim_sessions"]() as session:
        account = session.get(Account, seeded.account_id)
        admin = session.get(User, seeded.admin_id)
        scim, api = make_token(session, account, admin, "scim"), make_token(session, account, admin)
        session.commit()
    return scim, api


def test_a_denylist_set_in_the_ui_applies_at_every_door(
    ui_app: Flask, seeded: Seeded, admin_client: FlaskClient
) -> None:
    page = admin_client.get("/admin/settings")
    assert page.status_code == 200 and "acme.io" in page.get_data(as_text=True)
    saved = admin_client.post("/admin/settings", data={
        "csrf_token": csrf_of(admin_client, "/admin/settings"), "display_name": "Acme Corp",
        "domains": "acme.io\nacme.fr", "guest_allowlist": "",
        "guest_denylist": "blocked.io\nevil.example", "default_user_type": "Viewer"},
        follow_redirects=True)
    assert saved.status_code == 200 and "Settings saved." in saved.get_data(as_text=True)

    scim_token, api_token = _tokens(ui_app, seeded)
    client = ui_app.test_client()
    scim = {"Authorization": f"Bearer {scim_token}", "Content-Type": "application/scim+json"}
    refused = client.post("/scim/v2/Users", headers=scim, json={
        "schemas": [SCIM_USER], "userName": "g@evil.example", "userType": "Guest"})
    assert refused.status_code == 403 and "evil.example" in refused.get_json()["detail"]
    api = client.post("/api/v1/users/invite", headers={"Authorization": f"Bearer {api_token}"},
                      json={"email": "h@evil.example", "user_type": "Guest"})
    assert api.status_code == 403 and api.get_json()["rule"] == "guest.domain_not_allowed"
    ui = admin_client.post("/admin/users/invite", data={
        "csrf_token": csrf_of(admin_client, "/admin/users/invite"), "email": "i@evil.example",
        "user_type": "Guest"})
    assert ui.status_code == 403 and "guest.domain_not_allowed" in ui.get_data(as_text=True)

    # The default type of SCIM creates, shown and filtered on.
    made = client.post("/scim/v2/Users", headers=scim, json={
        "schemas": [SCIM_USER], "userName": "plain@acme.io"})
    assert made.status_code == 201 and made.get_json()["userType"] == "Viewer"
    found = client.get("/scim/v2/Users", headers=scim,
                       query_string={"filter": 'userName eq "plain@acme.io" and userType eq "Viewer"'})
    assert found.get_json()["totalResults"] == 1

    settings = client.get("/api/v1/account", headers={"Authorization": f"Bearer {api_token}"})
    assert settings.get_json()["guest_denylist"] == ["blocked.io", "evil.example"]
    assert settings.get_json()["display_name"] == "Acme Corp"


def test_the_api_changes_settings_and_refuses_bad_ones(ui_app: Flask, seeded: Seeded) -> None:
    _, api_token = _tokens(ui_app, seeded)
    client = ui_app.test_client()
    headers = {"Authorization": f"Bearer {api_token}"}
    changed = client.patch("/api/v1/account", headers=headers,
                           json={"guest_allowlist": ["partner.io"], "default_user_type": "Viewer"})
    assert changed.status_code == 200
    assert (changed.get_json()["guest_allowlist"], changed.get_json()["seats_limit"]) == (
        ["partner.io"], 1000)
    bad_type = client.patch("/api/v1/account", headers=headers, json={"default_user_type": "Admin"})
    assert bad_type.status_code == 400 and bad_type.get_json()["rule"] == "account.default_type"
    bad_domain = client.patch("/api/v1/account", headers=headers, json={"domains": ["not a domain"]})
    assert bad_domain.status_code == 400 and "domains" in bad_domain.get_json()["errors"]
    plan = client.patch("/api/v1/account", headers=headers, json={"seats_limit": 5000})
    assert plan.status_code == 400  # the plan is the operator's
    audit = client.get("/api/v1/audit", headers=headers).get_json()
    assert any(e["action"] == "account.settings" for e in audit["entries"])
