"""Account isolation through every SCIM endpoint: another account's token can neither read, write
nor learn of the existence of this account's users and groups.

A foreign id must answer exactly like an id that does not exist (same status, same body once the
id is replaced), searches must find nothing, Bulk operations must fail one by one, and uniqueness
is per account. Authentication failures are 401 with a WWW-Authenticate challenge (RFC 6750 §3).
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from sqlalchemy import select

from scim_server.db import make_session_factory
from scim_server.domain.credentials import revoke_credential
from scim_server.security import hash_token
from scim_server.storage.models import Account as AccountRow
from scim_server.storage.models import Credential
from tests.scim.conftest import (
    GROUP_SCHEMA,
    Account,
    ScimClient,
    patch_body,
    user_body,
)

pytestmark = pytest.mark.usefixtures("fast_password_hash")

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
def owned(scim: ScimClient) -> dict[str, Any]:
    """A user, a second user and a group with the first user as member, all of the first account."""
    user = scim.post("/Users", user_body("alice@acme.example", externalId="ext-alice")).get_json()
    bob = scim.post("/Users", user_body("bob@acme.example")).get_json()
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Acme Engineers",
                                  "externalId": "ext-eng", "members": [{"value": user["id"]}]})
    assert group.status_code == 201, group.get_data(as_text=True)
    return {"user": user, "bob": bob, "group": group.get_json()}


def _normalised(response: Any, resource_id: str) -> tuple[int, Any]:
    """Status and body with the id replaced, so two 404s can be compared for equality."""
    text = response.get_data(as_text=True).replace(resource_id, "<id>")
    return response.status_code, json.loads(text) if text else None


def _assert_like_missing(response: Any, foreign_id: str, missing: Any, missing_id: str) -> None:
    assert response.status_code == 404, response.get_data(as_text=True)
    assert _normalised(response, foreign_id) == _normalised(missing, missing_id)


def _unchanged(scim: ScimClient, owned: dict[str, Any]) -> None:
    """The owner still sees its resources exactly as before."""
    user = scim.get(f"/Users/{owned['user']['id']}").get_json()
    assert user["meta"]["version"] == owned["user"]["meta"]["version"]
    assert user["userName"] == "alice@acme.example"
    group = scim.get(f"/Groups/{owned['group']['id']}").get_json()
    assert group["displayName"] == "Acme Engineers"
    assert [m["value"] for m in group["members"]] == [owned["user"]["id"]]


# -- single resources ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["user", "group"])
@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
def test_foreign_id_answers_like_a_missing_one(scim: ScimClient, other_scim: ScimClient,
                                               owned: dict[str, Any], kind: str, method: str) -> None:
    endpoint = "/Users" if kind == "user" else "/Groups"
    foreign_id = owned[kind]["id"]
    missing_id = uuid.uuid4().hex
    if kind == "user":
        body: Any = {"PUT": user_body("alice@acme.example"),
                     "PATCH": patch_body({"op": "replace", "path": "active", "value": False})}.get(method)
    else:
        body = {"PUT": {"schemas": [GROUP_SCHEMA], "displayName": "Hijacked"},
                "PATCH": patch_body({"op": "replace", "path": "displayName", "value": "Hijacked"})}.get(method)
    foreign = other_scim.request(method, f"{endpoint}/{foreign_id}", body)
    missing = other_scim.request(method, f"{endpoint}/{missing_id}", body)
    _assert_like_missing(foreign, foreign_id, missing, missing_id)
    # ... also with the ETag the owner holds: a version does not open the door.
    version = owned[kind]["meta"]["version"]
    conditional = other_scim.request(method, f"{endpoint}/{foreign_id}", body, headers={"If-Match": version})
    assert conditional.status_code == 404
    _unchanged(scim, owned)


def test_group_patch_on_own_group_cannot_add_a_foreign_member(scim: ScimClient, other_scim: ScimClient,
                                                               owned: dict[str, Any]) -> None:
    """Refused or ignored, a foreign member is handled exactly like an id that does not exist."""
    own_group = other_scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Globex"}).get_json()
    foreign_user, missing = owned["user"]["id"], uuid.uuid4().hex
    for shape in (
        lambda i: patch_body({"op": "add", "path": "members", "value": [{"value": i}]}),
        lambda i: patch_body({"op": "Add", "path": "members", "value": [{"$ref": None, "value": i}]}),
        lambda i: patch_body({"op": "replace", "path": "members", "value": [{"value": i}]}),
        lambda i: patch_body({"op": "add", "value": {"members": [{"value": i}]}}),
    ):
        response = other_scim.patch(f"/Groups/{own_group['id']}", shape(foreign_user))
        baseline = other_scim.patch(f"/Groups/{own_group['id']}", shape(missing))
        assert _normalised(response, foreign_user) == _normalised(baseline, missing)
        group = other_scim.get(f"/Groups/{own_group['id']}").get_json()
        assert not group.get("members"), shape(foreign_user)
    created = other_scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Globex 2",
                                          "members": [{"value": foreign_user}]})
    if created.status_code == 201:
        assert not created.get_json().get("members")
    else:
        assert created.status_code in (400, 404), created.get_data(as_text=True)
    # The owner's user shows no foreign group either.
    groups = scim.get(f"/Users/{foreign_user}").get_json()["groups"]
    assert [g["value"] for g in groups] == [owned["group"]["id"]]
    _unchanged(scim, owned)


def test_group_patch_cannot_remove_members_of_a_foreign_group(scim: ScimClient, other_scim: ScimClient,
                                                               owned: dict[str, Any]) -> None:
    group_id, user_id = owned["group"]["id"], owned["user"]["id"]
    for body in (
        patch_body({"op": "remove", "path": f'members[value eq "{user_id}"]'}),
        patch_body({"op": "Remove", "path": "members", "value": [{"value": user_id}]}),
        patch_body({"op": "remove", "path": "members"}),
    ):
        assert other_scim.patch(f"/Groups/{group_id}", body).status_code == 404
    _unchanged(scim, owned)


# -- searches ----------------------------------------------------------------------------------


def _filters(owned: dict[str, Any]) -> list[tuple[str, str]]:
    """(endpoint, filter) pairs: each filter on the type it names, and at the root."""
    user, group = owned["user"], owned["group"]
    user_filters = [
        f'id eq "{user["id"]}"',
        'userName eq "alice@acme.example"',
        'externalId eq "ext-alice"',
        'emails[type eq "work"].value eq "alice@acme.example"',
        'userName sw "alice"',
        'userName co "acme"',
    ]
    group_filters = [
        f'id eq "{group["id"]}"',
        'displayName eq "Acme Engineers"',
        'externalId eq "ext-eng"',
        f'members.value eq "{user["id"]}"',
    ]
    return ([("/Users", f) for f in user_filters] + [("/Groups", f) for f in group_filters]
            + [("", f) for f in (user_filters[0], user_filters[2], group_filters[0], group_filters[2])])


def _ids(body: dict[str, Any]) -> set[str]:
    return {r["id"] for r in body.get("Resources", [])}


def test_searches_find_nothing_foreign(scim: ScimClient, other_scim: ScimClient, owned: dict[str, Any],
                                       other_account: Account) -> None:
    owned_ids = {owned["user"]["id"], owned["bob"]["id"], owned["group"]["id"]}
    # Unfiltered lists: the other account sees its own admin only, and no group.
    users = other_scim.get("/Users").get_json()
    assert users["totalResults"] == 1
    assert [r["userName"] for r in users["Resources"]] == [other_account.admin_email]
    assert other_scim.get("/Groups").get_json()["totalResults"] == 0

    for endpoint, filter_ in _filters(owned):
        # The owner finds each one: the filters are right, so the other account's 0 means something.
        mine = scim.get(f"{endpoint or '/'}?filter={quote(filter_)}")
        assert mine.status_code == 200 and mine.get_json()["totalResults"] >= 1, (endpoint, filter_)
        response = other_scim.get(f"{endpoint or '/'}?filter={quote(filter_)}")
        assert response.status_code == 200, (endpoint, filter_, response.get_data(as_text=True))
        body = response.get_json()
        assert body["totalResults"] == 0 and not _ids(body) & owned_ids, (endpoint, filter_)
        response = other_scim.post(f"{endpoint}/.search", {"schemas": [SEARCH_REQUEST], "filter": filter_})
        assert response.status_code == 200, (endpoint, filter_, response.get_data(as_text=True))
        assert response.get_json()["totalResults"] == 0, (endpoint, filter_)

    # Root search without a filter, and the owner's view, for contrast.
    root = other_scim.post("/.search", {"schemas": [SEARCH_REQUEST]}).get_json()
    assert not _ids(root) & owned_ids
    assert owned_ids <= _ids(scim.post("/.search", {"schemas": [SEARCH_REQUEST]}).get_json())
    assert scim.get("/Users?filter=" + quote('userName eq "alice@acme.example"')).get_json()["totalResults"] == 1


def test_cursor_of_one_account_does_not_page_another(scim: ScimClient, other_scim: ScimClient,
                                                     owned: dict[str, Any]) -> None:
    first = scim.get("/Users?count=1&cursor=").get_json()
    cursor = first.get("nextCursor")
    assert cursor, first
    response = other_scim.get(f"/Users?count=1&cursor={quote(cursor)}")
    if response.status_code == 200:
        assert not _ids(response.get_json()) & {owned["user"]["id"], owned["bob"]["id"]}
    else:
        assert response.status_code == 400
        assert response.get_json()["scimType"] == "invalidCursor"


# -- Bulk --------------------------------------------------------------------------------------


def test_bulk_cannot_touch_foreign_resources(scim: ScimClient, other_scim: ScimClient,
                                             owned: dict[str, Any]) -> None:
    user_id, group_id = owned["user"]["id"], owned["group"]["id"]
    operations = [
        {"method": "PUT", "path": f"/Users/{user_id}", "data": user_body("alice@acme.example")},
        {"method": "PATCH", "path": f"/Users/{user_id}",
         "data": patch_body({"op": "replace", "path": "active", "value": False})},
        {"method": "DELETE", "path": f"/Users/{owned['bob']['id']}"},
        {"method": "PATCH", "path": f"/Groups/{group_id}",
         "data": patch_body({"op": "add", "path": "members", "value": [{"value": user_id}]})},
        {"method": "PATCH", "path": f"/Groups/{group_id}",
         "data": patch_body({"op": "remove", "path": "members"})},
        {"method": "DELETE", "path": f"/Groups/{group_id}"},
        # A new group of the other account naming a foreign member.
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [GROUP_SCHEMA], "displayName": "Sneaky", "members": [{"value": user_id}]}},
    ]
    response = other_scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": operations})
    assert response.status_code == 200, response.get_data(as_text=True)
    results = response.get_json()["Operations"]
    assert len(results) == len(operations)
    for op, result in zip(operations, results, strict=True):
        status = str(result["status"])
        if op["method"] == "POST":
            assert status in ("201", "400", "404"), result
        else:
            assert status == "404", (op, result)
    _unchanged(scim, owned)
    assert scim.get(f"/Users/{owned['bob']['id']}").status_code == 200
    sneaky = other_scim.get("/Groups?filter=" + quote('displayName eq "Sneaky"')).get_json()
    assert all(not g.get("members") for g in sneaky.get("Resources", []))


# -- uniqueness and /Me ------------------------------------------------------------------------


def test_uniqueness_is_per_account(scim: ScimClient, other_scim: ScimClient, owned: dict[str, Any]) -> None:
    same_user = other_scim.post("/Users", user_body("alice@acme.example", externalId="ext-alice"))
    assert same_user.status_code == 201, same_user.get_data(as_text=True)
    assert same_user.get_json()["id"] != owned["user"]["id"]
    same_group = other_scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Acme Engineers"})
    assert same_group.status_code == 201, same_group.get_data(as_text=True)
    # Each account still finds exactly its own.
    for client, expected in ((scim, owned["user"]["id"]), (other_scim, same_user.get_json()["id"])):
        found = client.get("/Users?filter=" + quote('userName eq "alice@acme.example"')).get_json()
        assert [r["id"] for r in found["Resources"]] == [expected]
    # And within one account the rule still holds.
    assert other_scim.post("/Users", user_body("ALICE@acme.example")).status_code == 409
    _unchanged(scim, owned)


def test_me_is_the_admin_of_the_token(scim: ScimClient, other_scim: ScimClient,
                                      account: Account, other_account: Account) -> None:
    mine = scim.get("/Me")
    theirs = other_scim.get("/Me")
    assert mine.status_code == theirs.status_code == 200, mine.get_data(as_text=True)
    assert mine.get_json()["userName"] == account.admin_email
    assert theirs.get_json()["userName"] == other_account.admin_email
    assert mine.get_json()["id"] != theirs.get_json()["id"]
    # The other account cannot reach this admin through /Users either.
    assert other_scim.get(f"/Users/{mine.get_json()['id']}").status_code == 404


# -- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/Users", "/Groups", "/Me", "/Bulk", "/.search", "/Users/abc"])
def test_no_token_is_401_with_a_challenge(app: Flask, account: Account, path: str) -> None:
    client = ScimClient(app.test_client(), None)
    response = client.get(path)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer")
    body = response.get_json()
    assert body["status"] == "401"
    assert "urn:ietf:params:scim:api:messages:2.0:Error" in body["schemas"]


@pytest.mark.parametrize("header", [
    "Bearer not-a-real-token",
    "Bearer ",
    "Basic YWRtaW46YWRtaW4=",
    "Bearer " + "x" * 5000,
    "bearer\u00e9",
])
def test_garbage_token_is_401(app: Flask, account: Account, header: str) -> None:
    client = app.test_client()
    response = client.get("/scim/v2/Users", headers={"Authorization": header})
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert response.get_json()["status"] == "401"


def test_revoked_token_is_401(app: Flask, scim: ScimClient, account: Account) -> None:
    assert scim.get("/Users").status_code == 200
    factory = make_session_factory(app.extensions["scim_engine"])
    with factory() as session:
        credential = session.scalars(
            select(Credential).where(Credential.secret_hash == hash_token(account.token))
        ).one()
        row = session.get(AccountRow, account.id)
        assert row is not None
        revoke_credential(session, row, credential.id)
        session.commit()
    response = scim.get("/Users")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert scim.post("/Users", user_body("late@acme.example")).status_code == 401


def test_token_of_one_account_cannot_revoke_another(app: Flask, account: Account, other_account: Account) -> None:
    """revoke_credential is scoped too: the other account cannot name this account's token."""
    from scim_server.domain.errors import NotFound

    factory = make_session_factory(app.extensions["scim_engine"])
    with factory() as session:
        credential = session.scalars(
            select(Credential).where(Credential.secret_hash == hash_token(account.token))
        ).one()
        other = session.get(AccountRow, other_account.id)
        assert other is not None
        with pytest.raises(NotFound):
            revoke_credential(session, other, credential.id)
