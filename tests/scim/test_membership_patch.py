"""Group-membership PATCH through HTTP: the O(delta) path keeps what IdPs send and skips what
does not exist, whichever account it belongs to (RFC 7644 §3.5.2)."""

from __future__ import annotations

from tests.scim.conftest import GROUP_SCHEMA, ScimClient, patch_body, user_body


def _group(scim: ScimClient, name: str = "Engineering") -> dict:
    response = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": name})
    assert response.status_code == 201
    return response.get_json()


def _members(scim: ScimClient, group_id: str) -> dict[str, str]:
    group = scim.get(f"/Groups/{group_id}").get_json()
    return {m["value"]: m.get("display") for m in group.get("members", [])}


def test_a_display_sent_with_a_member_is_kept(scim: ScimClient) -> None:
    user = scim.post("/Users", user_body("dana@acme.example")).get_json()
    group = _group(scim)
    response = scim.patch(f"/Groups/{group['id']}", patch_body(
        {"op": "add", "path": "members", "value": [{"value": user["id"], "display": "Dana (Ops)"}]}))
    assert response.status_code == 204
    assert _members(scim, group["id"]) == {user["id"]: "Dana (Ops)"}
    # Without a display, the member's own name is shown.
    other = scim.post("/Users", user_body("eve@acme.example", displayName="Eve")).get_json()
    scim.patch(f"/Groups/{group['id']}", patch_body(
        {"op": "add", "path": "members", "value": [{"value": other["id"]}]}))
    assert _members(scim, group["id"])[other["id"]] == "Eve"


def test_unknown_and_foreign_member_ids_are_skipped_alike(
    scim: ScimClient, other_scim: ScimClient
) -> None:
    mine = scim.post("/Users", user_body("fay@acme.example")).get_json()
    foreign = other_scim.post("/Users", user_body("gus@globex.example")).get_json()
    group = _group(scim)
    answers = []
    for bogus in ("no-such-id", foreign["id"]):
        response = scim.patch(f"/Groups/{group['id']}", patch_body(
            {"op": "add", "path": "members", "value": [{"value": mine["id"]}, {"value": bogus}]}))
        answers.append((response.status_code, response.get_data()))
    # The same answer for a missing id and another account's id: nothing is learnt.
    assert answers[0] == answers[1] == (204, b"")
    assert set(_members(scim, group["id"])) == {mine["id"]}


def test_a_rename_in_the_same_patch_as_member_changes(scim: ScimClient) -> None:
    users = [scim.post("/Users", user_body(f"u{n}@acme.example")).get_json()["id"] for n in range(3)]
    group = _group(scim)
    response = scim.patch(f"/Groups/{group['id']}", patch_body(
        {"op": "replace", "value": {"displayName": "Renamed", "members": [{"value": users[0]}]}},
        {"op": "add", "path": "members", "value": [{"value": users[1]}, {"value": users[2]}]},
        {"op": "remove", "path": f'members[value eq "{users[1]}"]'},
    ))
    assert response.status_code == 204
    fetched = scim.get(f"/Groups/{group['id']}").get_json()
    assert fetched["displayName"] == "Renamed"
    assert {m["value"] for m in fetched["members"]} == {users[0], users[2]}
    assert fetched["meta"]["version"] != group["meta"]["version"]
    assert response.headers["ETag"] == fetched["meta"]["version"]


def test_the_plain_group_read_matches_the_generic_serialisation(scim: ScimClient) -> None:
    """GET /Groups/{id} builds members as plain JSON; the generic path (taken when attribute
    parameters are given) must give the same members, URLs included, and the same ETag."""
    users = [scim.post("/Users", user_body(f"p{n}@acme.example")).get_json()["id"] for n in range(4)]
    sub = _group(scim, "Nested")
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Parent", "members": [
        *({"value": u} for u in users), {"value": sub["id"]}]}).get_json()
    fast = scim.get(f"/Groups/{group['id']}")
    generic = scim.get(f"/Groups/{group['id']}", query={"excludedAttributes": "externalId"})
    assert fast.status_code == generic.status_code == 200
    assert fast.headers["ETag"] == generic.headers["ETag"]

    def by_value(response):
        return sorted(response.get_json()["members"], key=lambda m: m["value"])

    assert by_value(fast) == by_value(generic)
    assert {m["type"] for m in by_value(fast)} == {"User", "Group"}
    assert all(m["$ref"].startswith("http://localhost/scim/v2/") for m in by_value(fast))
    # If-None-Match still answers 304 on the plain read.
    assert scim.get(f"/Groups/{group['id']}", headers={"If-None-Match": fast.headers["ETag"]}).status_code == 304
