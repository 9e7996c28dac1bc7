"""The Audit log page: people named rather than ids, changes in words and in the admin's
language, filters by action, door and date range, and no entry for a change that changes
nothing (through the UI and the API doors)."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from scim_server.domain.actors import Actor
from scim_server.domain.audit import record_audit
from scim_server.storage.domain_tables import AuditEntry
from scim_server.storage.models import Account, User
from tests.domain.factories import make_token
from tests.ui.conftest import PASSWORD, Seeded, csrf_of, db_session

NNBSP = "\u202f"
HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")




def _post(client: FlaskClient, path: str, data: dict | None = None):
    return client.post(path, data={"csrf_token": csrf_of(client, "/admin/audit"),
                                   **(data or {})})


def _table(body: str) -> str:
    return body[body.index('data-testid="audit-table"'):body.index("</table>")]


def _entries(app: Flask, **where: str) -> int:
    with db_session(app) as session:
        stmt = select(func.count()).select_from(AuditEntry)
        for key, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, key) == value)
        return int(session.scalar(stmt) or 0)


def test_entries_name_people_and_show_changes_in_words(admin_client: FlaskClient,
                                                       ui_app: Flask, seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    _post(admin_client, f"/admin/users/{bob}/deactivate")
    _post(admin_client, f"/admin/users/{seeded.users['carol@acme.io']}/type",
          {"user_type": "Member"})
    table = _table(admin_client.get("/admin/audit").get_data(as_text=True))
    assert "Bob Stone (bob@acme.io)" in table
    assert "Carol Viewer (carol@acme.io)" in table
    assert f"({seeded.admin_email})" in table  # the author, by name and email
    assert "Status: active → inactive" in table
    assert "Type: Viewer → Member" in table
    assert "User deactivated" in table and "Type changed" in table
    assert HEX_ID.search(table) is None
    assert '"user_type"' not in table and "{" not in table  # no raw JSON


def test_the_page_in_french(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    client.set_cookie("admin_lang", "fr")
    client.post("/admin/login", data={"email": seeded.admin_email, "password": PASSWORD,
                                      "csrf_token": csrf_of(client)})
    _post(client, f"/admin/users/{seeded.users['bob@acme.io']}/deactivate")
    table = _table(client.get("/admin/audit").get_data(as_text=True))
    assert f"Statut{NNBSP}: actif → inactif" in table
    assert "Utilisateur désactivé" in table
    assert re.search(r"\d{1,2}\u00a0\w+\.?\u00a0\d{4} à \d\d:\d\d", table)


def test_a_deleted_user_is_shown_as_such(admin_client: FlaskClient, ui_app: Flask,
                                         seeded: Seeded) -> None:
    erin = seeded.users["erin@acme.io"]
    _post(admin_client, f"/admin/users/{erin}/delete", {"confirm": "yes"})
    table = _table(admin_client.get("/admin/audit").get_data(as_text=True))
    assert f"deleted user {erin[:8]}" in table
    assert "Erin" not in table


def test_ids_in_changes_are_named(admin_client: FlaskClient, ui_app: Flask,
                                  seeded: Seeded) -> None:
    alice, bob = seeded.users["alice@acme.io"], seeded.users["bob@acme.io"]
    with db_session(ui_app) as session:
        account = session.get(Account, seeded.account_id)
        record_audit(session, account, actor=Actor(door="api"), action="group.add_members",
                     target_type="group", target_id="g-unknown", before=None,
                     after={"added": [alice, bob]})
        session.commit()
    table = _table(admin_client.get("/admin/audit?action=group.add_members").get_data(
        as_text=True))
    assert "Added: Alice Martin (alice@acme.io), Bob Stone (bob@acme.io)" in table
    assert "Members added" in table


def _dated_entries(app: Flask, seeded: Seeded) -> None:
    start = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    with db_session(app) as session:
        account = session.get(Account, seeded.account_id)
        for i in range(10):
            record_audit(session, account, actor=Actor(door=("ui", "api")[i % 2]),
                         action=("test.even", "test.odd")[i % 2], target_type="user",
                         target_id=None, before={"n": i}, after={"n": i + 1},
                         clock=lambda i=i: start + dt.timedelta(days=i))
        session.commit()


def test_filters_by_action_door_and_date_range(admin_client: FlaskClient, ui_app: Flask,
                                               seeded: Seeded) -> None:
    _dated_entries(ui_app, seeded)
    table = _table(admin_client.get("/admin/audit?action=test.even").get_data(as_text=True))
    assert table.count("test.even") == 5 and "test.odd" not in table
    table = _table(admin_client.get("/admin/audit?door=api").get_data(as_text=True))
    assert table.count("test.odd") == 5 and "test.even" not in table
    # 3 to 5 March inclusive, in the admin's zone (UTC here): entries 2, 3 and 4.
    page = admin_client.get("/admin/audit?from=2026-03-03&to=2026-03-05").get_data(
        as_text=True)
    assert _table(page).count('data-testid="audit-entry"') == 3
    assert "N: 2 → 3" in page and "N: 4 → 5" in page and "N: 5 → 6" not in page
    assert 'value="2026-03-03"' in page  # the form keeps the filter


def test_the_date_filter_is_in_the_admins_zone(admin_client: FlaskClient, ui_app: Flask,
                                               seeded: Seeded) -> None:
    _dated_entries(ui_app, seeded)
    # 12:00 UTC on 1 March is 02:00 on 2 March in Kiritimati (UTC+14).
    admin_client.set_cookie("admin_tz", "Pacific/Kiritimati")
    page = admin_client.get("/admin/audit?from=2026-03-02&to=2026-03-02").get_data(as_text=True)
    assert "N: 0 → 1" in page and _table(page).count('data-testid="audit-entry"') == 1


def test_bad_filters_get_messages_not_errors(admin_client: FlaskClient, seeded: Seeded) -> None:
    response = admin_client.get("/admin/audit?from=2026-13-01&to=yesterday&action=%3Cb%3E"
                                "&door=moon")
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Enter a date as YYYY-MM-DD." in body and "That request is not valid." in body
    inverted = admin_client.get("/admin/audit?from=2026-03-05&to=2026-03-01")
    assert "The start date is after the end date." in inverted.get_data(as_text=True)


def test_paging_keeps_the_filters(admin_client: FlaskClient, ui_app: Flask,
                                  seeded: Seeded) -> None:
    with db_session(ui_app) as session:
        account = session.get(Account, seeded.account_id)
        for i in range(70):
            record_audit(session, account, actor=Actor(door="ui"),
                         action=("test.a", "test.b")[i % 2], target_type="user",
                         target_id=None, before=None, after={"n": i})
        session.commit()
    first = admin_client.get("/admin/audit?action=test.a&door=ui").get_data(as_text=True)
    assert _table(first).count("<code>test.a</code>") == 35
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', first)
    assert older is None  # 35 fit on one page
    first = admin_client.get("/admin/audit?door=ui").get_data(as_text=True)
    link = re.search(r'href="([^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "door=ui" in link
    second = admin_client.get(link).get_data(as_text=True)
    assert _table(second).count('data-testid="audit-entry"') == 20


def test_a_no_op_is_not_logged_through_the_ui_and_the_api(admin_client: FlaskClient,
                                                          ui_app: Flask, seeded: Seeded) -> None:
    alice, erin = seeded.users["alice@acme.io"], seeded.users["erin@acme.io"]
    before = _entries(ui_app)
    # Alice is a Member already; Erin is inactive already.
    response = _post(admin_client, f"/admin/users/{alice}/type", {"user_type": "Member"})
    assert response.status_code == 302
    with db_session(ui_app) as session:
        account = session.get(Account, seeded.account_id)
        admin = session.get(User, seeded.admin_id)
        token = make_token(session, account, admin)
        session.commit()
    api = ui_app.test_client().post(f"/api/v1/users/{erin}/deactivate",
                                    headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    assert _entries(ui_app, action="user.change_type") == 0
    assert _entries(ui_app, action="user.deactivate") == 0
    # Issuing the token was logged; the two no-ops were not.
    assert _entries(ui_app) == before + _entries(ui_app, action="token.issue")


def test_every_action_and_attribute_name_has_its_french() -> None:
    from admin_ui.audit import ACTIONS, ATTRIBUTES
    from admin_ui.i18n import FR

    missing = sorted({*ACTIONS.values(), *ATTRIBUTES.values()} - set(FR))
    assert missing == []
