"""The Groups pages of issue 14: delete confirmed first (without JavaScript), search, paging
of a large group's members, a member added by searching a name or an email, and the mark on
groups an identity provider manages."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from scim_server.domain import groups as group_service
from scim_server.domain.actors import Actor
from scim_server.storage.domain_tables import AuditEntry, Event
from scim_server.storage.models import Account, Group, GroupMember
from tests.ui.conftest import Seeded, add_user, csrf_of, db_session

UI = Actor(door="ui", user_id=None)




def _post(client: FlaskClient, path: str, data: dict | None = None):
    token = getattr(client, "_ui_csrf", None) or csrf_of(client, "/admin/groups")
    client._ui_csrf = token  # type: ignore[attr-defined]
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _group(app: Flask, seeded: Seeded, name: str, members: list[str] = (), *,
           actor: Actor = UI) -> str:
    with db_session(app) as session:
        account = session.get(Account, seeded.account_id)
        gid = group_service.create_group(session, account, name, actor=actor)
        if members:
            group_service.add_members(session, account, gid, list(members), actor=actor)
        session.commit()
        return gid


def test_delete_is_confirmed_with_the_name_and_member_count(admin_client: FlaskClient,
                                                           ui_app: Flask, seeded: Seeded):
    gid = _group(ui_app, seeded, "Night shift", [seeded.users["alice@acme.io"],
                                                  seeded.users["bob@acme.io"]])
    listing = admin_client.get("/admin/groups").get_data(as_text=True)
    # The list links to the confirmation; it holds no form that deletes at once.
    assert f'href="/admin/groups/{gid}/delete"' in listing
    assert f'action="/admin/groups/{gid}/delete"' not in listing
    confirm = admin_client.get(f"/admin/groups/{gid}/delete").get_data(as_text=True)
    assert "Delete Night shift" in confirm
    assert "The group Night shift will be deleted. Members: 2;" in confirm
    assert 'method="post"' in confirm and 'data-testid="delete-submit"' in confirm
    with db_session(ui_app) as session:
        assert session.get(Group, gid) is not None  # nothing happened yet

    done = _post(admin_client, f"/admin/groups/{gid}/delete")
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/groups")
    assert "Group Night shift was deleted." in admin_client.get("/admin/groups").get_data(
        as_text=True)
    with db_session(ui_app) as session:
        assert session.get(Group, gid) is None
        assert session.scalars(select(GroupMember).where(GroupMember.group_id == gid)).all() == []
        audit = session.scalars(select(AuditEntry).where(
            AuditEntry.target_id == gid, AuditEntry.action == "group.delete")).one()
        assert audit.door == "ui" and audit.before == {"members": 2}
        assert session.scalar(select(Event.event_type).where(
            Event.resource_id == gid).order_by(Event.position.desc()).limit(1)).endswith(":delete")
    assert admin_client.get(f"/admin/groups/{gid}/delete").status_code == 404


def test_delete_confirmation_in_french(admin_client: FlaskClient, ui_app: Flask,
                                       seeded: Seeded):
    gid = _group(ui_app, seeded, "Nuit")
    admin_client.set_cookie("admin_lang", "fr")
    page = admin_client.get(f"/admin/groups/{gid}/delete").get_data(as_text=True)
    assert "Supprimer Nuit" in page and "Le groupe Nuit sera supprimé." in page
    assert "Supprimer le groupe" in page


def test_another_accounts_group_cannot_be_deleted(ui_app: Flask, seeded: Seeded):
    from tests.ui.conftest import sign_in

    gid = _group(ui_app, seeded, "Private")
    other = ui_app.test_client()
    sign_in(other, seeded.other_admin_email)
    assert other.get(f"/admin/groups/{gid}/delete").status_code == 404
    assert _post(other, f"/admin/groups/{gid}/delete").status_code == 404
    with db_session(ui_app) as session:
        assert session.get(Group, gid) is not None


def test_search_and_paging_of_groups(admin_client: FlaskClient, ui_app: Flask, seeded: Seeded):
    for name in ("Sales EMEA", "Sales US", "Support", "100% remote"):
        _group(ui_app, seeded, name)
    page = admin_client.get("/admin/groups?q=sales").get_data(as_text=True)
    assert "Sales EMEA" in page and "Sales US" in page and "Support" not in page
    assert "1–2 of 2" in page
    assert "100% remote" in admin_client.get("/admin/groups?q=%25").get_data(as_text=True)
    none = admin_client.get("/admin/groups?q=nothing").get_data(as_text=True)
    assert "No group matches this search." in none


def test_a_large_groups_members_are_paged(admin_client: FlaskClient, ui_app: Flask,
                                         seeded: Seeded):
    with db_session(ui_app) as session:
        ids = [add_user(session, seeded.account_id, f"p{i:03d}@acme.io", f"Person {i:03d}").id
               for i in range(120)]
        session.commit()
    gid = _group(ui_app, seeded, "Everyone", ids)
    first = admin_client.get(f"/admin/groups/{gid}").get_data(as_text=True)
    assert "1–50 of 120" in first and "Person 000" in first and "Person 050" not in first
    nxt = re.search(r'href="([^"]*offset=50[^"]*)"', first)
    assert nxt is not None
    second = admin_client.get(nxt.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "51–100 of 120" in second and "Person 050" in second and "Person 000" not in second
    last = admin_client.get(f"/admin/groups/{gid}?offset=100").get_data(as_text=True)
    assert "101–120 of 120" in last and "Person 119" in last and "Next page" not in last
    found = admin_client.get(f"/admin/groups/{gid}?q=person+07").get_data(as_text=True)
    assert "1–10 of 10" in found and "Person 070" in found and "Person 000" not in found


def test_add_a_member_by_searching_a_name_or_an_email(admin_client: FlaskClient,
                                                     ui_app: Flask, seeded: Seeded):
    alice, bob = seeded.users["alice@acme.io"], seeded.users["bob@acme.io"]
    gid = _group(ui_app, seeded, "Team", [bob])
    by_name = admin_client.get(f"/admin/groups/{gid}?find=stone").get_data(as_text=True)
    assert "Bob Stone" in by_name and "Already a member" in by_name
    by_email = admin_client.get(f"/admin/groups/{gid}?find=alice%40acme").get_data(as_text=True)
    assert "Alice Martin" in by_email
    assert f'name="user_id" value="{alice}"' in by_email
    # Another account's users are never candidates.
    assert "Zed Other" not in admin_client.get(f"/admin/groups/{gid}?find=zed").get_data(
        as_text=True)

    added = _post(admin_client, f"/admin/groups/{gid}/members", {"user_id": alice})
    assert added.status_code == 302
    page = admin_client.get(f"/admin/groups/{gid}").get_data(as_text=True)
    assert "Alice Martin was added to Team." in page
    with db_session(ui_app) as session:
        assert set(session.scalars(select(GroupMember.member_id).where(
            GroupMember.group_id == gid))) == {alice, bob}
    # Adding someone already in changes nothing and logs nothing.
    with db_session(ui_app) as session:
        audited = session.query(AuditEntry).filter(AuditEntry.target_id == gid).count()
    _post(admin_client, f"/admin/groups/{gid}/members", {"user_id": alice})
    assert "Alice Martin is already a member of Team." in admin_client.get(
        f"/admin/groups/{gid}").get_data(as_text=True)
    with db_session(ui_app) as session:
        assert session.query(AuditEntry).filter(AuditEntry.target_id == gid).count() == audited
    # An id of another account is refused like an unknown one.
    _post(admin_client, f"/admin/groups/{gid}/members",
          {"user_id": seeded.other_users["zed@globex.io"]})
    assert "No such user." in admin_client.get(f"/admin/groups/{gid}").get_data(as_text=True)
    with db_session(ui_app) as session:
        assert session.query(GroupMember).filter(GroupMember.group_id == gid).count() == 2


def test_groups_an_identity_provider_manages_are_marked(admin_client: FlaskClient,
                                                       ui_app: Flask, seeded: Seeded):
    pushed = _group(ui_app, seeded, "From Okta", actor=Actor(door="scim"))
    here = _group(ui_app, seeded, "Made here")
    listing = admin_client.get("/admin/groups").get_data(as_text=True)
    rows = {name: row for row in listing.split("<tr>")
            for name in ("From Okta", "Made here") if name in row}
    assert "Managed by an identity provider" in rows["From Okta"]
    assert "Managed by an identity provider" not in rows["Made here"]
    page = admin_client.get(f"/admin/groups/{pushed}").get_data(as_text=True)
    assert "changes here will be overwritten by the next push" in page
    assert "overwritten" not in admin_client.get(f"/admin/groups/{here}").get_data(as_text=True)
    admin_client.set_cookie("admin_lang", "fr")
    fr = admin_client.get(f"/admin/groups/{pushed}").get_data(as_text=True)
    assert "seront écrasées au prochain envoi" in fr


def test_removing_a_member_warns_of_the_next_push_only_for_a_managed_group(
        admin_client: FlaskClient, ui_app: Flask, seeded: Seeded):
    alice = seeded.users["alice@acme.io"]
    here = _group(ui_app, seeded, "Made here", [alice])
    pushed = _group(ui_app, seeded, "Pushed", [alice], actor=Actor(door="scim", user_id=None))
    for gid, managed in ((here, False), (pushed, True)):
        page = admin_client.get(f"/admin/groups/{gid}/members/{alice}/remove").get_data(
            as_text=True)
        assert "will no longer be a member of" in page
        assert ("its next push may add them back" in page) is managed, gid
