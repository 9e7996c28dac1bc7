"""The On duty page (issue 14): who is on duty now, the duty schedules, and editing one
(time zone, windows, exceptions) with each removal confirmed first, without JavaScript."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from scim_server.hub import duty
from scim_server.storage.domain_tables import AuditEntry
from scim_server.storage.hub_tables import DutyException, DutySchedule, DutyWindow
from scim_server.storage.models import Account
from tests.ui.conftest import Seeded, csrf_of, db_session, sign_in

ALL_DAY = [duty.WindowSpec(d, dt.time(0, 0), dt.time(0, 0)) for d in range(7)]




def _post(client: FlaskClient, path: str, data: dict | None = None):
    token = getattr(client, "_ui_csrf", None) or csrf_of(client, "/admin/duty")
    client._ui_csrf = token  # type: ignore[attr-defined]
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _schedule(app: Flask, seeded: Seeded, email: str, windows: list[duty.WindowSpec]) -> str:
    from scim_server.domain.actors import Actor

    user_id = seeded.users[email]
    with db_session(app) as session:
        account = session.get(Account, seeded.account_id)
        duty.set_schedule(session, account, user_id, time_zone="Europe/Paris", windows=windows,
                          actor=Actor(door="api"))
        session.commit()
    return user_id


def test_the_page_lists_who_is_on_duty_now_and_the_schedules(admin_client: FlaskClient,
                                                            ui_app: Flask, seeded: Seeded):
    _schedule(ui_app, seeded, "alice@acme.io", ALL_DAY)  # always on duty
    _schedule(ui_app, seeded, "bob@acme.io", [])  # never
    page = admin_client.get("/admin/duty").get_data(as_text=True)
    now = page.split('data-testid="on-duty-now"')[1].split("</section>")[0]
    assert "Alice Martin" in now and "Bob Stone" not in now and "Europe/Paris" in now
    table = page.split('data-testid="schedules-table"')[1]
    assert "Alice Martin" in table and "Bob Stone" in table
    assert "1–2 of 2" in page
    # The hub's card and the navigation lead here.
    assert 'href="/admin/duty"' in admin_client.get("/admin/").get_data(as_text=True)


def test_create_and_edit_a_schedule(admin_client: FlaskClient, ui_app: Flask, seeded: Seeded):
    carol = seeded.users["carol@acme.io"]
    made = _post(admin_client, "/admin/duty", {"email": "carol@acme.io",
                                                "time_zone": "America/New_York"})
    assert made.status_code == 302 and made.headers["Location"].endswith(f"/admin/duty/{carol}")
    page = admin_client.get(f"/admin/duty/{carol}").get_data(as_text=True)
    assert "A duty schedule was created for Carol Viewer (carol@acme.io)" in page
    # Twice is refused with a message, not a second schedule.
    _post(admin_client, "/admin/duty", {"email": "carol@acme.io", "time_zone": "UTC"})
    assert "already has a duty schedule" in admin_client.get("/admin/duty").get_data(
        as_text=True)

    assert _post(admin_client, f"/admin/duty/{carol}/windows",
                 {"weekday": "0", "start": "22:00", "end": "06:00"}).status_code == 302
    _post(admin_client, f"/admin/duty/{carol}/exceptions",
          {"date": "2026-12-25", "kind": "off", "note": "Christmas"})
    _post(admin_client, f"/admin/duty/{carol}/zone", {"time_zone": "Europe/Berlin"})
    page = admin_client.get(f"/admin/duty/{carol}").get_data(as_text=True)
    assert "Monday" in page and "22:00–06:00" in page and "(ends the next day)" in page
    assert "2026-12-25" in page and "Christmas" in page
    with db_session(ui_app) as session:
        assert session.get(DutySchedule, carol).time_zone == "Europe/Berlin"
        # Changing the zone keeps the windows.
        assert len(session.scalars(select(DutyWindow).where(DutyWindow.user_id == carol)).all()) == 1
        actions = set(session.scalars(select(AuditEntry.action).where(
            AuditEntry.target_id == carol, AuditEntry.door == "ui")))
    assert {"duty.set", "duty.window_add", "duty.exception_add"} <= actions


def test_bad_inputs_are_messages(admin_client: FlaskClient, ui_app: Flask, seeded: Seeded):
    alice = _schedule(ui_app, seeded, "alice@acme.io", [])
    for path, data, message in [
        (f"/admin/duty/{alice}/windows", {"weekday": "9", "start": "09:00", "end": "17:00"},
         "Choose a day of the week."),
        (f"/admin/duty/{alice}/windows", {"weekday": "1", "start": "nine", "end": "17:00"},
         "Enter a time as HH:MM."),
        (f"/admin/duty/{alice}/exceptions", {"date": "soon", "kind": "off"}, "Enter a date."),
        (f"/admin/duty/{alice}/exceptions", {"date": "2026-01-01", "kind": "maybe"},
         "Choose off or on duty."),
    ]:
        answer = _post(admin_client, path, data)
        assert answer.status_code == 302, (path, data)
        assert message in admin_client.get(f"/admin/duty/{alice}").get_data(as_text=True)
    _post(admin_client, f"/admin/duty/{alice}/zone", {"time_zone": "Mars/Olympus"})
    page = admin_client.get(f"/admin/duty/{alice}").get_data(as_text=True)
    assert "Refused" in page
    _post(admin_client, "/admin/duty", {"email": "nobody@acme.io", "time_zone": "UTC"})
    assert "No user with that email." in admin_client.get("/admin/duty").get_data(as_text=True)


def test_removals_are_confirmed_first(admin_client: FlaskClient, ui_app: Flask,
                                     seeded: Seeded):
    alice = _schedule(ui_app, seeded, "alice@acme.io",
                      [duty.WindowSpec(2, dt.time(9), dt.time(17))])
    _post(admin_client, f"/admin/duty/{alice}/exceptions", {"date": "2026-05-01", "kind": "off"})
    page = admin_client.get(f"/admin/duty/{alice}").get_data(as_text=True)
    window_link = re.search(rf'href="(/admin/duty/{alice}/windows/[^"]+/remove)"', page).group(1)
    exception_link = re.search(rf'href="(/admin/duty/{alice}/exceptions/[^"]+/remove)"',
                               page).group(1)
    # The schedule page holds links to confirmations, no form that removes at once.
    assert f'action="{window_link}"' not in page

    confirm = admin_client.get(window_link).get_data(as_text=True)
    assert "Remove the window Wednesday 09:00–17:00" in confirm
    assert "Alice Martin (alice@acme.io) will no longer be on duty" in confirm
    with db_session(ui_app) as session:
        assert session.scalars(select(DutyWindow).where(DutyWindow.user_id == alice)).all()
    _post(admin_client, window_link)
    assert "The window Wednesday 09:00–17:00 of Alice Martin (alice@acme.io) was removed." in \
        admin_client.get(f"/admin/duty/{alice}").get_data(as_text=True)

    assert "Remove the exception of 2026-05-01" in admin_client.get(exception_link).get_data(
        as_text=True)
    _post(admin_client, exception_link)
    with db_session(ui_app) as session:
        assert not session.scalars(select(DutyWindow).where(DutyWindow.user_id == alice)).all()
        assert not session.scalars(select(DutyException).where(
            DutyException.user_id == alice)).all()

    confirm = admin_client.get(f"/admin/duty/{alice}/remove").get_data(as_text=True)
    assert "Remove the duty schedule of Alice Martin (alice@acme.io)" in confirm
    _post(admin_client, f"/admin/duty/{alice}/remove")
    with db_session(ui_app) as session:
        assert session.get(DutySchedule, alice) is None
    assert admin_client.get(f"/admin/duty/{alice}").status_code == 404


def test_another_accounts_schedules_are_not_found(ui_app: Flask, seeded: Seeded):
    alice = _schedule(ui_app, seeded, "alice@acme.io", ALL_DAY)
    other = ui_app.test_client()
    sign_in(other, seeded.other_admin_email)
    assert "Alice" not in other.get("/admin/duty").get_data(as_text=True)
    assert other.get(f"/admin/duty/{alice}").status_code == 404
    assert other.get(f"/admin/duty/{alice}/remove").status_code == 404
    assert _post(other, f"/admin/duty/{alice}/remove").status_code == 404
    assert _post(other, f"/admin/duty/{alice}/windows",
                 {"weekday": "1", "start": "09:00", "end": "10:00"}).status_code == 404
    with db_session(ui_app) as session:
        assert session.get(DutySchedule, alice) is not None


def test_the_page_in_french(admin_client: FlaskClient, ui_app: Flask, seeded: Seeded):
    alice = _schedule(ui_app, seeded, "alice@acme.io", [duty.WindowSpec(0, dt.time(9),
                                                                        dt.time(17))])
    admin_client.set_cookie("admin_lang", "fr")
    assert "Plannings de garde" in admin_client.get("/admin/duty").get_data(as_text=True)
    page = admin_client.get(f"/admin/duty/{alice}").get_data(as_text=True)
    assert "Créneaux hebdomadaires" in page and "Lundi" in page
