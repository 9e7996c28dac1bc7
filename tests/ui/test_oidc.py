"""Single sign-on against a real OpenID Connect provider on loopback (pytest-iam runs Canaille in
a thread): discovery, authorization code, token exchange over HTTP, ID token checks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from tests.ui.conftest import make_app, seed

pytest.importorskip("pytest_iam")

REDIRECT_URI = "http://localhost/admin/login/oidc/callback"


@pytest.fixture
def oidc_client(iam_server: Any) -> Any:
    client = iam_server.models.Client(
        client_id=f"scim-admin-{uuid.uuid4().hex[:8]}",
        client_secret=uuid.uuid4().hex,
        client_name="SCIM server admin console",
        client_id_issued_at=dt.datetime.now(dt.UTC),
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="client_secret_basic",
        scope=["openid", "profile", "email"],
    )
    iam_server.backend.save(client)
    client.audience = [client]
    iam_server.backend.save(client)
    yield client
    iam_server.backend.delete(client)


@pytest.fixture
def sso_app(sqlite_url: str, iam_server: Any, oidc_client: Any) -> Flask:
    return make_app(sqlite_url, oidc_issuer=iam_server.url, oidc_client_id=oidc_client.client_id,
                    oidc_client_secret=oidc_client.client_secret)


def _single_sign_on(client: FlaskClient, iam_server: Any, user: Any) -> Any:
    """Follow the code flow: our app → the provider (signed in, consented) → our callback."""
    iam_server.login(user)
    iam_server.consent(user)
    try:
        start = client.get("/admin/login/oidc")
        assert start.status_code == 302
        authorize = start.headers["Location"]
        assert authorize.startswith(iam_server.url)
        at_provider = requests.get(authorize, allow_redirects=False, timeout=10)
        assert at_provider.status_code == 302, at_provider.text[:500]
        callback = at_provider.headers["Location"]
        assert callback.startswith(REDIRECT_URI), callback
        return client.get(callback.removeprefix("http://localhost"))
    finally:
        iam_server.logout()


def test_login_page_offers_single_sign_on(sso_app: Flask) -> None:
    body = sso_app.test_client().get("/admin/login").get_data(as_text=True)
    assert "Sign in with single sign-on" in body


def test_an_admin_signs_in_through_the_provider(sso_app: Flask, iam_server: Any) -> None:
    seeded = seed(sso_app)
    user = iam_server.random_user(emails=[seeded.admin_email])
    client = sso_app.test_client()
    response = _single_sign_on(client, iam_server, user)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].endswith("/admin/")
    hub = client.get("/admin/")
    assert hub.status_code == 200 and "View all operators" in hub.get_data(as_text=True)


def test_a_member_is_refused_after_single_sign_on(sso_app: Flask, iam_server: Any) -> None:
    seed(sso_app)
    user = iam_server.random_user(emails=["alice@acme.io"])
    client = sso_app.test_client()
    response = _single_sign_on(client, iam_server, user)
    assert response.status_code == 403
    assert "alice@acme.io is not an active Admin" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302


def test_a_forged_callback_is_refused(sso_app: Flask) -> None:
    client = sso_app.test_client()
    response = client.get("/admin/login/oidc/callback?code=stolen&state=forged")
    assert response.status_code == 401
    assert "Single sign-on failed" in response.get_data(as_text=True)
