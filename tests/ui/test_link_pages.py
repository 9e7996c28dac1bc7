"""The pages of emailed links say which account, which address, who sent the link and until
when it works, before anything happens: opening them (as a mail scanner does) changes
nothing; an expired link says so and offers no button."""

from __future__ import annotations

import datetime as dt
import html

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from scim_server.storage.domain_tables import EmailChange, Invitation
from scim_server.storage.models import User
from tests.conftest import Mailbox
from tests.ui.conftest import Seeded, csrf_of, db_session

NNBSP = "\u202f"




def _status(app: Flask, email: str) -> tuple[str, str | None]:
    with db_session(app) as session:
        user = session.scalar(select(User).where(User.user_name_key == email))
        assert user is not None
        return user.status, user.email


def _invite(admin_client: FlaskClient, email: str) -> None:
    response = admin_client.post("/admin/users/invite", data={
        "csrf_token": csrf_of(admin_client, "/admin/users/invite"), "email": email,
        "user_type": "Viewer", "display_name": "New Person"})
    assert response.status_code == 302


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def test_the_invitation_page_describes_it_and_changes_nothing(
        admin_client: FlaskClient, ui_app: Flask, seeded: Seeded, mailbox: Mailbox) -> None:
    _invite(admin_client, "new@acme.io")
    link = mailbox.link("new@acme.io")
    with db_session(ui_app) as session:
        expires = session.scalar(select(Invitation.expires_at))
    invitee = ui_app.test_client()
    for _ in range(2):  # a scanner's prefetch, then the person
        page = invitee.get(link)
        assert page.status_code == 200
    body = _text(page)
    assert "Acme" in body and "new@acme.io" in body
    assert f"({seeded.admin_email})" in body  # who invited
    expires_utc = expires.replace(tzinfo=dt.UTC) if expires.tzinfo is None else expires
    assert f"{expires_utc:%Y-%m-%d %H:%M}" in body and "Link valid until" in body
    assert _status(ui_app, "new@acme.io")[0] == "pending"  # the GETs accepted nothing
    accepted = invitee.post(link, data={"csrf_token": csrf_of(invitee, link)})
    assert accepted.status_code == 200 and _status(ui_app, "new@acme.io")[0] == "active"
    # Used: the page says so and offers nothing.
    again = invitee.get(link)
    assert again.status_code == 404 and "data-testid=\"link-confirm\"" not in _text(again)


def test_the_invitation_page_in_french(admin_client: FlaskClient, ui_app: Flask,
                                       mailbox: Mailbox) -> None:
    _invite(admin_client, "new@acme.io")
    invitee = ui_app.test_client()
    invitee.set_cookie("admin_lang", "fr")
    body = _text(invitee.get(mailbox.link("new@acme.io")))
    assert "Adresse invitée" in body and "Invité par" in body
    assert "Lien valable jusqu’au" in body and " à " in body


def test_an_expired_invitation_says_so_without_a_button(
        admin_client: FlaskClient, ui_app: Flask, mailbox: Mailbox) -> None:
    _invite(admin_client, "late@acme.io")
    with db_session(ui_app) as session:
        session.execute(update(Invitation).values(
            expires_at=dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)))
        session.commit()
    invitee = ui_app.test_client()
    page = invitee.get(mailbox.link("late@acme.io"))
    body = _text(page)
    assert page.status_code == 410
    assert "Link expired" in body and "2026-01-01 08:00" in body
    assert "late@acme.io" in body and 'data-testid="link-confirm"' not in body
    assert _status(ui_app, "late@acme.io")[0] == "pending"


def test_an_unknown_link_is_404_with_a_sentence(ui_app: Flask) -> None:
    page = ui_app.test_client().get("/admin/invitation/not-a-token")
    assert page.status_code == 404
    assert "this invitation link is unknown, used or expired" in _text(page)
    french = ui_app.test_client()
    french.set_cookie("admin_lang", "fr")
    page = french.get("/admin/email-confirmation/not-a-token")
    assert page.status_code == 404
    assert "Ce lien de confirmation est inconnu ou déjà utilisé." in _text(page)


def test_the_email_confirmation_page_describes_the_change(
        admin_client: FlaskClient, ui_app: Flask, seeded: Seeded, mailbox: Mailbox) -> None:
    bob = seeded.users["bob@acme.io"]
    admin_client.post(f"/admin/users/{bob}/email", data={
        "csrf_token": csrf_of(admin_client, f"/admin/users/{bob}/email"),
        "email": "robert@acme.io"})
    link = mailbox.link("robert@acme.io")
    person = ui_app.test_client()
    page = person.get(link)
    body = _text(page)
    assert page.status_code == 200
    assert "Bob Stone" in body and "bob@acme.io" in body and "robert@acme.io" in body
    assert "Requested by" in body and seeded.admin_email in body
    assert "Link valid until" in body and "Nothing changes until you confirm." in body
    assert _status(ui_app, "bob@acme.io")[1] == "bob@acme.io"
    with db_session(ui_app) as session:
        session.execute(update(EmailChange).values(
            expires_at=dt.datetime(2026, 1, 1, 8, 0, tzinfo=dt.UTC)))
        session.commit()
    expired = person.get(link)
    assert expired.status_code == 410
    assert "this confirmation link has expired; the email was not changed" in _text(expired)
    refused = person.post(link, data={"csrf_token": csrf_of(person, "/admin/login")})
    assert refused.status_code == 410
    assert _status(ui_app, "bob@acme.io")[1] == "bob@acme.io"
