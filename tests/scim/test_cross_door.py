"""Changes made through the admin doors are seen by SCIM exactly as SCIM's own writes are."""

from __future__ import annotations

from flask import Flask

from scim_server.db import make_session_factory
from scim_server.domain import users as user_service
from scim_server.domain.actors import Actor
from scim_server.domain.mail import OutboxMailer
from scim_server.storage.models import Account as AccountRow
from tests.scim.conftest import Account, ScimClient, user_body


def _session(app: Flask):
    return make_session_factory(app.extensions["scim_engine"])()


def _find(scim: ScimClient, expression: str) -> list[dict]:
    response = scim.get("/Users", query={"filter": expression})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["Resources"]


def test_a_confirmed_email_change_moves_the_scim_email_lookups(
    app: Flask, account: Account, scim: ScimClient
) -> None:
    created = scim.post("/Users", user_body("ann@acme.example")).get_json()
    with _session(app) as session:
        row = session.get(AccountRow, account.id)
        _, token = user_service.start_email_change(
            session, row, created["id"], "Ann.New@acme.example",
            actor=Actor(door="api"), mailer=OutboxMailer(), confirm_url=lambda t: t,
        )
        session.commit()
        # Not applied before confirmation (email.confirmation_required).
        assert _find(scim, 'emails.value eq "ann.new@acme.example"') == []
        user_service.confirm_email_change(session, token=token)
        session.commit()

    found = _find(scim, 'emails[type eq "work"].value eq "ANN.NEW@acme.example"')
    assert [u["id"] for u in found] == [created["id"]]
    assert _find(scim, 'emails.value eq "ann@acme.example"') == []


def test_a_type_change_through_the_domain_shows_over_scim(
    app: Flask, account: Account, scim: ScimClient
) -> None:
    created = scim.post("/Users", user_body("bob@acme.example", userType="Member")).get_json()
    with _session(app) as session:
        row = session.get(AccountRow, account.id)
        user_service.change_user_type(session, row, created["id"], "Viewer", actor=Actor(door="ui"))
        session.commit()
    fetched = scim.get(f"/Users/{created['id']}").get_json()
    assert fetched["userType"] == "Viewer"
    assert [u["id"] for u in _find(scim, 'userType eq "viewer"')] == [created["id"]]
    assert fetched["meta"]["version"] != created["meta"]["version"]
