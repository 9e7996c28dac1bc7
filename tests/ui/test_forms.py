"""The admin UI through Flask's test client: sign-in guards (CSRF, rate limit, Admins only),
account isolation, and refusals shown with the domain's rule sentence."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from scim_server.storage.domain_tables import AuditEntry, EmailChange
from scim_server.storage.models import Account, Credential, Group, GroupMember, User
from tests.conftest import Mailbox
from tests.domain.factories import make_resource
from tests.ui.conftest import (
    PASSWORD,
    Seeded,
    add_user,
    csrf_of,
    db_session,
    make_app,
    seed,
    sign_in,
    stored_user,
)


def _post(client: FlaskClient, path: str, data: dict | None = None, *, page: str = "/admin/users"):
    # The token lasts as long as the session: read it once, so that reading it does not show
    # (and so consume) the messages a previous post left for the next page.
    token = getattr(client, "_ui_csrf", None) or csrf_of(client, page)
    client._ui_csrf = token  # type: ignore[attr-defined]
    return client.post(path, data={"csrf_token": token, **(data or {})})


# --- sign-in -----------------------------------------------------------------------------------

def test_sign_in_lands_on_the_hub_and_records_activity(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    response = sign_in(client, seeded.admin_email)
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/")
    hub = client.get("/admin/")
    assert hub.status_code == 200
    assert "View all operators" in hub.get_data(as_text=True)
    assert stored_user(ui_app, seeded.admin_id).last_activity_at is not None


def test_pages_need_a_signed_in_admin(ui_app: Flask, seeded: Seeded) -> None:
    response = ui_app.test_client().get("/admin/users")
    assert response.status_code == 302
    assert "/admin/login" in response.headers["Location"]


def test_login_without_csrf_token_is_refused(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    client.get("/admin/login")
    response = client.post("/admin/login", data={"email": seeded.admin_email,
                                                 "password": PASSWORD})
    assert response.status_code == 400
    assert "The form expired" in response.get_data(as_text=True)
    assert client.get("/admin/").status_code == 302  # still signed out


def test_action_with_a_forged_csrf_token_changes_nothing(admin_client: FlaskClient,
                                                         ui_app: Flask, seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    response = admin_client.post(f"/admin/users/{bob}/deactivate",
                                 data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert stored_user(ui_app, bob).status == "active"


def test_csrf_token_of_another_session_is_refused(ui_app: Flask, seeded: Seeded,
                                                  admin_client: FlaskClient) -> None:
    attacker = ui_app.test_client()
    foreign = csrf_of(attacker)
    bob = seeded.users["bob@acme.io"]
    response = admin_client.post(f"/admin/users/{bob}/deactivate", data={"csrf_token": foreign})
    assert response.status_code == 400
    assert stored_user(ui_app, bob).status == "active"


def test_sign_in_attempts_are_rate_limited_per_ip_and_email(sqlite_url: str) -> None:
    # A low limit keeps the test short: each attempt costs an argon2 verification.
    app = make_app(sqlite_url, login_rate_limit=3)
    seeded = seed(app)
    client = app.test_client()
    for _ in range(3):
        assert sign_in(client, seeded.admin_email, "wrong password").status_code == 401
    blocked = sign_in(client, seeded.admin_email, PASSWORD)
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    # Another email from the same address is a different key: not blocked.
    assert sign_in(client, seeded.other_admin_email, PASSWORD).status_code == 302


@pytest.mark.parametrize("email", ["alice@acme.io", "erin@acme.io"])
def test_only_active_admins_get_in(ui_app: Flask, seeded: Seeded, email: str) -> None:
    # alice is a Member with a password, erin an inactive Member: neither is an active Admin.
    response = sign_in(ui_app.test_client(), email)
    assert response.status_code == 401
    assert "not an active Admin" in response.get_data(as_text=True)


def test_demoted_admin_is_signed_out_at_the_next_request(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    assert sign_in(client, "frank@acme.io").status_code == 302
    with db_session(ui_app) as session:
        session.get(User, seeded.users["frank@acme.io"]).user_type = "Member"
        session.commit()
    assert client.get("/admin/users").status_code == 302


def test_empty_sign_in_form_gets_a_message(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    response = client.post("/admin/login", data={"csrf_token": csrf_of(client), "email": ""})
    assert response.status_code == 400
    assert "Enter your email and password." in response.get_data(as_text=True)


# --- isolation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("POST", "/admin/users/{id}/deactivate"),
    ("POST", "/admin/users/{id}/type"),
    ("GET", "/admin/users/{id}/delete"),
    ("POST", "/admin/users/{id}/delete"),
    ("GET", "/admin/users/{id}/email"),
    ("GET", "/admin/users/{id}/profile"),
])
def test_admin_of_another_account_gets_404(ui_app: Flask, seeded: Seeded, method: str,
                                           path: str) -> None:
    client = ui_app.test_client()
    assert sign_in(client, seeded.other_admin_email).status_code == 302
    url = path.format(id=seeded.users["alice@acme.io"])
    if method == "GET":
        response = client.get(url)
    else:
        response = _post(client, url, {"user_type": "Viewer", "confirm": "yes"})
    assert response.status_code == 404
    assert "Not found in this account." in response.get_data(as_text=True)
    alice = stored_user(ui_app, seeded.users["alice@acme.io"])
    assert (alice.status, alice.user_type) == ("active", "Member")


def test_user_list_shows_only_the_admins_account(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    sign_in(client, seeded.other_admin_email)
    body = client.get("/admin/users").get_data(as_text=True)
    assert "zed@globex.io" in body and "alice@acme.io" not in body


def test_bulk_change_skips_users_of_another_account(ui_app: Flask, seeded: Seeded) -> None:
    client = ui_app.test_client()
    sign_in(client, seeded.other_admin_email)
    alice = seeded.users["alice@acme.io"]
    response = _post(client, "/admin/users/bulk", {"user_id": [alice], "status": "inactive"})
    assert response.status_code == 200
    assert "user.not_found" in response.get_data(as_text=True)
    assert stored_user(ui_app, alice).status == "active"


# --- refusals show the rule sentence where the admin acted ------------------------------------

def test_deactivating_the_admin_holding_a_scim_token_shows_the_rule(
        admin_client: FlaskClient, ui_app: Flask, seeded: Seeded) -> None:
    response = _post(admin_client, f"/admin/users/{seeded.admin_id}/deactivate",
                     {"next": "/admin/users?q=admin"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/users?q=admin")
    body = admin_client.get("/admin/users?q=admin").get_data(as_text=True)
    row = body[body.index(f'data-user-id="{seeded.admin_id}"'):]
    row = row[: row.index("</tr>")]
    assert "admin.holds_scim_tokens" in row
    assert "revoke or reassign it first" in row
    assert stored_user(ui_app, seeded.admin_id).status == "active"


def test_deleting_an_active_user_is_refused_on_the_form(admin_client: FlaskClient,
                                                        ui_app: Flask, seeded: Seeded) -> None:
    alice = seeded.users["alice@acme.io"]
    response = _post(admin_client, f"/admin/users/{alice}/delete", {"confirm": "yes"})
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "delete.requires_inactive" in body and "deactivate the user before deleting" in body
    assert stored_user(ui_app, alice).status == "active"


def test_delete_without_confirmation_gets_a_message(admin_client: FlaskClient,
                                                     ui_app: Flask, seeded: Seeded) -> None:
    erin = seeded.users["erin@acme.io"]
    response = _post(admin_client, f"/admin/users/{erin}/delete", {"display_name": "X"})
    assert response.status_code == 400
    assert "Tick the box" in response.get_data(as_text=True)
    assert stored_user(ui_app, erin).status == "inactive"


def test_delete_keeps_the_chosen_name(admin_client: FlaskClient, ui_app: Flask,
                                      seeded: Seeded) -> None:
    erin = seeded.users["erin@acme.io"]
    response = _post(admin_client, f"/admin/users/{erin}/delete",
                     {"confirm": "yes", "display_name": "Former intern"})
    assert response.status_code == 302
    user = stored_user(ui_app, erin)
    assert (user.status, user.display_name, user.email) == ("deleted", "Former intern", None)


def test_unknown_type_is_refused_with_the_domain_rule(admin_client: FlaskClient,
                                                      seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    _post(admin_client, f"/admin/users/{bob}/type", {"user_type": "Boss"})
    body = admin_client.get("/admin/users").get_data(as_text=True)
    assert "user_type.invalid" in body


def test_guest_of_the_accounts_own_domain_is_refused(admin_client: FlaskClient,
                                                     ui_app: Flask, seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    _post(admin_client, f"/admin/users/{bob}/type", {"user_type": "Guest"})
    assert "guest.same_domain" in admin_client.get("/admin/users").get_data(as_text=True)
    assert stored_user(ui_app, bob).user_type == "Member"


def test_email_change_starts_the_confirmation_flow(admin_client: FlaskClient, ui_app: Flask,
                                                   seeded: Seeded, mailbox: Mailbox) -> None:
    bob = seeded.users["bob@acme.io"]
    response = _post(admin_client, f"/admin/users/{bob}/email", {"email": "robert@acme.io"})
    assert response.status_code == 302
    assert stored_user(ui_app, bob).email == "bob@acme.io"  # unchanged until confirmed
    with db_session(ui_app) as session:
        change = session.scalar(select(EmailChange).where(EmailChange.user_id == bob))
    assert change is not None and change.new_email == "robert@acme.io"
    link = mailbox.link("robert@acme.io")
    assert link.startswith("/admin/email-confirmation/")
    confirm = ui_app.test_client()
    token = csrf_of(confirm, link)
    assert confirm.post(link, data={"csrf_token": token}).status_code == 200
    assert stored_user(ui_app, bob).email == "robert@acme.io"


def test_bad_email_gets_a_message(admin_client: FlaskClient, seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    response = _post(admin_client, f"/admin/users/{bob}/email", {"email": "not an email"})
    assert response.status_code == 400
    assert "Enter a valid email address." in response.get_data(as_text=True)


def test_profile_edit_and_too_long_field(admin_client: FlaskClient, ui_app: Flask,
                                         seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    ok = _post(admin_client, f"/admin/users/{bob}/profile",
               {"display_name": "Bobby Stone", "title": "Engineer", "notify_email": "on"})
    assert ok.status_code == 302
    assert stored_user(ui_app, bob).display_name == "Bobby Stone"
    too_long = _post(admin_client, f"/admin/users/{bob}/profile", {"title": "x" * 401})
    assert too_long.status_code == 400
    assert "too long" in too_long.get_data(as_text=True)


def test_a_bulk_change_is_reviewed_before_it_applies(admin_client: FlaskClient, ui_app: Flask,
                                                     seeded: Seeded) -> None:
    alice, carol = seeded.users["alice@acme.io"], seeded.users["carol@acme.io"]
    # Alice (a Member) becomes an Admin; Carol (a Viewer) cannot become paying in bulk.
    review = _post(admin_client, "/admin/users/bulk", {"user_id": [alice, carol],
                                                       "user_type": "Admin"})
    text = review.get_data(as_text=True)
    assert review.status_code == 200 and "1 will change" in text and "1 will be skipped" in text
    assert "bulk.nonpaying_to_paying" in text
    assert stored_user(ui_app, carol).user_type == "Viewer"  # nothing changed yet
    with db_session(ui_app) as session:
        audited = session.scalar(select(func.count()).select_from(AuditEntry))
    applied = _post(admin_client, "/admin/users/bulk", {"user_id": [alice, carol],
                                                        "user_type": "Admin", "confirm": "yes"})
    assert "1 changed" in applied.get_data(as_text=True)
    with db_session(ui_app) as session:
        # The review wrote nothing; the change wrote its audit.
        assert session.scalar(select(func.count()).select_from(AuditEntry)) > audited


def test_deactivating_a_user_first_says_what_stops(admin_client: FlaskClient, ui_app: Flask,
                                                   seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    with db_session(ui_app) as session:
        account = session.get(Account, seeded.account_id)
        owner = session.get(User, bob)
        make_resource(session, account, "automation", owner)
        make_resource(session, account, "board", owner)
        session.commit()
    listing = admin_client.get("/admin/users").get_data(as_text=True)
    assert f'action="/admin/users/{bob}/deactivate"' not in listing
    page = admin_client.get(f"/admin/users/{bob}/deactivate?next=/admin/users")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Bob Stone" in text and "bob@acme.io" in text
    assert "will be disabled: 1" in text and "(no other active owner): 2" in text
    assert stored_user(ui_app, bob).status == "active"
    done = _post(admin_client, f"/admin/users/{bob}/deactivate", {"next": "/admin/users"})
    assert done.status_code == 302 and stored_user(ui_app, bob).status == "inactive"
    assert admin_client.get("/admin/users/nope/deactivate").status_code == 404


def test_messages_tell_two_users_of_one_name_apart(admin_client: FlaskClient, ui_app: Flask,
                                                   seeded: Seeded) -> None:
    with db_session(ui_app) as session:
        first = add_user(session, seeded.account_id, "ahmed@acme.io", "Ahmed Dupont").id
        add_user(session, seeded.account_id, "ahmed.d@acme.io", "Ahmed Dupont")
        session.commit()
    _post(admin_client, f"/admin/users/{first}/deactivate")
    assert "Ahmed Dupont (ahmed@acme.io) was deactivated." in admin_client.get(
        "/admin/users").get_data(as_text=True)


def test_bulk_without_selection_or_change_gets_a_message(admin_client: FlaskClient,
                                                         seeded: Seeded) -> None:
    _post(admin_client, "/admin/users/bulk", {"status": "inactive"})
    assert "Select at least one user." in admin_client.get("/admin/users").get_data(as_text=True)
    _post(admin_client, "/admin/users/bulk", {"user_id": [seeded.users["bob@acme.io"]]})
    assert "Choose a type or a status" in admin_client.get("/admin/users").get_data(as_text=True)


def test_bulk_including_oneself_is_refused_whole(admin_client: FlaskClient, ui_app: Flask,
                                                 seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    _post(admin_client, "/admin/users/bulk", {"user_id": [bob, seeded.admin_id],
                                              "status": "inactive"})
    assert "bulk.self" in admin_client.get("/admin/users").get_data(as_text=True)
    assert stored_user(ui_app, bob).status == "active"


def test_bulk_over_200_users_is_refused(admin_client: FlaskClient, seeded: Seeded) -> None:
    ids = [f"{i:032x}" for i in range(201)]
    _post(admin_client, "/admin/users/bulk", {"user_id": ids, "status": "inactive"})
    assert "bulk.too_many" in admin_client.get("/admin/users").get_data(as_text=True)


def test_bad_filters_and_cursor_get_messages_not_errors(admin_client: FlaskClient) -> None:
    response = admin_client.get("/admin/users?type=Boss&status=gone&cursor=%%%&per=7")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "(Boss)" in body and "(gone)" in body and "cursor" in body


# --- invitations, groups, tokens, resources, audit --------------------------------------------

def test_invite_creates_a_pending_user(admin_client: FlaskClient, ui_app: Flask,
                                       mailbox: Mailbox) -> None:
    response = _post(admin_client, "/admin/users/invite",
                     {"email": "new@acme.io", "user_type": "Viewer"}, page="/admin/users/invite")
    assert response.status_code == 302
    with db_session(ui_app) as session:
        user = session.scalar(select(User).where(User.email == "new@acme.io"))
    assert user is not None and user.status == "pending"
    link = mailbox.link("new@acme.io")
    assert link.startswith("/admin/invitation/")
    invitee = ui_app.test_client()
    accepted = invitee.post(link, data={"csrf_token": csrf_of(invitee, link)})
    assert accepted.status_code == 200 and "the invitation is accepted" in accepted.get_data(
        as_text=True)
    assert stored_user(ui_app, user.id).status == "active"
    denied = _post(admin_client, "/admin/users/invite",
                   {"email": "x@blocked.io", "user_type": "Guest"}, page="/admin/users/invite")
    assert denied.status_code == 403
    assert "guest.domain_not_allowed" in denied.get_data(as_text=True)


def test_groups_create_rename_members_and_duplicate(admin_client: FlaskClient, ui_app: Flask,
                                                    seeded: Seeded) -> None:
    assert _post(admin_client, "/admin/groups", {"display_name": "Night shift"},
                 page="/admin/groups").status_code == 302
    assert _post(admin_client, "/admin/groups", {"display_name": "night shift"},
                 page="/admin/groups").status_code == 302
    body = admin_client.get("/admin/groups").get_data(as_text=True)
    assert "A group named night shift already exists." in body
    assert "No member" in body  # the empty group is listed
    _post(admin_client, "/admin/groups", {"display_name": ""}, page="/admin/groups")
    assert "Enter a group name." in admin_client.get("/admin/groups").get_data(as_text=True)
    with db_session(ui_app) as session:
        group = session.scalar(select(Group).where(Group.account_id == seeded.account_id))
    _post(admin_client, f"/admin/groups/{group.id}/members", {"email": "alice@acme.io"},
          page="/admin/groups")
    # Renaming after adding: the members must stay.
    _post(admin_client, f"/admin/groups/{group.id}/rename", {"display_name": "Night crew"},
          page="/admin/groups")
    with db_session(ui_app) as session:
        assert session.get(Group, group.id).display_name == "Night crew"
        members = session.scalars(select(GroupMember.member_id)
                                  .where(GroupMember.group_id == group.id)).all()
    assert members == [seeded.users["alice@acme.io"]]
    other = ui_app.test_client()
    sign_in(other, seeded.other_admin_email)
    assert other.get(f"/admin/groups/{group.id}").status_code == 404

    # Removing a member is confirmed first, and the message names who left which group.
    alice = seeded.users["alice@acme.io"]
    page = admin_client.get(f"/admin/groups/{group.id}").get_data(as_text=True)
    assert f'action="/admin/groups/{group.id}/members/{alice}/remove"' not in page
    confirm = admin_client.get(f"/admin/groups/{group.id}/members/{alice}/remove")
    assert confirm.status_code == 200 and "Night crew" in confirm.get_data(as_text=True)
    with db_session(ui_app) as session:
        assert session.scalar(select(func.count()).select_from(GroupMember)
                              .where(GroupMember.group_id == group.id)) == 1
    _post(admin_client, f"/admin/groups/{group.id}/members/{alice}/remove", page="/admin/groups")
    assert "was removed from Night crew." in admin_client.get(
        f"/admin/groups/{group.id}").get_data(as_text=True)
    with db_session(ui_app) as session:
        assert session.scalar(select(func.count()).select_from(GroupMember)
                              .where(GroupMember.group_id == group.id)) == 0
    assert admin_client.get(f"/admin/groups/{group.id}/members/{alice}/remove").status_code == 404


def test_revoking_a_token_first_says_what_it_will_stop(admin_client: FlaskClient,
                                                        ui_app: Flask, seeded: Seeded) -> None:
    _post(admin_client, "/admin/api-users/tokens",
          {"email": seeded.admin_email, "kind": "scim", "name": "okta-prod"},
          page="/admin/api-users")
    with db_session(ui_app) as session:
        cred = session.scalar(select(Credential).where(Credential.name == "okta-prod"))
    listing = admin_client.get("/admin/api-users").get_data(as_text=True)
    # The list links to the confirmation; no one-click revoke form.
    assert f'action="/admin/api-users/tokens/{cred.id}/revoke"' not in listing
    assert f"/admin/api-users/tokens/{cred.id}/revoke?kind=scim" in listing
    page = admin_client.get(f"/admin/api-users/tokens/{cred.id}/revoke?kind=scim")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "okta-prod" in text and "provisioning stops" in text
    with db_session(ui_app) as session:
        assert session.get(Credential, cred.id).revoked_at is None  # nothing happened yet
    done = _post(admin_client, f"/admin/api-users/tokens/{cred.id}/revoke", {"kind": "scim"},
                 page="/admin/api-users")
    assert done.status_code == 302
    assert "“okta-prod” was revoked." in admin_client.get("/admin/api-users").get_data(
        as_text=True)
    with db_session(ui_app) as session:
        assert session.get(Credential, cred.id).revoked_at is not None
    assert admin_client.get("/admin/api-users/tokens/nope/revoke").status_code == 404


def test_token_is_shown_once_and_can_be_revoked(admin_client: FlaskClient, ui_app: Flask,
                                                seeded: Seeded) -> None:
    response = _post(admin_client, "/admin/api-users/tokens",
                     {"email": "bob@acme.io", "kind": "api", "name": "ci"},
                     page="/admin/api-users")
    body = response.get_data(as_text=True)
    secret = re.search(r'<code class="secret">([^<]+)</code>', body).group(1)
    assert secret.startswith("sapi_")
    assert secret not in admin_client.get("/admin/api-users").get_data(as_text=True)
    with db_session(ui_app) as session:
        cred = session.scalar(select(Credential).where(Credential.name == "ci"))
    _post(admin_client, f"/admin/api-users/tokens/{cred.id}/revoke", page="/admin/api-users")
    with db_session(ui_app) as session:
        assert session.get(Credential, cred.id).revoked_at is not None
    unknown = _post(admin_client, "/admin/api-users/tokens", {"email": "nobody@acme.io"},
                    page="/admin/api-users")
    assert unknown.status_code == 400 and "No user with that email." in unknown.get_data(
        as_text=True)


def test_claim_without_selection_and_unknown_transfer_get_messages(
        admin_client: FlaskClient) -> None:
    _post(admin_client, "/admin/resources/claim", page="/admin/resources")
    body = admin_client.get("/admin/resources").get_data(as_text=True)
    assert "Select at least one resource." in body
    _post(admin_client, "/admin/resources/transfer",
          {"from_email": "nobody@acme.io", "to_email": "bob@acme.io"}, page="/admin/resources")
    body = admin_client.get("/admin/resources").get_data(as_text=True)
    assert "No user with that email." in body


def test_ui_changes_are_audited_with_the_ui_door(admin_client: FlaskClient, ui_app: Flask,
                                                 seeded: Seeded) -> None:
    bob = seeded.users["bob@acme.io"]
    _post(admin_client, f"/admin/users/{bob}/deactivate")
    with db_session(ui_app) as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.target_id == bob))
    assert entry is not None and entry.door == "ui" and entry.actor_user_id == seeded.admin_id
    body = admin_client.get("/admin/audit?door=ui&user=bob@acme.io").get_data(as_text=True)
    assert "user.deactivate" in body
    scim = admin_client.get("/admin/audit?door=scim").get_data(as_text=True)
    # In the table; the action menu above it lists every action.
    assert "user.deactivate" not in scim[scim.index('data-testid="audit-table"'):]


def test_audit_door_filter_pages_exactly(admin_client: FlaskClient, ui_app: Flask,
                                         seeded: Seeded) -> None:
    from scim_server.domain.actors import Actor
    from scim_server.domain.audit import record_audit
    from scim_server.storage.models import Account

    with db_session(ui_app) as session:
        account = session.get(Account, seeded.account_id)
        # 60 UI entries interleaved with 300 API ones: the UI's 60 span several batches.
        for i in range(360):
            door = "ui" if i % 6 == 0 else "api"
            record_audit(session, account, actor=Actor(door=door), action=f"test.{door}.{i}",
                         target_type="user", target_id=None, before=None, after=None)
        session.commit()
    first = admin_client.get("/admin/audit?door=ui").get_data(as_text=True)
    assert first.count("test.ui.") == 50 and "test.api." not in first
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    second = admin_client.get(older).get_data(as_text=True)
    assert second.count("test.ui.") == 10 and "test.api." not in second
    assert "Older entries" not in second


def test_scim_tokens_are_listed_and_revoking_one_lifts_the_rule(
        admin_client: FlaskClient, ui_app: Flask, seeded: Seeded) -> None:
    frank = seeded.users["frank@acme.io"]
    issued = _post(admin_client, "/admin/api-users/tokens",
                   {"email": "frank@acme.io", "kind": "scim"}, page="/admin/api-users")
    assert "scim_" in issued.get_data(as_text=True)
    assert "SCIM token" in admin_client.get("/admin/api-users").get_data(as_text=True)
    _post(admin_client, f"/admin/users/{frank}/deactivate")
    assert "admin.holds_scim_tokens" in admin_client.get("/admin/users").get_data(as_text=True)
    with db_session(ui_app) as session:
        cred = session.scalar(select(Credential).where(Credential.user_id == frank,
                                                       Credential.kind == "scim"))
    _post(admin_client, f"/admin/api-users/tokens/{cred.id}/revoke", {"kind": "scim"})
    _post(admin_client, f"/admin/users/{frank}/deactivate")
    assert stored_user(ui_app, frank).status == "inactive"


def test_claim_and_transfer_ownership(admin_client: FlaskClient, ui_app: Flask,
                                      seeded: Seeded) -> None:
    from scim_server.domain.actors import Actor
    from scim_server.domain.resources import create_resource, get_resource
    from scim_server.storage.models import Account

    bob, alice, frank = (seeded.users[e] for e in ("bob@acme.io", "alice@acme.io",
                                                   "frank@acme.io"))
    with db_session(ui_app) as session:
        account = session.get(Account, seeded.account_id)
        board = create_resource(session, account, kind="board", name="Roadmap",
                                owner_ids=[bob], actor=Actor(door="api")).resource.id
        monitor = create_resource(session, account, kind="monitor", name="Uptime",
                                  owner_ids=[alice], actor=Actor(door="api")).resource.id
        session.commit()
    _post(admin_client, f"/admin/users/{bob}/deactivate")
    assert "inaccessible" in admin_client.get("/admin/resources").get_data(as_text=True)
    assert _post(admin_client, "/admin/resources/claim", {"resource_id": [board]}).status_code == 302
    assert "1 resource claimed." in admin_client.get("/admin/resources").get_data(as_text=True)
    _post(admin_client, "/admin/resources/transfer",
          {"from_email": "alice@acme.io", "to_email": "frank@acme.io"})
    assert "1 resource moved." in admin_client.get("/admin/resources").get_data(as_text=True)
    with db_session(ui_app) as session:
        account = session.get(Account, seeded.account_id)
        claimed = get_resource(session, account, board)
        moved = get_resource(session, account, monitor)
    assert claimed.owner_ids == [seeded.admin_id] and claimed.resource.accessible
    assert moved.owner_ids == [frank]
    # Transferring to an inactive user is refused with the domain's rule.
    _post(admin_client, "/admin/resources/transfer",
          {"from_email": "frank@acme.io", "to_email": "bob@acme.io"})
    assert "ownership.requires_active" in admin_client.get("/admin/resources").get_data(
        as_text=True)


def test_sign_in_returns_to_the_page_asked_for_and_never_elsewhere(ui_app: Flask,
                                                                   seeded: Seeded) -> None:
    client = ui_app.test_client()
    asked = client.get("/admin/groups")
    assert asked.status_code == 302 and "next=/admin/groups" in asked.headers["Location"]
    token = csrf_of(client)
    back = client.post("/admin/login", data={"csrf_token": token, "email": seeded.admin_email,
                                             "password": PASSWORD, "next": "/admin/groups"})
    assert back.headers["Location"].endswith("/admin/groups")
    other = ui_app.test_client()
    token = csrf_of(other)
    away = other.post("/admin/login", data={"csrf_token": token, "email": seeded.admin_email,
                                            "password": PASSWORD,
                                            "next": "https://evil.example/"})
    assert away.headers["Location"].endswith("/admin/")
