"""Hostile form input in the admin UI (issue 11): U+0000, which a form's percent-escapes spell
and PostgreSQL cannot store, is a 400 page with a message on both engines, never a 500. (A form
cannot carry a lone surrogate: its bytes are not UTF-8, and are decoded as U+FFFD.)"""

from __future__ import annotations

import pytest

from tests.ui.conftest import csrf_of, make_app, seed, sign_in


@pytest.mark.parametrize("display_name", ["x%00y", "%00"])
def test_a_nul_in_the_invite_form_is_refused_with_a_message(database_url: str, display_name: str) -> None:
    app = make_app(database_url)
    seeded = seed(app)
    client = app.test_client()
    assert sign_in(client, seeded.admin_email).status_code == 302
    token = csrf_of(client, "/admin/users/invite")
    body = f"csrf_token={token}&email=new%40acme.io&user_type=Member&display_name={display_name}"
    r = client.post("/admin/users/invite", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 400, r.get_data(as_text=True)
    assert "cannot be stored (U+0000)" in r.get_data(as_text=True)
    assert "new@acme.io" not in client.get("/admin/users?status=pending").get_data(as_text=True)
    # The same form without the NUL goes through.
    body = body.replace(f"display_name={display_name}", "display_name=New%20%F0%9F%98%80")
    assert client.post("/admin/users/invite", data=body,
                       content_type="application/x-www-form-urlencoded").status_code == 302
