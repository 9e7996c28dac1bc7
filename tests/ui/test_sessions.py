"""The server ends admin UI sessions itself: a copied session cookie stops working, for reads
and writes, once its admin signs out or their password changes."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from scim_server.db import make_session_factory
from scim_server.domain import users
from scim_server.domain.actors import Actor
from scim_server.storage.models import Account, User
from tests.ui.conftest import Seeded, csrf_of, sign_in

NEW_PASSWORD = "a different horse, a different battery"


def _copy(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    name = app.config["SESSION_COOKIE_NAME"]
    cookie = client.get_cookie(name)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(name, cookie.value)
    return thief


def _status_of(app: Flask, user_id: str) -> str:
    with make_session_factory(app.extensions["scim_engine"])() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.status


def _deactivate(client: FlaskClient, user_id: str, csrf: str) -> int:
    return client.post(f"/admin/users/{user_id}/deactivate",
                       data={"csrf_token": csrf}).status_code


def test_a_copied_cookie_dies_with_the_sign_out(ui_app: Flask, seeded: Seeded,
                                                admin_client: FlaskClient) -> None:
    thief = _copy(ui_app, admin_client)
    assert thief.get("/admin/users").status_code == 200
    csrf = csrf_of(thief, "/admin/users")  # the same session: the same CSRF token
    response = admin_client.post("/admin/logout", data={"csrf_token": csrf})
    assert response.status_code == 302
    assert admin_client.get("/admin/users").status_code == 302
    # The copy: refused for reads and for writes.
    read = thief.get("/admin/users")
    assert read.status_code == 302 and "/admin/login" in read.headers["Location"]
    bob = seeded.users["bob@acme.io"]
    assert _deactivate(thief, bob, csrf) == 302
    assert _status_of(ui_app, bob) == "active"
    # Signing in again starts a session that works.
    again = ui_app.test_client()
    assert sign_in(again, seeded.admin_email).status_code == 302
    assert again.get("/admin/users").status_code == 200


def test_a_sign_out_ends_the_sessions_of_other_devices(ui_app: Flask, seeded: Seeded) -> None:
    laptop, phone = ui_app.test_client(), ui_app.test_client()
    for device in (laptop, phone):
        assert sign_in(device, seeded.admin_email).status_code == 302
    laptop.post("/admin/logout", data={"csrf_token": csrf_of(laptop, "/admin/users")})
    assert phone.get("/admin/users").status_code == 302


def test_a_password_change_ends_the_sessions(ui_app: Flask, seeded: Seeded,
                                             admin_client: FlaskClient) -> None:
    thief = _copy(ui_app, admin_client)
    csrf = csrf_of(thief, "/admin/users")
    with make_session_factory(ui_app.extensions["scim_engine"])() as session:
        account = session.get(Account, seeded.account_id)
        assert account is not None
        # What PATCH /api/v1/users/<self> {"password": ...} runs.
        users.update_profile(session, account, seeded.admin_id, {"password": NEW_PASSWORD},
                             actor=Actor(door="api", user_id=seeded.admin_id))
        session.commit()
    for client in (admin_client, thief):
        assert client.get("/admin/users").status_code == 302
    bob = seeded.users["bob@acme.io"]
    assert _deactivate(thief, bob, csrf) == 302
    assert _status_of(ui_app, bob) == "active"
    fresh = ui_app.test_client()
    assert sign_in(fresh, seeded.admin_email, NEW_PASSWORD).status_code == 302
    assert fresh.get("/admin/users").status_code == 200
