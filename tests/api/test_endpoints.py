"""Each admin API endpoint, through HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

from scim_server.domain.mail import WITHHELD
from scim_server.storage.models import Account
from tests.api.conftest import Api, Seed, add_user
from tests.conftest import Mailbox
from tests.domain.factories import make_resource


def test_list_search_filter_sort_and_page(api: Api, db: Any, seed: Seed):
    for name, t in [("alice", "Member"), ("bob", "Viewer"), ("carol", "Member"), ("dave", "Guest")]:
        add_user(db, seed, name, user_type=t, domain="acme.test" if t != "Guest" else "p.test")
    body = api.get("/users?sort=name&order=asc&limit=2").get_json()
    assert [u["display_name"] for u in body["users"]] == ["Alice", "Bob"]
    page2 = api.get(f"/users?sort=name&order=asc&limit=2&cursor={body['next_cursor']}").get_json()
    assert [u["display_name"] for u in page2["users"]] == ["Boss", "Carol"]
    page3 = api.get(f"/users?sort=name&limit=2&cursor={page2['next_cursor']}").get_json()
    assert [u["display_name"] for u in page3["users"]] == ["Dave"] and page3["next_cursor"] is None
    assert body["prev_cursor"] is None  # the first page
    back = api.get(f"/users?sort=name&limit=2&before={page3['prev_cursor']}").get_json()
    assert [u["display_name"] for u in back["users"]] == ["Boss", "Carol"]
    by_type = api.get("/users?sort=type&limit=10").get_json()["users"]
    assert [u["user_type"] for u in by_type][:1] == ["Admin"]  # Admin, Member, Viewer, Guest
    assert [u["user_type"] for u in by_type][-1] == "Guest"
    assert [u["display_name"] for u in api.get("/users?q=CAR").get_json()["users"]] == ["Carol"]
    assert [u["email"] for u in api.get("/users?q=p.test").get_json()["users"]] == ["dave@p.test"]
    members = api.get("/users?user_type=Member&sort=name&order=desc").get_json()["users"]
    assert [u["display_name"] for u in members] == ["Carol", "Alice"]


def test_sort_by_last_activity_with_no_activity_since(api: Api, db: Any, seed: Seed):
    a = add_user(db, seed, "alice")
    b = add_user(db, seed, "bob")
    c = add_user(db, seed, "carol")  # never active
    assert api.post(f"/users/{a}/activity", json={"at": "2026-02-01T10:00:00+00:00"}).status_code == 200
    assert api.post(f"/users/{b}/activity", json={"at": "2026-03-01T10:00:00Z"}).status_code == 200
    asc = api.get("/users?sort=last_activity&order=asc&limit=1")
    ids, cursor = [u["id"] for u in asc.get_json()["users"]], asc.get_json()["next_cursor"]
    while cursor:
        page = api.get(f"/users?sort=last_activity&order=asc&limit=1&cursor={cursor}").get_json()
        ids += [u["id"] for u in page["users"]]
        cursor = page["next_cursor"]
    # The admin's own token use counts as activity (now), later than February and March.
    assert ids == [c, a, b, seed.admin_id]
    desc = api.get("/users?sort=last_activity&order=desc").get_json()["users"]
    assert [u["id"] for u in desc] == [seed.admin_id, b, a, c]
    assert desc[3]["last_activity_at"] is None
    assert desc[3]["no_activity_since"].startswith("2026-01-01")


def test_get_and_patch_profile(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "alice")
    r = api.patch(f"/users/{uid}", json={"title": "CTO", "locale": "fr-FR", "phone": "+33 1",
                                         "notifications": {"digest": "daily"}})
    assert r.status_code == 200, r.get_json()
    got = api.get(f"/users/{uid}").get_json()
    assert (got["title"], got["locale"], got["phone"]) == ("CTO", "fr-FR", "+33 1")
    assert got["notifications"] == {"digest": "daily"}


def test_invite_outbox_and_accept(api: Api, app: Any, seed: Seed, mailbox: Mailbox):
    r = api.post("/users/invite", json={"email": "new@acme.test", "display_name": "Newbie"})
    assert r.status_code == 201 and r.get_json()["status"] == "pending"
    mail = api.get("/outbox").get_json()["messages"][-1]
    assert mail["to"] == "new@acme.test"
    token = mailbox.token("new@acme.test")
    assert token not in mail["body"] and WITHHELD in mail["body"]
    anon = app.test_client()
    r = anon.post("/api/v1/invitations/accept", json={"token": token})
    assert r.status_code == 200 and r.get_json()["status"] == "active"
    assert anon.post("/api/v1/invitations/accept", json={"token": token}).status_code == 404


def test_deactivate_activate_delete(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "alice")
    assert api.post(f"/users/{uid}/deactivate").get_json()["status"] == "inactive"
    assert api.post(f"/users/{uid}/activate").get_json()["status"] == "active"
    api.post(f"/users/{uid}/deactivate")
    r = api.delete(f"/users/{uid}?display_name=Former%20colleague")
    assert r.status_code == 204
    assert api.get(f"/users/{uid}").status_code == 404
    audit = api.get("/audit?action=user.delete").get_json()["entries"]
    assert audit[0]["target_id"] == uid and audit[0]["door"] == "api"


def test_change_type(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "alice", user_type="Viewer")
    r = api.post(f"/users/{uid}/type", json={"user_type": "Member"})
    assert r.status_code == 200 and r.get_json()["user_type"] == "Member"


def test_email_change_and_confirm(api: Api, app: Any, db: Any, seed: Seed, mailbox: Mailbox):
    uid = add_user(db, seed, "alice")
    r = api.post(f"/users/{uid}/email-change", json={"email": "alice2@acme.test"})
    assert r.status_code == 202
    assert api.get(f"/users/{uid}").get_json()["email"] == "alice@acme.test"
    token = mailbox.token("alice2@acme.test")
    r = app.test_client().post("/api/v1/email-changes/confirm", json={"token": token})
    assert r.status_code == 200, r.get_json()
    assert api.get(f"/users/{uid}").get_json()["email"] == "alice2@acme.test"


def test_email_change_expired_changes_nothing(api: Api, app: Any, db: Any, seed: Seed,
                                              mailbox: Mailbox):
    from scim_server.storage.domain_tables import EmailChange

    uid = add_user(db, seed, "alice")
    api.post(f"/users/{uid}/email-change", json={"email": "alice2@acme.test"})
    token = mailbox.token("alice2@acme.test")
    change = db.query(EmailChange).one()
    change.expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    db.commit()
    r = app.test_client().post("/api/v1/email-changes/confirm", json={"token": token})
    assert r.status_code == 409 and r.get_json()["rule"] == "email.confirmation_required"
    assert api.get(f"/users/{uid}").get_json()["email"] == "alice@acme.test"


def test_bulk_change_reports_per_user(api: Api, db: Any, seed: Seed):
    a = add_user(db, seed, "alice", user_type="Viewer")
    b = add_user(db, seed, "bob", user_type="Member")
    r = api.post("/users/bulk", json={"user_ids": [a, b], "user_type": "Admin"})
    assert r.status_code == 200
    assert r.get_json() == {"applied": [b], "skipped": [
        {"user_id": a, "rule": "bulk.nonpaying_to_paying", "detail": r.get_json()["skipped"][0]["detail"]}]}


def test_resources_transfer_claim_enable(api: Api, db: Any, seed: Seed):
    a = add_user(db, seed, "alice")
    b = add_user(db, seed, "bob")
    r = api.post("/resources", json={"kind": "automation", "name": "nightly", "owner_ids": [a],
                                     "production": True})
    assert r.status_code == 201
    res_id = r.get_json()["id"]
    board = api.post("/resources", json={"kind": "board", "name": "b", "owner_ids": [a]}).get_json()
    api.post(f"/users/{a}/deactivate")
    got = api.get(f"/resources/{res_id}").get_json()
    assert (got["enabled"], got["accessible"]) == (False, False)
    r = api.post(f"/users/{a}/transfer", json={"to_user_id": b, "resource_ids": [res_id]})
    assert r.get_json() == {"resource_ids": [res_id]}
    got = api.get(f"/resources/{res_id}").get_json()
    assert got["owner_ids"] == [b] and got["enabled"] and got["accessible"]
    r = api.post("/resources/claim", json={"resource_ids": [board["id"]]})
    assert r.status_code == 200
    assert api.get(f"/resources/{board['id']}").get_json()["owner_ids"] == [seed.admin_id]
    r = api.put(f"/resources/{res_id}/enabled", json={"enabled": False})
    assert r.get_json()["enabled"] is False
    listed = api.get("/resources?kind=automation").get_json()["resources"]
    assert [x["id"] for x in listed] == [res_id]


def test_tokens_issue_list_revoke(api: Api, app: Any, seed: Seed):
    r = api.post("/tokens", json={"name": "script"})
    assert r.status_code == 201
    issued = r.get_json()
    assert issued["token"].startswith("sapi_")
    listed = api.get("/tokens").get_json()["tokens"]
    assert issued["id"] in [t["id"] for t in listed]
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/users", headers=auth).status_code == 200
    tokens = client.get("/api/v1/tokens", headers=auth).get_json()["tokens"]
    assert next(t for t in tokens if t["id"] == issued["id"])["last_used_at"] is not None
    assert api.delete(f"/tokens/{issued['id']}").get_json()["revoked_at"] is not None
    r = client.get("/api/v1/users", headers=auth)
    assert r.status_code == 401 and r.content_type == "application/problem+json"


def test_token_use_records_owner_activity(api: Api, seed: Seed):
    api.get("/users")
    me = api.get(f"/users/{seed.admin_id}").get_json()
    assert me["last_activity_at"] is not None


def test_oauth_client_credentials(api: Api, app: Any, seed: Seed):
    r = api.post("/oauth/clients", json={"name": "ci"})
    assert r.status_code == 201
    client_id, secret = r.get_json()["client_id"], r.get_json()["client_secret"]
    anon = app.test_client()
    bad = anon.post("/api/v1/oauth/token", data={"grant_type": "client_credentials",
                                                 "client_id": client_id, "client_secret": "no"})
    assert bad.status_code in (400, 401)
    tok = anon.post("/api/v1/oauth/token", data={"grant_type": "client_credentials",
                                                 "client_id": client_id, "client_secret": secret})
    assert tok.status_code == 200, tok.get_data()
    access = tok.get_json()["access_token"]
    assert access.startswith("soac_") and tok.get_json()["token_type"].lower() == "bearer"
    r = anon.get("/api/v1/users", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 200
    api.delete(f"/oauth/clients/{api.get('/oauth/clients').get_json()['clients'][0]['id']}")
    r = anon.get("/api/v1/users", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 401


def test_only_admins_may_use_the_api(app: Any, db: Any, seed: Seed):
    from tests.domain.factories import make_token, make_user

    account = db.get(Account, seed.account_id)
    member = make_user(db, account, "m")
    token = make_token(db, account, member)
    db.commit()
    r = app.test_client().get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


def test_openapi_document(app: Any):
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert "/users/{user_id}/activity" in doc["paths"]
    assert "UserOut" in doc["components"]["schemas"]
    assert "bulk.too_many" in doc["paths"]["/users/bulk"]["post"]["description"]


def test_audit_log_lists_changes(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "alice")
    api.post(f"/users/{uid}/deactivate")
    entries = api.get("/audit").get_json()["entries"]
    assert entries[0]["action"] == "user.deactivate"
    assert entries[0]["before"] == {"user_type": "Member", "status": "active"}
    assert entries[0]["actor_user_id"] == seed.admin_id


def test_resources_created_by_deleted_user_stay(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "alice")
    account = db.get(Account, seed.account_id)
    from scim_server.storage.models import User

    res = make_resource(db, account, "workspace", db.get(User, uid))
    res.created_by_id = uid
    db.commit()
    api.post(f"/users/{uid}/deactivate")
    api.delete(f"/users/{uid}")
    got = api.get(f"/resources/{res.id}").get_json()
    assert got["created_by_id"] == uid and got["owner_ids"] == []
    assert db.get(User, uid).display_name == "Deleted user"
