"""A replay of Okta's SCIM 2.0 provisioning cycle, with the request bodies Okta sends.

Every body below is the one published in Okta's SCIM 2.0 reference, "Okta and SCIM Version 2.0"
(https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20, previously
https://developer.okta.com/docs/reference/scim/scim-20/); only ids are replaced by the ones this
server issued. The cycle: lookup (no match), create, lookup (match), retrieve, update by PUT,
deactivate and reactivate by PATCH, import by pages, group push, membership churn in batches,
rename, unlink (DELETE) and user delete.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.compliance.interop import okta_user_body
from tests.scim.conftest import ScimClient, user_body

pytestmark = pytest.mark.usefixtures("fast_password_hash")

OKTA_DOC = "https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20"
# Okta's client headers; the body is sent as application/json, which the server must take as well
# as application/scim+json (RFC 7644 §3.8 makes application/json acceptable).
OKTA_HEADERS = {"User-Agent": "Okta SCIM Client 1.0.0", "Accept": "application/scim+json"}
JSON = "application/json; charset=utf-8"
# The documented bodies use okta.local, a special-use name (RFC 6762) that Active Directory
# domains still carry; the cycle runs with it and with an ordinary domain.
DOC_DOMAIN = "okta.local"


def okta(scim: ScimClient, method: str, path: str, body: Any = None) -> Any:
    return scim.request(method, path, body, headers=OKTA_HEADERS, content_type=JSON)


def find_by_user_name(scim: ScimClient, user_name: str) -> dict[str, Any]:
    # GET /scim/v2/Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100
    query = quote(f'userName eq "{user_name}"')
    path = f"/Users?filter={query}&startIndex=1&count=100"
    response = okta(scim, "GET", path)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


# -- bodies from OKTA_DOC ----------------------------------------------------------------------


def okta_create_user(domain: str = DOC_DOMAIN) -> dict[str, Any]:
    # OKTA_DOC, "Create the User": POST /scim/v2/Users
    return okta_user_body(f"test.user@{domain}")


def okta_put_user(user_id: str, domain: str = DOC_DOMAIN) -> dict[str, Any]:
    # OKTA_DOC, "Update the User": PUT /scim/v2/Users/$userID
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": user_id,
        "userName": f"test.user@{domain}",
        "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
        "emails": [{"primary": True, "value": f"test.user@{domain}", "type": "work",
                    "display": f"test.user@{domain}"}],
        "active": True,
        "groups": [],
        "meta": {"resourceType": "User"},
    }


def okta_set_active(active: bool) -> dict[str, Any]:
    # OKTA_DOC, "Update a specific User (PATCH)": deactivation (and activation, same shape).
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": active}}],
    }


def okta_create_group(display_name: str = "Test SCIMv2") -> dict[str, Any]:
    # OKTA_DOC, "Create Groups": POST /scim/v2/Groups
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": display_name,
        "members": [],
    }


def okta_rename_group(group_id: str, display_name: str) -> dict[str, Any]:
    # OKTA_DOC, "Update a specific Group name": the value carries the group's id.
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"id": group_id, "displayName": display_name}}],
    }


def okta_membership(remove: list[str], add: list[tuple[str, str]]) -> dict[str, Any]:
    # OKTA_DOC, "Update specific Group membership": one remove per member by value filter,
    # then one add with a list of {value, display}.
    operations: list[dict[str, Any]] = [
        {"op": "remove", "path": f'members[value eq "{member_id}"]'} for member_id in remove
    ]
    if add:
        operations.append({"op": "add", "path": "members",
                           "value": [{"value": i, "display": d} for i, d in add]})
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": operations}


def okta_replace_members(members: list[tuple[str, str]]) -> dict[str, Any]:
    # OKTA_DOC, "Update specific Group membership": a full push with replace.
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "members",
                        "value": [{"value": i, "display": d} for i, d in members]}],
    }


# -- the cycle ---------------------------------------------------------------------------------


@pytest.mark.parametrize("domain", [DOC_DOMAIN, "okta.example"])
def test_user_lifecycle(scim: ScimClient, domain: str) -> None:
    user_name = f"test.user@{domain}"
    # Lookup before create: a no-match filter is 200 with totalResults 0 (OKTA_DOC).
    empty = find_by_user_name(scim, user_name)
    assert empty["totalResults"] == 0
    assert empty.get("Resources", []) == []
    assert "urn:ietf:params:scim:api:messages:2.0:ListResponse" in empty["schemas"]

    sent = okta_create_user(domain)
    created = okta(scim, "POST", "/Users", sent)
    assert created.status_code == 201, created.get_data(as_text=True)
    user = created.get_json()
    user_id = user["id"]
    for key in ("userName", "name", "displayName", "locale", "externalId", "active"):
        assert user[key] == sent[key], key
    assert user["emails"] == sent["emails"]
    assert "password" not in user  # returned "never" (RFC 7643 §4.1.1)
    assert user["meta"]["resourceType"] == "User"
    assert created.headers["Location"] == user["meta"]["location"]

    found = find_by_user_name(scim, user_name)
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == user_id
    # Okta matches userName case-insensitively: caseExact is false for userName (RFC 7643 §4.1.1).
    assert find_by_user_name(scim, user_name.upper())["totalResults"] == 1

    fetched = okta(scim, "GET", f"/Users/{user_id}")
    assert fetched.status_code == 200
    assert fetched.get_json()["userName"] == user_name

    put = okta(scim, "PUT", f"/Users/{user_id}", okta_put_user(user_id, domain))
    assert put.status_code == 200, put.get_data(as_text=True)
    assert put.get_json()["name"] == {"givenName": "Another", "middleName": "Excited", "familyName": "User"}
    assert put.get_json()["emails"][0]["display"] == user_name
    # PUT replaces: what the PUT did not carry is gone (RFC 7644 §3.5.1).
    assert "locale" not in put.get_json()

    deactivated = okta(scim, "PATCH", f"/Users/{user_id}", okta_set_active(False))
    assert deactivated.status_code in (200, 204), deactivated.get_data(as_text=True)
    if deactivated.status_code == 200:
        assert deactivated.get_json()["active"] is False
    # A deactivated user is still there, by id and by filter.
    assert okta(scim, "GET", f"/Users/{user_id}").get_json()["active"] is False
    after = find_by_user_name(scim, user_name)
    assert after["totalResults"] == 1 and after["Resources"][0]["active"] is False

    reactivated = okta(scim, "PATCH", f"/Users/{user_id}", okta_set_active(True))
    assert reactivated.status_code in (200, 204), reactivated.get_data(as_text=True)
    assert okta(scim, "GET", f"/Users/{user_id}").get_json()["active"] is True
    assert okta(scim, "GET", f"/Users/{user_id}").get_json()["name"]["middleName"] == "Excited"

    # A second create of the same user is a conflict that stops Okta's job (OKTA_DOC: 409).
    again = okta(scim, "POST", "/Users", okta_create_user(domain))
    assert again.status_code == 409
    assert again.get_json()["status"] == "409"

    # Okta never deletes users itself, but an admin unassigning may: DELETE then 404.
    assert okta(scim, "DELETE", f"/Users/{user_id}").status_code == 204
    assert okta(scim, "GET", f"/Users/{user_id}").status_code == 404
    assert find_by_user_name(scim, user_name)["totalResults"] == 0


def test_import_pages_by_start_index(scim: ScimClient) -> None:
    """Okta imports with startIndex/count and needs the same order on every page (OKTA_DOC)."""
    ids = set()
    for n in range(23):
        response = okta(scim, "POST", "/Users", user_body(f"import{n:02d}@okta.example"))
        assert response.status_code == 201
        ids.add(response.get_json()["id"])
    seen: list[str] = []
    start, count = 1, 10
    total = None
    while True:
        page = okta(scim, "GET", f"/Users?startIndex={start}&count={count}").get_json()
        total = page["totalResults"] if total is None else total
        assert page["totalResults"] == total
        assert isinstance(page["startIndex"], int) and page["startIndex"] == start
        assert isinstance(page["itemsPerPage"], int)
        resources = page.get("Resources", [])
        seen += [r["id"] for r in resources]
        if start + count > total:
            break
        assert len(resources) == count
        start += count
    assert total == 24  # the 23 users and the account's first Admin
    assert len(seen) == len(set(seen)) == total
    assert ids <= set(seen)
    # Groups are imported the same way (GET /scim/v2/Groups?startIndex=1&count=100).
    groups = okta(scim, "GET", "/Groups?startIndex=1&count=100")
    assert groups.status_code == 200 and groups.get_json()["totalResults"] == 0


def _members(scim: ScimClient, group_id: str) -> set[str]:
    response = okta(scim, "GET", f"/Groups/{group_id}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return {m["value"] for m in response.get_json().get("members") or []}


def test_group_push_churn_rename_delete(scim: ScimClient) -> None:
    users: list[tuple[str, str]] = []
    for n in range(90):
        name = f"member{n:02d}@okta.example"
        response = okta(scim, "POST", "/Users", user_body(name))
        assert response.status_code == 201
        users.append((response.get_json()["id"], name))

    created = okta(scim, "POST", "/Groups", okta_create_group())
    assert created.status_code == 201, created.get_data(as_text=True)
    group = created.get_json()
    group_id = group["id"]
    assert group["displayName"] == "Test SCIMv2"
    assert not group.get("members")

    expected: set[str] = set()

    def push(remove: list[str], add: list[tuple[str, str]]) -> None:
        response = okta(scim, "PATCH", f"/Groups/{group_id}", okta_membership(remove, add))
        assert response.status_code in (200, 204), response.get_data(as_text=True)
        expected.difference_update(remove)
        expected.update(i for i, _ in add)
        assert _members(scim, group_id) == expected

    push([], users[:50])                                 # add 50
    push([i for i, _ in users[:10]], [])                 # remove 10
    push([], users[50:70])                               # add 20
    push([i for i, _ in users[10:15]], users[70:90])     # remove 5 and add 20 in one request
    push([], users[20:25])                               # re-adding members changes nothing
    push([i for i, _ in users[:5]], [])                  # removing non-members changes nothing
    assert len(expected) == 75

    # The server's view of membership agrees from the user side and by filter.
    some_member = users[30][0]
    assert group_id in {g["value"] for g in okta(scim, "GET", f"/Users/{some_member}").get_json()["groups"]}
    by_member = okta(scim, "GET", "/Groups?filter=" + quote(f'members.value eq "{some_member}"')).get_json()
    assert [g["id"] for g in by_member["Resources"]] == [group_id]
    assert okta(scim, "GET", f"/Users/{users[0][0]}").get_json().get("groups", []) == []

    # A full push replaces the whole membership.
    final = users[40:45]
    response = okta(scim, "PATCH", f"/Groups/{group_id}", okta_replace_members(final))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert _members(scim, group_id) == {i for i, _ in final}

    # Rename: Okta sends the id inside the value; the members stay.
    renamed = okta(scim, "PATCH", f"/Groups/{group_id}", okta_rename_group(group_id, "Test SCIMv20"))
    assert renamed.status_code in (200, 204), renamed.get_data(as_text=True)
    fetched = okta(scim, "GET", f"/Groups/{group_id}").get_json()
    assert fetched["displayName"] == "Test SCIMv20"
    assert {m["value"] for m in fetched["members"]} == {i for i, _ in final}
    by_name = okta(scim, "GET", "/Groups?filter=" + quote('displayName eq "Test SCIMv20"')).get_json()
    assert by_name["totalResults"] == 1

    # Unlink pushed group, "Delete the group in the target app".
    assert okta(scim, "DELETE", f"/Groups/{group_id}").status_code == 204
    assert okta(scim, "GET", f"/Groups/{group_id}").status_code == 404
    # Its members are users still, without the group.
    still = okta(scim, "GET", f"/Users/{final[0][0]}")
    assert still.status_code == 200 and still.get_json().get("groups", []) == []


@pytest.mark.parametrize("content_type", ["application/scim+json", "application/json",
                                          "application/scim+json; charset=utf-8"])
def test_both_json_media_types_are_taken(scim: ScimClient, content_type: str) -> None:
    response = scim.request("POST", "/Users", raw=json.dumps(okta_create_user("okta.example")), content_type=content_type)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("application/scim+json")
