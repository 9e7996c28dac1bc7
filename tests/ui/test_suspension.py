"""A suspended account's Admins cannot sign in, and a session opened before the suspension
ends with it; resuming lets them back in."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from scim_server.domain.accounts import set_account_status
from scim_server.storage.models import Account
from tests.ui.conftest import Seeded, sign_in


def _set(app: Flask, account_id: str, status: str) -> None:
    with app.extensions["scim_sessions"]() as session:
        account = session.get(Account, account_id)
        assert account is not None
        set_account_status(session, account, status)
        session.commit()


def test_a_suspended_accounts_admins_are_refused_and_let_back_in_on_resume(
    ui_app: Flask, seeded: Seeded, admin_client: FlaskClient
) -> None:
    assert admin_client.get("/admin/users").status_code == 200
    _set(ui_app, seeded.account_id, "suspended")
    assert admin_client.get("/admin/users").status_code == 302  # back to the sign-in page
    refused = sign_in(ui_app.test_client(), seeded.admin_email)
    assert refused.status_code == 403
    assert "suspended" in refused.get_data(as_text=True)
    # Another account's Admin is not affected.
    assert sign_in(ui_app.test_client(), seeded.other_admin_email).status_code == 302
    _set(ui_app, seeded.account_id, "active")
    assert sign_in(ui_app.test_client(), seeded.admin_email).status_code == 302
