"""The Resources and permissions page (issue 14): paged with a total, filtered by kind and
production, and the permissions users hold only through groups collapsed (<details>)."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from scim_server.domain import groups as group_service
from scim_server.domain.actors import Actor
from scim_server.hub.permissions import grant_permission
from scim_server.storage.models import Account
from tests.domain.factories import make_resource
from tests.ui.conftest import Seeded, db_session

API = Actor(door="api")




def _resources(app: Flask, seeded: Seeded) -> str:
    """25 resources: 10 production boards, 15 monitors; the first board granted to a group of
    three users and directly to Alice. Returns that board's id."""
    with db_session(app) as session:
        account = session.get(Account, seeded.account_id)
        boards = []
        for i in range(10):
            res = make_resource(session, account, "board", production=True)
            res.name = f"Board {i:02d}"
            boards.append(res)
        for i in range(15):
            make_resource(session, account, "monitor").name = f"Monitor {i:02d}"
        gid = group_service.create_group(session, account, "Ops", actor=API)
        group_service.add_members(session, account, gid, [
            seeded.users["alice@acme.io"], seeded.users["bob@acme.io"],
            seeded.users["carol@acme.io"]], actor=API)
        grant_permission(session, account, boards[0].id, principal_type="group",
                         principal_id=gid, level="view", actor=API)
        grant_permission(session, account, boards[0].id, principal_type="user",
                         principal_id=seeded.users["alice@acme.io"], level="edit", actor=API)
        session.commit()
        return str(boards[0].id)


def test_paged_with_a_total(admin_client: FlaskClient, ui_app: Flask, seeded: Seeded):
    _resources(ui_app, seeded)
    first = admin_client.get("/admin/resources").get_data(as_text=True)
    assert "1–20 of 25" in first and "Board 00" in first and "Monitor 14" not in first
    second = admin_client.get("/admin/resources?offset=20").get_data(as_text=True)
    assert "21–25 of 25" in second and "Monitor 14" in second and "Board 00" not in second


def test_filters_by_kind_and_production(admin_client: FlaskClient, ui_app: Flask,
                                        seeded: Seeded):
    _resources(ui_app, seeded)
    boards = admin_client.get("/admin/resources?kind=board").get_data(as_text=True)
    assert "1–10 of 10" in boards and "Monitor" not in boards.split("resources-table")[1]
    prod = admin_client.get("/admin/resources?production=yes").get_data(as_text=True)
    assert "1–10 of 10" in prod
    other = admin_client.get("/admin/resources?production=no&kind=board").get_data(as_text=True)
    assert "No resource matches these filters." in other
    # An unknown kind is no filter, never an error.
    assert admin_client.get("/admin/resources?kind=rocket").status_code == 200
    # The pager keeps the filter.
    monitors = admin_client.get("/admin/resources?kind=monitor&production=no&offset=0")
    assert monitors.status_code == 200


def test_permissions_held_through_groups_are_collapsed(admin_client: FlaskClient,
                                                       ui_app: Flask, seeded: Seeded):
    _resources(ui_app, seeded)
    page = admin_client.get("/admin/resources?kind=board").get_data(as_text=True)
    row = page.split('<div class="name">Board 00')[1].split("</tr>")[0]
    direct, _, collapsed = row.partition('<details data-testid="inherited">')
    # Alice holds a permission of her own: listed; Bob and Carol only through Ops: folded.
    assert "Alice Martin" in direct and "Bob Stone" not in direct
    assert "Through groups only: 2 users" in collapsed
    assert "Bob Stone" in collapsed and "Carol Viewer" in collapsed
    admin_client.set_cookie("admin_lang", "fr")
    fr = admin_client.get("/admin/resources?kind=board").get_data(as_text=True)
    assert "Seulement par des groupes" in fr and "Toutes les sortes" in fr
