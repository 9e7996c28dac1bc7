"""The admin UI writes provisioning events (issue 15) like every other door."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from scim_server.db import make_session_factory
from scim_server.storage.domain_tables import Event
from tests.ui.conftest import Seeded, csrf_of


def test_a_deactivation_in_the_ui_is_an_event(admin_client: FlaskClient, ui_app: Flask,
                                              seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    response = admin_client.post(f"/admin/users/{bob}/deactivate",
                                 data={"csrf_token": csrf_of(admin_client, "/admin/users")})
    assert response.status_code in (200, 302, 303)
    with make_session_factory(ui_app.extensions["scim_engine"])() as session:
        rows = session.execute(select(Event.event_type, Event.door, Event.resource_id).where(
            Event.account_id == seeded.account_id, Event.door != "cli")).all()
    assert rows == [("urn:ietf:params:scim:event:prov:deactivate", "ui", bob)]
