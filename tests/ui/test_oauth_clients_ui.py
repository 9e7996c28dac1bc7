"""OAuth clients in the admin UI (issue 14): registered with the secret shown once, usable
at the token endpoint, and revoked after a confirmation that names the client."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from scim_server.storage.domain_tables import AuditEntry, OAuthClient
from tests.ui.conftest import Seeded, csrf_of, db_session


def _post(client: FlaskClient, path: str, data: dict | None = None):
    token = getattr(client, "_ui_csrf", None) or csrf_of(client, "/admin/api-users")
    client._ui_csrf = token  # type: ignore[attr-defined]
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _token(app: Flask, client_id: str, secret: str):
    return app.test_client().post("/api/v1/oauth/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})


def test_register_use_and_revoke_an_oauth_client(admin_client: FlaskClient, ui_app: Flask,
                                                 seeded: Seeded):
    page = _post(admin_client, "/admin/api-users/oauth-clients",
                 {"email": "frank@acme.io", "name": "Nightly export"})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Copy this client secret now: it is shown only once." in body
    client_id = re.search(r'data-testid="client-id">([^<]+)<', body).group(1)
    secret = re.search(r'<code class="secret">([^<]+)</code>', body).group(1)
    assert "Nightly export" in body and "Frank Admin (frank@acme.io)" in body
    with db_session(ui_app) as session:
        row = session.scalars(select(OAuthClient).where(OAuthClient.client_id == client_id)).one()
        # Stored hashed only; shown once: the list page never shows it again.
        assert secret not in (row.secret_hash or "")
        pk = row.id
        audit = session.scalars(select(AuditEntry).where(AuditEntry.target_id == pk)).one()
        assert audit.door == "ui"
    assert secret not in admin_client.get("/admin/api-users").get_data(as_text=True)

    granted = _token(ui_app, client_id, secret)
    assert granted.status_code == 200, granted.get_data(as_text=True)

    listing = admin_client.get("/admin/api-users").get_data(as_text=True)
    link = f"/admin/api-users/tokens/{pk}/revoke?kind=oauth"
    assert link in listing.replace("&amp;", "&")
    confirm = admin_client.get(link).get_data(as_text=True)
    assert "Revoke Nightly export" in confirm and "Frank Admin (frank@acme.io)" in confirm
    with db_session(ui_app) as session:
        assert session.get(OAuthClient, pk).revoked_at is None  # nothing happened yet
    _post(admin_client, f"/admin/api-users/tokens/{pk}/revoke", {"kind": "oauth"})
    assert "“Nightly export” was revoked." in admin_client.get("/admin/api-users").get_data(
        as_text=True)
    assert _token(ui_app, client_id, secret).status_code in (400, 401)


def test_only_an_active_admin_can_hold_one(admin_client: FlaskClient, ui_app: Flask,
                                           seeded: Seeded):
    refused = _post(admin_client, "/admin/api-users/oauth-clients", {"email": "alice@acme.io"})
    assert refused.status_code == 409
    assert "token.requires_admin" in refused.get_data(as_text=True)
    unknown = _post(admin_client, "/admin/api-users/oauth-clients", {"email": "zed@globex.io"})
    assert unknown.status_code == 400
    assert "No user with that email." in unknown.get_data(as_text=True)
    with db_session(ui_app) as session:
        assert session.scalars(select(OAuthClient)).all() == []


def test_the_form_in_french(admin_client: FlaskClient):
    admin_client.set_cookie("admin_lang", "fr")
    page = admin_client.get("/admin/api-users").get_data(as_text=True)
    assert "Enregistrer un client OAuth" in page and "Admin représenté (e-mail)" in page
