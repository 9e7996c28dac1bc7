"""A replay of Microsoft Entra ID's SCIM provisioning cycle, with the request bodies Entra sends.

Sources (only ids are replaced by the ones this server issued):

- TUTORIAL: "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID",
  https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
  (section "SCIM protocol requests and responses").
- KNOWN_ISSUES: "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft
  Entra user provisioning service",
  https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
  (the bodies sent "without feature flag", Entra's default for non-gallery apps, and "with").

The cycle: lookup (no match), create, lookup, update (multi- and single-valued, by PATCH),
disable and re-enable with string booleans, group create, lookups with excludedAttributes=members,
membership churn in batches with both removal shapes, rename, delete.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.scim.conftest import ENTERPRISE, ScimClient, user_body

TUTORIAL = "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups"
KNOWN_ISSUES = (
    "https://learn.microsoft.com/en-us/entra/identity/app-provisioning/"
    "application-provisioning-config-problem-scim-compatibility"
)

pytestmark = pytest.mark.usefixtures("fast_password_hash")
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTRA_HEADERS = {"Accept": "application/scim+json"}
USER_NAME = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"


def entra(scim: ScimClient, method: str, path: str, body: Any = None) -> Any:
    return scim.request(method, path, body, headers=ENTRA_HEADERS)


def search(scim: ScimClient, endpoint: str, filter_: str, extra: str = "") -> dict[str, Any]:
    response = entra(scim, "GET", f"/{endpoint}?{extra}filter={quote(filter_)}")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# -- bodies --------------------------------------------------------------------------------------


def entra_create_user() -> dict[str, Any]:
    # TUTORIAL, "Create User" request: POST /Users
    return {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": USER_NAME,
        "active": True,
        "emails": [{
            "primary": True,
            "type": "work",
            "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
        }],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
    }


def entra_create_group(display_name: str = "displayName") -> dict[str, Any]:
    # TUTORIAL, "Create Group" request: POST /Groups, with Microsoft's extra schema URN.
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                    "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": display_name,
        "meta": {"resourceType": "Group"},
    }


def entra_add_members(ids: list[str]) -> dict[str, Any]:
    # TUTORIAL, "Update Group [Add Members]": op "Add", members with "$ref": null.
    return patch({"op": "Add", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]})


def entra_remove_members(ids: list[str]) -> dict[str, Any]:
    # TUTORIAL, "Update Group [Remove Members]" and KNOWN_ISSUES "without feature flag": op
    # "Remove" on members with a value array; only those members go.
    return patch({"op": "Remove", "path": "members", "value": [{"$ref": None, "value": i} for i in ids]})


def entra_remove_member_flagged(member_id: str) -> dict[str, Any]:
    # KNOWN_ISSUES, "Requests made to remove a group member", "with feature flag".
    return patch({"op": "remove", "path": f'members[value eq "{member_id}"]'})


# -- the cycle ---------------------------------------------------------------------------------


def test_user_lifecycle(scim: ScimClient) -> None:
    # TUTORIAL, "Get User by query - Zero results": 200, totalResults 0.
    empty = search(scim, "Users", 'userName eq "non-existent user"')
    assert empty["totalResults"] == 0 and empty.get("Resources", []) == []
    assert search(scim, "Users", f'userName eq "{USER_NAME}"')["totalResults"] == 0

    sent = entra_create_user()
    created = entra(scim, "POST", "/Users", sent)
    assert created.status_code == 201, created.get_data(as_text=True)
    user = created.get_json()
    user_id = user["id"]
    for key in ("externalId", "userName", "active", "emails", "name"):
        assert user[key] == sent[key], key
    assert not user.get("roles")

    # TUTORIAL, "Get User" and "Get User by query"; Entra also queries by the work email.
    assert entra(scim, "GET", f"/Users/{user_id}").get_json()["userName"] == USER_NAME
    assert [r["id"] for r in search(scim, "Users", f'userName eq "{USER_NAME}"')["Resources"]] == [user_id]
    by_mail = search(scim, "Users", 'emails[type eq "work"].value eq '
                     '"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"')
    assert [r["id"] for r in by_mail["Resources"]] == [user_id]
    # TUTORIAL, "Get User" not found: 404 with the error schema and status as a string.
    missing = entra(scim, "GET", "/Users/5171a35d82074e068ce2")
    assert missing.status_code == 404
    assert missing.get_json()["status"] == "404"
    assert "urn:ietf:params:scim:api:messages:2.0:Error" in missing.get_json()["schemas"]

    # TUTORIAL, "Update User [Multi-valued properties]".
    response = entra(scim, "PATCH", f"/Users/{user_id}", patch(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "updatedEmail@microsoft.com"},
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    ))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    current = entra(scim, "GET", f"/Users/{user_id}").get_json()
    assert current["emails"] == [{"value": "updatedEmail@microsoft.com", "type": "work", "primary": True}]
    assert current["name"]["familyName"] == "updatedFamilyName"
    assert current["name"]["givenName"] == "givenName"

    # TUTORIAL, "Update User [Single-valued properties]".
    new_user_name = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    response = entra(scim, "PATCH", f"/Users/{user_id}",
                     patch({"op": "Replace", "path": "userName", "value": new_user_name}))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert entra(scim, "GET", f"/Users/{user_id}").get_json()["userName"] == new_user_name

    # KNOWN_ISSUES, "Requests to replace multiple attributes", without feature flag.
    response = entra(scim, "PATCH", f"/Users/{user_id}", patch(
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "TestBcwqnm@test.microsoft.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Eqpj"},
    ))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    current = entra(scim, "GET", f"/Users/{user_id}").get_json()
    assert current["displayName"] == "Pvlo"
    assert current["emails"][0]["value"] == "TestBcwqnm@test.microsoft.com"
    assert (current["name"]["givenName"], current["name"]["familyName"]) == ("Gtfd", "Pkqf")
    assert current["externalId"] == "Eqpj"
    assert current[ENTERPRISE]["employeeNumber"] == "Eqpj"

    # KNOWN_ISSUES, the same "with feature flag": a path-less replace with dotted keys.
    response = entra(scim, "PATCH", f"/Users/{user_id}", patch(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "TestMhvaes@test.microsoft.com"},
        {"op": "replace", "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            f"{ENTERPRISE}:employeeNumber": "Aklq",
        }},
    ))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    current = entra(scim, "GET", f"/Users/{user_id}").get_json()
    assert current["displayName"] == "Bjfe"
    assert current["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
    assert (current["name"]["givenName"], current["name"]["familyName"]) == ("Kkom", "Unua")
    assert current[ENTERPRISE]["employeeNumber"] == "Aklq"

    # KNOWN_ISSUES, "Requests made to add a single-value string attribute", both shapes.
    for op, nick in (("Add", "Babs"), ("add", "Barbara")):
        response = entra(scim, "PATCH", f"/Users/{user_id}", patch({"op": op, "path": "nickName", "value": nick}))
        assert response.status_code in (200, 204), response.get_data(as_text=True)
        assert entra(scim, "GET", f"/Users/{user_id}").get_json()["nickName"] == nick

    # KNOWN_ISSUES, "Requests made to disable users", without feature flag: "False" as a string.
    response = entra(scim, "PATCH", f"/Users/{user_id}",
                     patch({"op": "Replace", "path": "active", "value": "False"}))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    disabled = entra(scim, "GET", f"/Users/{user_id}")
    assert disabled.status_code == 200 and disabled.get_json()["active"] is False
    # A disabled user is still found by Entra's query, with active false (the scimvalidator test).
    found = search(scim, "Users", f'userName eq "{new_user_name}"')
    assert found["totalResults"] == 1 and found["Resources"][0]["active"] is False

    # Re-enable: the same body with "True"; then TUTORIAL "Disable User" (boolean) and back.
    for value, expected in (("True", True), (False, False), (True, True)):
        response = entra(scim, "PATCH", f"/Users/{user_id}",
                         patch({"op": "Replace", "path": "active", "value": value}))
        assert response.status_code in (200, 204), response.get_data(as_text=True)
        assert entra(scim, "GET", f"/Users/{user_id}").get_json()["active"] is expected

    # TUTORIAL, "Delete User": 204, then gone.
    assert entra(scim, "DELETE", f"/Users/{user_id}").status_code == 204
    assert entra(scim, "GET", f"/Users/{user_id}").status_code == 404
    assert search(scim, "Users", f'userName eq "{new_user_name}"')["totalResults"] == 0


def test_create_with_string_booleans(scim: ScimClient) -> None:
    """Entra sends booleans as strings ("True"/"False", KNOWN_ISSUES); a create may carry them too."""
    body = entra_create_user()
    body["active"] = "True"
    body["emails"][0]["primary"] = "True"
    response = entra(scim, "POST", "/Users", body)
    assert response.status_code == 201, response.get_data(as_text=True)
    user = response.get_json()
    assert user["active"] is True and user["emails"][0]["primary"] is True
    # ... and filters on them (`primary eq "True"`).
    found = search(scim, "Users", 'emails[primary eq "True"].value eq '
                   '"Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"')
    assert [r["id"] for r in found["Resources"]] == [user["id"]]


def test_manager_as_a_bare_id(scim: ScimClient) -> None:
    """Entra's attribute mapping sends the enterprise manager as the manager's id alone."""
    manager_id = entra(scim, "POST", "/Users", user_body("manager@testuser.com")).get_json()["id"]
    user_id = entra(scim, "POST", "/Users", entra_create_user()).get_json()["id"]
    response = entra(scim, "PATCH", f"/Users/{user_id}", patch(
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager_id}))
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    assert entra(scim, "GET", f"/Users/{user_id}").get_json()[ENTERPRISE]["manager"]["value"] == manager_id
    # Also inside a create.
    body = user_body("report@testuser.com")
    body["schemas"].append(ENTERPRISE)
    body[ENTERPRISE] = {"manager": manager_id, "department": "Sales"}
    created = entra(scim, "POST", "/Users", body)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()[ENTERPRISE]["manager"]["value"] == manager_id
    assert created.get_json()[ENTERPRISE]["department"] == "Sales"


def _members(scim: ScimClient, group_id: str) -> set[str]:
    response = entra(scim, "GET", f"/Groups/{group_id}")
    assert response.status_code == 200
    return {m["value"] for m in response.get_json().get("members") or []}


def test_group_lifecycle_with_membership_churn(scim: ScimClient) -> None:
    ids = []
    for n in range(80):
        response = entra(scim, "POST", "/Users", user_body(f"Test_User_{n:02d}@testuser.com"))
        assert response.status_code == 201
        ids.append(response.get_json()["id"])

    # TUTORIAL: Entra looks the group up by displayName before creating it.
    lookup = search(scim, "Groups", 'displayName eq "displayName"', "excludedAttributes=members&")
    assert lookup["totalResults"] == 0

    created = entra(scim, "POST", "/Groups", entra_create_group())
    assert created.status_code == 201, created.get_data(as_text=True)
    group = created.get_json()
    group_id = group["id"]
    assert group["displayName"] == "displayName"
    assert group["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"

    # TUTORIAL, "Get Group" and "Get Group by displayName", both with excludedAttributes=members.
    got = entra(scim, "GET", f"/Groups/{group_id}?excludedAttributes=members")
    assert got.status_code == 200 and "members" not in got.get_json()
    lookup = search(scim, "Groups", 'displayName eq "displayName"', "excludedAttributes=members&")
    assert [g["id"] for g in lookup["Resources"]] == [group_id]
    assert "members" not in lookup["Resources"][0]

    expected: set[str] = set()

    def send(body: dict[str, Any]) -> None:
        response = entra(scim, "PATCH", f"/Groups/{group_id}", body)
        # TUTORIAL: a group PATCH "should yield an HTTP 204 No Content"; 200 is allowed too.
        assert response.status_code in (200, 204), response.get_data(as_text=True)

    send(entra_add_members(ids[:50]))
    expected |= set(ids[:50])
    assert _members(scim, group_id) == expected
    send(entra_remove_members(ids[:10]))                  # removes only those ten
    expected -= set(ids[:10])
    assert _members(scim, group_id) == expected
    send(entra_add_members(ids[50:70]))
    expected |= set(ids[50:70])
    for member_id in ids[10:13]:                          # the "with feature flag" shape
        send(entra_remove_member_flagged(member_id))
    expected -= set(ids[10:13])
    send(entra_add_members(ids[70:80]))
    expected |= set(ids[70:80])
    send(entra_remove_members([ids[20]]))
    expected -= {ids[20]}
    assert _members(scim, group_id) == expected
    assert len(expected) == 66

    # Entra's membership check: filter on id and members.value, members excluded.
    for member_id, present in ((ids[30], True), (ids[5], False)):
        check = search(scim, "Groups", f'id eq "{group_id}" and members.value eq "{member_id}"',
                       "excludedAttributes=members&")
        assert check["totalResults"] == (1 if present else 0)

    # TUTORIAL, "Update Group [Non-member attributes]".
    new_name = "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    send(patch({"op": "Replace", "path": "displayName", "value": new_name}))
    assert entra(scim, "GET", f"/Groups/{group_id}?excludedAttributes=members").get_json()["displayName"] == new_name
    assert _members(scim, group_id) == expected
    assert search(scim, "Groups", f'displayName eq "{new_name}"')["totalResults"] == 1
    assert search(scim, "Groups", 'displayName eq "displayName"')["totalResults"] == 0

    # A member that is deleted leaves the group.
    assert entra(scim, "DELETE", f"/Users/{ids[79]}").status_code == 204
    expected -= {ids[79]}
    assert _members(scim, group_id) == expected

    # TUTORIAL, "Delete Group".
    assert entra(scim, "DELETE", f"/Groups/{group_id}").status_code == 204
    assert entra(scim, "GET", f"/Groups/{group_id}").status_code == 404
    assert entra(scim, "GET", f"/Users/{ids[40]}").status_code == 200
