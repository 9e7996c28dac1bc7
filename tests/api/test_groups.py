"""The admin API's groups (issue 14): list with a total, search and ``without_members``; read
with paged members; create, rename, delete, add and remove members, through the domain's
group service so that the audit and the provisioning events are those of the other doors."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from scim_server.settings import Settings
from scim_server.storage.domain_tables import AuditEntry, Event
from scim_server.storage.models import Account
from tests.api.conftest import Api, Seed, add_user
from tests.domain.factories import make_token, make_user
from tests.scim.conftest import GROUP_SCHEMA, ScimClient

PROV = "urn:ietf:params:scim:event:prov:"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key="x" * 32, max_body_bytes=64 * 1024,
                    rate_limit_per_second=10**6, rate_limit_burst=10**6)


def new_group(api: Api, name: str) -> str:
    answer = api.post("/groups", json={"display_name": name})
    assert answer.status_code == 201, answer.get_json()
    return str(answer.get_json()["id"])


def test_create_read_rename_delete(api: Api, db: Any, seed: Seed):
    gid = new_group(api, "Sales")
    body = api.get(f"/groups/{gid}").get_json()
    assert body["display_name"] == "Sales" and body["members"] == 0
    assert body["managed_by_identity_provider"] is False
    assert body["member_page"] == {"total": 0, "offset": 0, "limit": 50, "items": []}

    taken = api.post("/groups", json={"display_name": "sales"})
    assert taken.status_code == 409 and taken.get_json()["rule"] == "group.name_taken"
    assert taken.content_type == "application/problem+json"

    renamed = api.patch(f"/groups/{gid}", json={"display_name": "Sales EMEA"})
    assert renamed.status_code == 200 and renamed.get_json()["display_name"] == "Sales EMEA"
    assert api.get(f"/groups/{gid}").get_json()["display_name"] == "Sales EMEA"

    assert api.delete(f"/groups/{gid}").status_code == 204
    assert api.get(f"/groups/{gid}").status_code == 404
    assert api.delete(f"/groups/{gid}").status_code == 404

    actions = list(db.scalars(select(AuditEntry.action).where(
        AuditEntry.target_id == gid).order_by(AuditEntry.id)))
    assert actions == ["group.create", "group.rename", "group.delete"]
    doors = set(db.scalars(select(AuditEntry.door).where(AuditEntry.target_id == gid)))
    assert doors == {"api"}
    types = [t.removeprefix(PROV) for t in db.scalars(
        select(Event.event_type).where(Event.resource_id == gid).order_by(Event.position))]
    assert types == ["create:full", "patch:notice", "delete"]


def test_members_add_page_remove(api: Api, db: Any, seed: Seed):
    gid = new_group(api, "Support")
    ids = [add_user(db, seed, f"user{i:02d}") for i in range(7)]
    added = api.post(f"/groups/{gid}/members", json={"member_ids": ids})
    assert added.status_code == 200, added.get_json()
    assert sorted(added.get_json()["changed"]) == sorted(ids)
    assert added.get_json()["group"]["members"] == 7
    # Adding someone again changes nothing and is no error.
    again = api.post(f"/groups/{gid}/members", json={"member_ids": ids[:2]}).get_json()
    assert again["changed"] == [] and again["group"]["members"] == 7

    first = api.get(f"/groups/{gid}", query_string={"members_limit": 3}).get_json()["member_page"]
    second = api.get(f"/groups/{gid}", query_string={"members_limit": 3,
                                                      "members_offset": 3}).get_json()
    third = api.get(f"/groups/{gid}/members", query_string={"limit": 3, "offset": 6}).get_json()
    assert first["total"] == second["member_page"]["total"] == third["total"] == 7
    seen = [m["id"] for page in (first, second["member_page"], third) for m in page["items"]]
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 7
    assert {m["type"] for m in first["items"]} == {"User"}

    removed = api.post(f"/groups/{gid}/members/remove", json={"member_ids": ids[:3]}).get_json()
    assert sorted(removed["changed"]) == sorted(ids[:3]) and removed["group"]["members"] == 4
    assert api.delete(f"/groups/{gid}/members/{ids[3]}").status_code == 204
    assert api.delete(f"/groups/{gid}/members/{ids[3]}").status_code == 404
    assert api.get(f"/groups/{gid}").get_json()["members"] == 3

    events = [(e.event_type.removeprefix(PROV), e.payload) for e in db.scalars(
        select(Event).where(Event.resource_id == gid).order_by(Event.position))]
    assert [t for t, _ in events] == ["create:full"] + ["patch:notice"] * 3
    assert sorted(events[1][1]["added"]) == sorted(ids)
    assert sorted(events[2][1]["removed"]) == sorted(ids[:3])
    assert events[3][1]["removed"] == [ids[3]]
    actions = list(db.scalars(select(AuditEntry.action).where(
        AuditEntry.target_id == gid).order_by(AuditEntry.id)))
    assert actions == ["group.create", "group.add_members", "group.remove_members",
                       "group.remove_members"]


def test_adding_an_unknown_member_changes_nothing(api: Api, db: Any, seed: Seed):
    gid = new_group(api, "Ops")
    uid = add_user(db, seed, "alice")
    answer = api.post(f"/groups/{gid}/members", json={"member_ids": [uid, "nobody"]})
    assert answer.status_code == 404
    assert answer.content_type == "application/problem+json"
    assert api.get(f"/groups/{gid}").get_json()["members"] == 0


def test_list_total_search_and_without_members(api: Api, db: Any, seed: Seed):
    uid = add_user(db, seed, "alice")
    ids = {name: new_group(api, name) for name in
           ("Alpha team", "Beta team", "Gamma", "delta TEAM", "100%_done")}
    api.post(f"/groups/{ids['Gamma']}/members", json={"member_ids": [uid]})
    api.post(f"/groups/{ids['Beta team']}/members", json={"member_ids": [uid]})

    page = api.get("/groups", query_string={"limit": 2}).get_json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 0
    assert [g["display_name"] for g in page["groups"]] == ["100%_done", "Alpha team"]
    rest = api.get("/groups", query_string={"limit": 2, "offset": 4}).get_json()
    assert [g["display_name"] for g in rest["groups"]] == ["Gamma"]
    assert rest["groups"][0]["members"] == 1

    team = api.get("/groups", query_string={"q": "TeAm"}).get_json()
    assert team["total"] == 3
    assert [g["display_name"] for g in team["groups"]] == ["Alpha team", "Beta team",
                                                           "delta TEAM"]
    # LIKE's wildcards are searched as themselves.
    assert api.get("/groups", query_string={"q": "%_"}).get_json()["total"] == 1

    empty = api.get("/groups", query_string={"without_members": "true"}).get_json()
    assert empty["total"] == 3
    assert {g["id"] for g in empty["groups"]} == {ids["Alpha team"], ids["delta TEAM"],
                                                  ids["100%_done"]}
    full = api.get("/groups", query_string={"without_members": "false", "q": "team"}).get_json()
    assert [g["display_name"] for g in full["groups"]] == ["Beta team"]


def test_bad_inputs_are_problems(api: Api):
    for method, path, kw in [
        ("post", "/groups", {"json": {}}),
        ("post", "/groups", {"json": {"display_name": ""}}),
        ("post", "/groups", {"json": {"display_name": "x", "members": []}}),
        ("get", "/groups", {"query_string": {"limit": 0}}),
        ("get", "/groups", {"query_string": {"without_members": "maybe"}}),
        ("get", "/groups", {"query_string": {"offset": -1}}),
    ]:
        answer = getattr(api, method)(path, **kw)
        assert answer.status_code == 400, (path, kw, answer.get_json())
        assert answer.content_type == "application/problem+json"
    gid = new_group(api, "G")
    answer = api.post(f"/groups/{gid}/members", json={"member_ids": []})
    assert answer.status_code == 400
    itself = api.post(f"/groups/{gid}/members", json={"member_ids": [gid]})
    assert itself.status_code == 400 and "member_ids" in itself.get_json()["errors"]
    assert api.get(f"/groups/{gid}").get_json()["members"] == 0


def test_another_accounts_group_is_not_found(api: Api, other_api: Api, db: Any, seed: Seed):
    gid = new_group(api, "Private")
    uid = add_user(db, seed, "alice")
    api.post(f"/groups/{gid}/members", json={"member_ids": [uid]})
    assert other_api.get("/groups").get_json()["total"] == 0
    for method, path, kw in [
        ("get", f"/groups/{gid}", {}),
        ("get", f"/groups/{gid}/members", {}),
        ("patch", f"/groups/{gid}", {"json": {"display_name": "Mine"}}),
        ("delete", f"/groups/{gid}", {}),
        ("post", f"/groups/{gid}/members", {"json": {"member_ids": [uid]}}),
        ("post", f"/groups/{gid}/members/remove", {"json": {"member_ids": [uid]}}),
        ("delete", f"/groups/{gid}/members/{uid}", {}),
    ]:
        answer = getattr(other_api, method)(path, **kw)
        assert answer.status_code == 404, (method, path, answer.get_json())
    # Nor may another account's user be added to one's own group.
    own = new_group(other_api, "Theirs")
    assert other_api.post(f"/groups/{own}/members",
                          json={"member_ids": [uid]}).status_code == 404
    body = api.get(f"/groups/{gid}").get_json()
    assert body["display_name"] == "Private" and body["members"] == 1


def test_groups_pushed_by_scim_are_marked_managed(app: Flask, api: Api, db: Any, seed: Seed):
    account = db.get(Account, seed.account_id)
    owner = make_user(db, account, "idp-owner", user_type="Admin")
    scim = ScimClient(app.test_client(), make_token(db, account, owner, kind="scim"))
    db.commit()
    pushed = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "From Okta"})
    assert pushed.status_code == 201, pushed.get_json()
    here = new_group(api, "Made here")
    rows = {g["display_name"]: g for g in api.get("/groups").get_json()["groups"]}
    assert rows["From Okta"]["managed_by_identity_provider"] is True
    assert rows["Made here"]["managed_by_identity_provider"] is False
    # The last change decides: a rename through SCIM marks a group made here.
    scim.patch(f"/Groups/{here}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed by IdP"}]})
    assert api.get(f"/groups/{here}").get_json()["managed_by_identity_provider"] is True
    # A group the identity provider created stays its own after a change made here.
    okta = pushed.get_json()["id"]
    api.patch(f"/groups/{okta}", json={"display_name": "From Okta, renamed here"})
    assert api.get(f"/groups/{okta}").get_json()["managed_by_identity_provider"] is True


def test_deleting_a_group_removes_it_from_its_parents(api: Api, db: Any, seed: Seed):
    parent, child = new_group(api, "Parent"), new_group(api, "Child")
    assert api.post(f"/groups/{parent}/members",
                    json={"member_ids": [child]}).get_json()["group"]["members"] == 1
    assert api.delete(f"/groups/{child}").status_code == 204
    assert api.get(f"/groups/{parent}").get_json()["members"] == 0


def test_hub_links_to_the_groups_list(api: Api):
    new_group(api, "Empty")
    links = api.get("/hub").get_json()["operator_groups"]["links"]
    assert links["list"] == "/api/v1/groups"
    # The links work with the API token the hub was read with.
    assert api.get(links["list"].removeprefix("/api/v1")).status_code == 200
    empty = api.get(links["without_members"].removeprefix("/api/v1")).get_json()
    assert empty["total"] == 1


def test_deleting_while_members_are_added_leaves_no_orphan(app: Flask, api: Api, db: Any,
                                                          seed: Seed, database_url: str):
    # PostgreSQL runs the requests side by side (SQLite has one writer at a time): a delete
    # racing adds of members always deletes (it takes no precondition), leaves no membership
    # row of the deleted group, and no request gets a 500.
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time")
    import threading

    users = [add_user(db, seed, f"c{i:02d}") for i in range(20)]
    errors: list[BaseException] = []
    statuses: list[int] = []

    def add(gid: str, ids: list[str], barrier: threading.Barrier) -> None:
        try:
            client = Api(app.test_client(), api.token)
            barrier.wait()
            for uid in ids:
                statuses.append(client.post(f"/groups/{gid}/members",
                                            json={"member_ids": [uid]}).status_code)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    def delete(gid: str, barrier: threading.Barrier) -> None:
        try:
            client = Api(app.test_client(), api.token)
            barrier.wait()
            # No precondition: the group is deleted whatever the adds did meanwhile.
            statuses.append(client.delete(f"/groups/{gid}").status_code)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    for round_ in range(5):
        gid = new_group(api, f"Race {round_}")
        barrier = threading.Barrier(3)
        threads = [threading.Thread(target=add, args=(gid, users[:10], barrier)),
                   threading.Thread(target=add, args=(gid, users[10:], barrier)),
                   threading.Thread(target=delete, args=(gid, barrier))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        db.expire_all()
        from scim_server.storage.models import Group, GroupMember

        assert db.get(Group, gid) is None
        assert db.scalars(select(GroupMember).where(GroupMember.group_id == gid)).all() == []
        assert api.get(f"/groups/{gid}").status_code == 404
    # Each add landed before the delete (200) or found the group gone (404).
    assert set(statuses) <= {200, 204, 404}, statuses
    assert statuses.count(204) == 5, statuses
