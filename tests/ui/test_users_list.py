"""The users list and its row actions through Flask's test client (no JavaScript): the range
and pages, sortable headers, the type menu, "select all" across pages, the activation
confirmation and resending an invitation."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from scim_server.storage.domain_tables import OutboxEmail
from scim_server.storage.models import Account, User
from tests.ui.conftest import Seeded, add_user, csrf_of, db_session, stored_user

ROW = re.compile(r'data-testid="row-([^"]+)"')






def _post(client: FlaskClient, path: str, data: dict | None = None):
    token = getattr(client, "_ui_csrf", None) or csrf_of(client, "/admin/users")
    client._ui_csrf = token  # type: ignore[attr-defined]
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def _rows(html: str) -> list[str]:
    return ROW.findall(html)


def _add_many(app: Flask, seeded: Seeded, count: int, *, user_type: str = "Viewer") -> None:
    with db_session(app) as session:
        for i in range(count):
            add_user(session, seeded.account_id, f"p{i:03d}@acme.io", f"Person {i:03d}",
                     user_type=user_type, with_password=False)
        session.commit()


def _link(html: str, testid: str) -> str:
    match = re.search(rf'href="([^"]+)"[^>]*data-testid="{testid}"', html)
    assert match, f"no {testid} link"
    return match.group(1).replace("&amp;", "&")


# --- activation and invitations ---------------------------------------------------------------

def test_activation_is_confirmed_first_and_tells_the_seats(admin_client: FlaskClient,
                                                          ui_app: Flask, seeded: Seeded) -> None:
    erin = seeded.users["erin@acme.io"]
    with db_session(ui_app) as session:
        account = session.get(Account, seeded.account_id)
        assert account is not None
        seats_used, seats_limit = account.paying_active, account.seats_limit
    listing = _page(admin_client, "/admin/users?status=inactive")
    # The row menu links to the confirmation; no one-click activation form any more.
    assert f'action="/admin/users/{erin}/activate"' not in listing
    assert f'href="/admin/users/{erin}/activate?next=' in listing
    page = _page(admin_client, f"/admin/users/{erin}/activate?next=/admin/users?status%3Dinactive")
    assert "Erin Idle (erin@acme.io) will be able to sign in" in page
    assert (f"paying seats: {seats_used:,} of {seats_limit:,} are in use "
            f"now, {seats_used + 1:,} after") in page
    assert 'href="/admin/users?status=inactive"' in page  # Cancel goes back to the list
    assert stored_user(ui_app, erin).status == "inactive"
    done = _post(admin_client, f"/admin/users/{erin}/activate",
                 {"next": "/admin/users?status=inactive"})
    assert done.status_code == 302 and stored_user(ui_app, erin).status == "active"
    assert "Erin Idle (erin@acme.io) was activated." in _page(admin_client, "/admin/users")
    assert admin_client.get("/admin/users/nope/activate").status_code == 404


def test_activation_page_in_french(admin_client: FlaskClient, seeded: Seeded) -> None:
    admin_client.set_cookie("admin_lang", "fr", path="/admin")
    page = _page(admin_client, f"/admin/users/{seeded.users['erin@acme.io']}/activate")
    assert "Activer Erin Idle" in page and "places payantes" in page


def test_a_viewer_takes_no_seat(admin_client: FlaskClient, ui_app: Flask,
                                seeded: Seeded) -> None:
    carol = seeded.users["carol@acme.io"]
    with db_session(ui_app) as session:
        user = session.get(User, carol)
        assert user is not None
        user.status = "inactive"
        session.commit()
    assert "As a Viewer, they take no paying seat." in _page(
        admin_client, f"/admin/users/{carol}/activate")


def test_resend_an_invitation_to_a_pending_user(admin_client: FlaskClient, ui_app: Flask,
                                                seeded: Seeded) -> None:
    token = csrf_of(admin_client, "/admin/users/invite")
    admin_client._ui_csrf = token  # type: ignore[attr-defined]
    _post(admin_client, "/admin/users/invite", {"email": "nina@acme.io", "user_type": "Member",
                                                "display_name": "Nina New"})
    with db_session(ui_app) as session:
        nina = session.scalar(select(User.id).where(User.user_name_key == "nina@acme.io"))
    listing = _page(admin_client, "/admin/users?status=pending")
    assert f'action="/admin/users/{nina}/resend-invitation"' in listing
    done = _post(admin_client, f"/admin/users/{nina}/resend-invitation",
                 {"next": "/admin/users?status=pending"})
    assert done.status_code == 302
    after = _page(admin_client, "/admin/users?status=pending")
    assert "A new invitation was made for Nina New (nina@acme.io)" in after
    with db_session(ui_app) as session:
        sent = session.scalar(select(func.count()).select_from(OutboxEmail).where(
            OutboxEmail.to_address == "nina@acme.io"))
    assert sent == 2
    # An active user has no invitation to resend: the rule shows on that user's row.
    bob = seeded.users["bob@acme.io"]
    _post(admin_client, f"/admin/users/{bob}/resend-invitation", {"next": "/admin/users?q=bob"})
    row = _page(admin_client, "/admin/users?q=bob")
    assert "invitation.not_pending" in row and "Bob Stone" in row
    # No resend link on a row that is not pending.
    assert f"/admin/users/{bob}/resend-invitation" not in row


# --- the list ------------------------------------------------------------------------------------

def test_range_previous_and_next_pages(admin_client: FlaskClient, ui_app: Flask,
                                       seeded: Seeded) -> None:
    _add_many(ui_app, seeded, 30)
    first = _page(admin_client, "/admin/users?sort=name_asc&per=25")
    assert "1–25 of 37" in first
    assert 'data-testid="prev-page"' not in first
    first_rows = _rows(first)
    second = _page(admin_client, _link(first, "next-page"))
    assert "26–37 of 37" in second and len(_rows(second)) == 12
    assert not set(_rows(second)) & set(first_rows)
    assert 'data-testid="next-page"' not in second
    back = _page(admin_client, _link(second, "prev-page"))
    assert _rows(back) == first_rows and "1–25 of 37" in back
    # A page size outside the choices falls back to the default (50).
    assert "1–37 of 37" in _page(admin_client, "/admin/users?per=13")


def test_french_numbers_in_the_range(admin_client: FlaskClient, ui_app: Flask,
                                     seeded: Seeded) -> None:
    admin_client.set_cookie("admin_lang", "fr", path="/admin")
    assert "1–7 sur 7" in _page(admin_client, "/admin/users")


def test_sortable_headers_keep_the_filters(admin_client: FlaskClient, seeded: Seeded) -> None:
    page = _page(admin_client, "/admin/users?q=acme.io&status=active&sort=name_asc")
    header = re.search(r'<th scope="col" aria-sort="ascending" data-testid="col-name">'
                       r'<a class="sort-link" href="([^"]+)"', page)
    assert header, "the name column is marked as the ascending sort"
    link = header.group(1).replace("&amp;", "&")
    assert "sort=name_desc" in link and "q=acme.io" in link and "status=active" in link
    assert page.count("aria-sort=") == 1
    names = _rows(page)
    assert names == sorted(names)  # seeded names sort as their emails do
    descending = _page(admin_client, link)
    assert 'aria-sort="descending" data-testid="col-name"' in descending
    assert _rows(descending) == names[::-1]
    # The other columns start with their natural direction, filters kept.
    activity = re.search(r'data-testid="col-activity"><a class="sort-link" href="([^"]+)"', page)
    assert activity and "sort=activity_desc" in activity.group(1)
    by_type = _page(admin_client, "/admin/users?sort=type_asc")
    types = re.findall(r'data-testid="type-badge">(\w+)', by_type)
    order = ("Admin", "Member", "Viewer", "Guest")
    assert types == sorted(types, key=order.index)


def test_rows_show_type_menu_greyed_inactive_and_email_for_no_name(
        admin_client: FlaskClient, ui_app: Flask, seeded: Seeded) -> None:
    with db_session(ui_app) as session:
        user = add_user(session, seeded.account_id, "noname@acme.io", "Temp Name",
                        with_password=False)
        user.display_name = user.display_name_key = None
        session.commit()
    page = _page(admin_client, "/admin/users")
    erin = re.search(r'<tr [^>]*data-testid="row-erin@acme.io"[^>]*>', page)
    assert erin and 'class="status-inactive"' in erin.group(0)
    nameless = page[page.index('data-testid="row-noname@acme.io"'):]
    assert '<div class="name">noname@acme.io</div>' in nameless[:1500]
    # The type badge opens a menu of the types, each a button of a form: no script needed.
    bob = seeded.users["bob@acme.io"]
    row = page[page.index('data-testid="row-bob@acme.io"'):]
    assert f'action="/admin/users/{bob}/type"' in row[:3000]
    assert 'data-testid="set-type-Viewer"' in row[:3000]
    done = _post(admin_client, f"/admin/users/{bob}/type", {"user_type": "Viewer",
                                                            "next": "/admin/users"})
    assert done.status_code == 302 and stored_user(ui_app, bob).user_type == "Viewer"


def test_select_all_takes_the_first_200_of_the_filter_across_pages(
        admin_client: FlaskClient, ui_app: Flask, seeded: Seeded) -> None:
    _add_many(ui_app, seeded, 205)
    page = _page(admin_client, "/admin/users?type=Viewer&sort=name_asc")
    # 206 Viewers (carol too) are listed 50 to a page; the bar offers the first 200.
    assert "1–50 of 206" in page
    assert "The first 200 users of this list (206 match; at most 200)" in page
    review = _post(admin_client, "/admin/users/bulk", {
        "scope": "filter", "filter_type": "Viewer", "filter_sort": "name_asc",
        "status": "inactive", "next": "/admin/users?type=Viewer&sort=name_asc"})
    text = review.get_data(as_text=True)
    assert review.status_code == 200
    assert "The first 200 users of the list&#39;s filter are selected (206 users match it" in text
    assert "200 will change" in text
    # The review names exactly those users, in the list's order, and applies only them.
    ids = re.findall(r'name="user_id" value="([^"]+)"', text)
    with db_session(ui_app) as session:
        expected = list(session.scalars(
            select(User.id).where(User.account_id == seeded.account_id,
                                  User.user_type == "Viewer")
            .order_by(User.display_name_key, User.id).limit(200)))
        assert ids == expected
        assert session.scalar(select(func.count()).select_from(User).where(
            User.user_type == "Viewer", User.status == "inactive")) == 0
    applied = _post(admin_client, "/admin/users/bulk", {
        "user_id": ids, "status": "inactive", "confirm": "yes", "next": "/admin/users"})
    assert applied.status_code == 200
    with db_session(ui_app) as session:
        assert session.scalar(select(func.count()).select_from(User).where(
            User.user_type == "Viewer", User.status == "inactive")) == 200


def test_select_all_leaves_the_acting_admin_out(admin_client: FlaskClient, ui_app: Flask,
                                                seeded: Seeded) -> None:
    page = _page(admin_client, "/admin/users")
    # Seven users, the signed-in admin among them: six can be selected.
    assert "The first 6 users of this list (7 match; at most 200)" in page
    review = _post(admin_client, "/admin/users/bulk", {
        "scope": "filter", "user_type": "Member", "next": "/admin/users"})
    ids = re.findall(r'name="user_id" value="([^"]+)"', review.get_data(as_text=True))
    assert len(ids) == 6 and seeded.admin_id not in ids


def test_the_profile_message_names_the_user(admin_client: FlaskClient, seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    done = _post(admin_client, f"/admin/users/{bob}/profile",
                 {"display_name": "Bob Stone", "title": "Lead", "next": "/admin/users?q=bob"})
    assert done.status_code == 302
    assert "The profile of Bob Stone (bob@acme.io) was saved." in _page(
        admin_client, "/admin/users?q=bob")


def test_bad_paging_values_get_the_first_page_not_an_error(admin_client: FlaskClient) -> None:
    for query in ("before=%25%25%25&start=abc", "start=-40&per=zz", "sort=%3Cscript%3E",
                  "cursor=eyJ4Ijo5fQ&start=99999999999999999999"):
        response = admin_client.get(f"/admin/users?{query}")
        assert response.status_code == 200, query
        body = response.get_data(as_text=True)
        assert "1–7 of 7" in body, query
        assert "<script>" not in body
    assert "cursor" in admin_client.get("/admin/users?before=%25%25%25").get_data(as_text=True)
