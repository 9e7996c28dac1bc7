"""Where the admin UI sends links and where it links back: the pages that mail a link say when
mail is not configured, and ``?next=`` never leads off the site (the Cancel links)."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Mailbox
from tests.ui.conftest import Seeded, csrf_of, make_app, seed, sign_in

NOT_CONFIGURED = "Mail is not configured on this server"
NOT_CONFIGURED_FR = "L'envoi d'e-mails n'est pas configuré sur ce serveur"
PAGES = ["delete", "email", "profile"]


def _card(body: str) -> str:
    """The page's own card: the language menu's form elsewhere on the page has a ``next``
    of its own (the page's address)."""
    return body[body.index('<section class="card'):body.index("</section>")]


def _cancel_href(body: str) -> str:
    found = re.search(r'<a class="button" href="([^"]*)">(?:Cancel|Annuler)</a>', _card(body))
    assert found, body
    return html.unescape(found.group(1))


def _hidden_next(body: str) -> str:
    found = re.search(r'<input type="hidden" name="next" value="([^"]*)">', _card(body))
    assert found, body
    return html.unescape(found.group(1))


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("target", [
    "https://evil.example/phish", "//evil.example/phish", "javascript:alert(1)",
    "/\\evil.example", "/admin/../evil",
])
def test_next_cannot_lead_off_the_site(admin_client: FlaskClient, seeded: Seeded, page: str,
                                       target: str) -> None:
    erin = seeded.users["erin@acme.io"]
    response = admin_client.get(f"/admin/users/{erin}/{page}", query_string={"next": target})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert _cancel_href(body) == "/admin/users"
    assert _hidden_next(body) == ""
    assert "evil" not in _card(body) and "javascript:" not in _card(body)


@pytest.mark.parametrize("page", PAGES)
def test_next_back_to_the_users_list_is_kept(admin_client: FlaskClient, seeded: Seeded,
                                             page: str) -> None:
    erin = seeded.users["erin@acme.io"]
    target = "/admin/users?q=erin&status=inactive"
    body = admin_client.get(f"/admin/users/{erin}/{page}",
                            query_string={"next": target}).get_data(as_text=True)
    assert _cancel_href(body) == target
    assert _hidden_next(body) == target


@pytest.mark.parametrize("page", PAGES)
def test_a_refused_post_does_not_echo_a_foreign_next(admin_client: FlaskClient, seeded: Seeded,
                                                     page: str) -> None:
    erin = seeded.users["erin@acme.io"]
    path = f"/admin/users/{erin}/{page}"
    invalid = {"delete": {}, "email": {"email": "not an email"}, "profile": {"title": "x" * 401}}
    response = admin_client.post(path, data={"csrf_token": csrf_of(admin_client, path),
                                             "next": "https://evil.example/", **invalid[page]})
    assert response.status_code == 400
    assert _cancel_href(response.get_data(as_text=True)) == "/admin/users"


def test_pages_sending_links_say_mail_is_not_configured(admin_client: FlaskClient,
                                                        seeded: Seeded, mailbox: Mailbox) -> None:
    bob = seeded.users["bob@acme.io"]
    for path in ("/admin/users/invite", f"/admin/users/{bob}/email"):
        assert NOT_CONFIGURED in admin_client.get(path).get_data(as_text=True)
    admin_client.set_cookie("admin_lang", "fr")
    for path in ("/admin/users/invite", f"/admin/users/{bob}/email"):
        assert NOT_CONFIGURED_FR in html.unescape(admin_client.get(path).get_data(as_text=True))
    admin_client.set_cookie("admin_lang", "en")
    token = csrf_of(admin_client, "/admin/users/invite")
    done = admin_client.post("/admin/users/invite", data={
        "csrf_token": token, "email": "new@acme.io", "user_type": "Viewer"},
        follow_redirects=True)
    assert "no invitation was mailed: mail is not configured" in done.get_data(as_text=True)
    assert mailbox.link("new@acme.io").startswith("/admin/invitation/")


def test_with_smtp_the_pages_say_nothing_of_it(sqlite_url: str) -> None:
    app: Flask = make_app(sqlite_url, smtp_url="smtp://127.0.0.1:9")
    seeded = seed(app)
    client = app.test_client()
    assert sign_in(client, seeded.admin_email).status_code == 302
    bob = seeded.users["bob@acme.io"]
    for path in ("/admin/users/invite", f"/admin/users/{bob}/email"):
        body = client.get(path).get_data(as_text=True)
        assert "data-testid=\"mail-not-configured\"" not in body
