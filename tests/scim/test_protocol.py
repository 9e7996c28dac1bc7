"""The SCIM protocol through HTTP: ETags, attribute projection, sorting, index and cursor paging,
Bulk with bulkId references, discovery that advertises exactly what is served, /Me, media types
and the full filter grammar (RFC 7644 §3.4.2.2, RFC 9865)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from scim_server.storage.schema import ACCOUNT_EXTENSION_URN
from tests.scim.conftest import (
    ENTERPRISE,
    GROUP_SCHEMA,
    USER_SCHEMA,
    Account,
    ScimClient,
    patch_body,
    user_body,
)

pytestmark = pytest.mark.usefixtures("fast_password_hash")

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def create(scim: ScimClient, body: dict[str, Any], endpoint: str = "/Users") -> dict[str, Any]:
    response = scim.post(endpoint, body)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def ids(body: dict[str, Any]) -> list[str]:
    return [r["id"] for r in body.get("Resources", [])]


# -- ETags (RFC 7644 §3.14) --------------------------------------------------------------------


def test_etags(scim: ScimClient) -> None:
    created = scim.post("/Users", user_body("etag@acme.example"))
    user = created.get_json()
    version = user["meta"]["version"]
    assert version and created.headers["ETag"] == version
    fetched = scim.get(f"/Users/{user['id']}")
    assert fetched.headers["ETag"] == version == fetched.get_json()["meta"]["version"]

    not_modified = scim.get(f"/Users/{user['id']}", headers={"If-None-Match": version})
    assert not_modified.status_code == 304 and not not_modified.get_data()
    assert scim.get(f"/Users/{user['id']}", headers={"If-None-Match": 'W/"other"'}).status_code == 200

    put = scim.put(f"/Users/{user['id']}", user_body("etag@acme.example", displayName="Changed"),
                   headers={"If-Match": version})
    assert put.status_code == 200, put.get_data(as_text=True)
    new_version = put.get_json()["meta"]["version"]
    assert new_version != version and put.headers["ETag"] == new_version

    stale = scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "path": "displayName", "value": "X"}),
                       headers={"If-Match": version})
    assert stale.status_code == 412
    assert stale.get_json()["status"] == "412"
    assert scim.get(f"/Users/{user['id']}").get_json()["displayName"] == "Changed"
    assert scim.delete(f"/Users/{user['id']}", headers={"If-Match": version}).status_code == 412

    patched = scim.patch(f"/Users/{user['id']}", patch_body({"op": "replace", "path": "displayName", "value": "Y"}),
                         headers={"If-Match": new_version})
    assert patched.status_code == 200 and patched.headers["ETag"] != new_version
    assert scim.get(f"/Users/{user['id']}", headers={"If-None-Match": new_version}).status_code == 200

    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Versioned"})
    group_version = group.get_json()["meta"]["version"]
    assert group.headers["ETag"] == group_version
    member = scim.patch(f"/Groups/{group.get_json()['id']}",
                        patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]}))
    assert member.status_code in (200, 204)
    # A membership change is a change of the group: its version moves.
    assert scim.get(f"/Groups/{group.get_json()['id']}").get_json()["meta"]["version"] != group_version


# -- attributes and excludedAttributes (RFC 7644 §3.4.2.5) ------------------------------------


def test_attribute_projection(scim: ScimClient) -> None:
    user = create(scim, user_body("proj@acme.example", title="Chief", nickName="P"))
    one = scim.get(f"/Users/{user['id']}?attributes=userName,name.givenName").get_json()
    assert one["userName"] == "proj@acme.example" and one["id"] == user["id"]
    assert one["name"] == {"givenName": "Test"}
    assert "emails" not in one and "title" not in one and "nickName" not in one

    excluded = scim.get(f"/Users/{user['id']}?excludedAttributes=emails,title").get_json()
    assert "emails" not in excluded and "title" not in excluded
    assert excluded["nickName"] == "P" and excluded["userName"] == "proj@acme.example"

    listed = scim.get("/Users?filter=" + quote('userName eq "proj@acme.example"') + "&attributes=title").get_json()
    assert listed["Resources"] == [{"schemas": listed["Resources"][0]["schemas"], "id": user["id"],
                                    "title": "Chief"}] or (
        set(listed["Resources"][0]) <= {"schemas", "id", "title", "meta"}
        and listed["Resources"][0]["title"] == "Chief")

    searched = scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": 'userName eq "proj@acme.example"',
                                            "excludedAttributes": ["emails", "name"]}).get_json()
    resource = searched["Resources"][0]
    assert "emails" not in resource and "name" not in resource and resource["title"] == "Chief"

    group = create(scim, {"schemas": [GROUP_SCHEMA], "displayName": "Projected",
                          "members": [{"value": user["id"]}]}, "/Groups")
    bare = scim.get(f"/Groups/{group['id']}?excludedAttributes=members").get_json()
    assert "members" not in bare and bare["displayName"] == "Projected"
    assert scim.get(f"/Groups/{group['id']}?attributes=members").get_json()["members"][0]["value"] == user["id"]
    # On write responses too (RFC 7644 §3.9).
    put = scim.put(f"/Users/{user['id']}?attributes=userName", user_body("proj@acme.example"))
    assert put.status_code == 200 and "emails" not in put.get_json()


# -- sorting and paging ------------------------------------------------------------------------


NAMES = ["mike", "alpha", "zulu", "echo", "charlie", "bravo", "yankee"]


@pytest.fixture
def people(scim: ScimClient) -> dict[str, str]:
    return {n: create(scim, user_body(f"{n}@sort.example", displayName=n.title()))["id"] for n in NAMES}


def test_sort(scim: ScimClient, people: dict[str, str]) -> None:
    query = "filter=" + quote('userName ew "@sort.example"')
    ascending = scim.get(f"/Users?{query}&sortBy=userName").get_json()
    assert [r["userName"].split("@")[0] for r in ascending["Resources"]] == sorted(NAMES)
    descending = scim.get(f"/Users?{query}&sortBy=userName&sortOrder=descending").get_json()
    assert [r["userName"].split("@")[0] for r in descending["Resources"]] == sorted(NAMES, reverse=True)
    by_display = scim.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": 'userName ew "@sort.example"',
                                              "sortBy": "displayName", "sortOrder": "ascending"}).get_json()
    assert [r["displayName"] for r in by_display["Resources"]] == sorted(n.title() for n in NAMES)


def test_index_paging(scim: ScimClient, people: dict[str, str]) -> None:
    query = "filter=" + quote('userName ew "@sort.example"') + "&sortBy=userName"
    seen: list[str] = []
    for start in (1, 4, 7):
        page = scim.get(f"/Users?{query}&startIndex={start}&count=3").get_json()
        assert page["totalResults"] == 7 and page["startIndex"] == start
        assert page["itemsPerPage"] == len(page["Resources"]) == min(3, 8 - start)
        seen += [r["userName"].split("@")[0] for r in page["Resources"]]
    assert seen == sorted(NAMES)
    beyond = scim.get(f"/Users?{query}&startIndex=50&count=3").get_json()
    assert beyond["totalResults"] == 7 and not beyond.get("Resources")
    # Without sortBy the order is still stable from page to page.
    unsorted = [ids(scim.get(f"/Users?startIndex={s}&count=2").get_json()) for s in (1, 3, 5, 7)]
    flat = [i for page in unsorted for i in page]
    assert len(flat) == len(set(flat)) == 8


@pytest.mark.parametrize("count", [1, 3, 8, 20])
def test_cursor_paging(scim: ScimClient, people: dict[str, str], count: int) -> None:
    """RFC 9865: count + cursor, then nextCursor until there is none; every user exactly once."""
    seen: list[str] = []
    response = scim.get(f"/Users?count={count}&cursor=")
    pages = 0
    while True:
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert len(body.get("Resources", [])) <= count
        seen += ids(body)
        pages += 1
        cursor = body.get("nextCursor")
        if not cursor:
            break
        assert pages < 20
        response = scim.get(f"/Users?count={count}&cursor={quote(cursor)}")
    assert sorted(seen) == sorted([*people.values(), scim.get("/Me").get_json()["id"]])
    assert len(seen) == len(set(seen))
    # Through POST .search as well, with a filter.
    search = {"schemas": [SEARCH_REQUEST], "filter": 'userName ew "@sort.example"', "count": count, "cursor": ""}
    found: list[str] = []
    while True:
        body = scim.post("/Users/.search", search).get_json()
        found += ids(body)
        if not body.get("nextCursor"):
            break
        search["cursor"] = body["nextCursor"]
    assert sorted(found) == sorted(people.values())


# -- Bulk (RFC 7644 §3.7) --------------------------------------------------------------------


def test_bulk_with_bulk_id_references(scim: ScimClient) -> None:
    response = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Groups", "bulkId": "g1",
         "data": {"schemas": [GROUP_SCHEMA], "displayName": "Bulk Team",
                  "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user_body("bulk1@acme.example")},
        {"method": "POST", "path": "/Users", "bulkId": "u2", "data": user_body("bulk2@acme.example")},
    ]})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert "urn:ietf:params:scim:api:messages:2.0:BulkResponse" in body["schemas"]
    results = {r["bulkId"]: r for r in body["Operations"]}
    assert all(str(r["status"]) == "201" for r in results.values()), results
    user_ids = {results[b]["location"].rsplit("/", 1)[1] for b in ("u1", "u2")}
    group_id = results["g1"]["location"].rsplit("/", 1)[1]
    assert {m["value"] for m in scim.get(f"/Groups/{group_id}").get_json()["members"]} == user_ids

    # A later request can go on by id: PATCH and DELETE in one Bulk.
    u1 = results["u1"]["location"].rsplit("/", 1)[1]
    follow = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "PATCH", "path": f"/Groups/{group_id}",
         "data": patch_body({"op": "remove", "path": f'members[value eq "{u1}"]'})},
        {"method": "DELETE", "path": f"/Users/{u1}"},
    ]}).get_json()
    assert [str(r["status"]) for r in follow["Operations"]] in (["200", "204"], ["204", "204"])
    assert scim.get(f"/Users/{u1}").status_code == 404
    assert {m["value"] for m in scim.get(f"/Groups/{group_id}").get_json()["members"]} == user_ids - {u1}


def test_bulk_fail_on_errors(scim: ScimClient) -> None:
    create(scim, user_body("taken@acme.example"))
    operations = [
        {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("taken@acme.example")},
        {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("TAKEN@acme.example")},
        {"method": "POST", "path": "/Users", "bulkId": "c", "data": user_body("fresh@acme.example")},
    ]
    body = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "failOnErrors": 1, "Operations": operations}).get_json()
    # Processing stops after the first error: "b" and "c" are not attempted.
    assert len(body["Operations"]) == 1
    assert str(body["Operations"][0]["status"]) == "409"
    assert body["Operations"][0]["response"]["scimType"] == "uniqueness"
    assert scim.get("/Users?filter=" + quote('userName eq "fresh@acme.example"')).get_json()["totalResults"] == 0
    # Without failOnErrors every operation runs, each in its own savepoint.
    body = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": operations}).get_json()
    assert [str(r["status"]) for r in body["Operations"]] == ["409", "409", "201"]
    assert scim.get("/Users?filter=" + quote('userName eq "fresh@acme.example"')).get_json()["totalResults"] == 1


# -- discovery (RFC 7644 §4) -----------------------------------------------------------------


def test_service_provider_config_advertises_what_is_served(scim: ScimClient) -> None:
    config = scim.get("/ServiceProviderConfig").get_json()
    assert config["patch"]["supported"] is True
    assert config["bulk"] == {"supported": True, "maxOperations": 1000, "maxPayloadSize": 1048576}
    assert config["filter"] == {"supported": True, "maxResults": 1000}
    assert config["sort"]["supported"] is True
    assert config["etag"]["supported"] is True
    assert config["changePassword"]["supported"] is False
    pagination = config["pagination"]
    assert pagination["cursor"] is True and pagination["index"] is True
    assert pagination["defaultPaginationMethod"] == "index"
    assert pagination["defaultPageSize"] == 100 and pagination["maxPageSize"] == 1000
    assert pagination["cursorTimeout"] > 0
    assert [s["type"] for s in config["authenticationSchemes"]] == ["oauthbearertoken"]
    # ... and what is advertised is served: the default page size holds.
    for n in range(3):
        create(scim, user_body(f"cfg{n}@acme.example"))
    assert scim.get("/Users").get_json()["itemsPerPage"] == 4


def test_schemas_and_resource_types(scim: ScimClient) -> None:
    schemas = scim.get("/Schemas").get_json()
    schema_ids = {s["id"] for s in schemas["Resources"]}
    assert {USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE, ACCOUNT_EXTENSION_URN} <= schema_ids
    ours = scim.get(f"/Schemas/{ACCOUNT_EXTENSION_URN}")
    assert ours.status_code == 200
    assert {a["name"] for a in ours.get_json()["attributes"]} >= {"status", "lastActivity"}

    types = {t["name"]: t for t in scim.get("/ResourceTypes").get_json()["Resources"]}
    assert set(types) == {"User", "Group"}
    assert types["User"]["endpoint"] == "/Users" and types["User"]["schema"] == USER_SCHEMA
    extensions = {e["schema"]: e["required"] for e in types["User"]["schemaExtensions"]}
    assert extensions == {ENTERPRISE: False, ACCOUNT_EXTENSION_URN: False}
    assert scim.get("/ResourceTypes/User").get_json()["id"] == "User"
    assert scim.get("/ResourceTypes/Nope").status_code == 404
    # A user carries the account extension, read-only.
    user = create(scim, user_body("ext@acme.example"))
    assert user[ACCOUNT_EXTENSION_URN]["status"] == "active"


def test_the_read_only_account_extension_under_patch(scim: ScimClient) -> None:
    """RFC 7644 §3.5.2: the extension holds only readOnly attributes. Removing it would
    unassign them: 400 mutability (§3.5.2.2), nothing changed. Adding or replacing it with no
    attribute changes nothing; with one, mutability. The status stays the server's."""
    user = create(scim, user_body("ro@acme.example", active=False))
    path = f"/Users/{user['id']}"
    version = scim.get(path).headers["ETag"]

    removed = scim.request("PATCH", path, patch_body({"op": "remove", "path": ACCOUNT_EXTENSION_URN}))
    assert removed.status_code == 400, removed.get_json()
    assert removed.get_json()["scimType"] == "mutability"
    for op in ("add", "replace"):
        empty = scim.request("PATCH", path, patch_body(
            {"op": op, "path": ACCOUNT_EXTENSION_URN, "value": {}}))
        assert empty.status_code == 200, empty.get_json()
        assert empty.get_json()[ACCOUNT_EXTENSION_URN] == {"status": "inactive"}
        assert empty.headers["ETag"] == version  # nothing was written
        forced = scim.request("PATCH", path, patch_body(
            {"op": op, "path": ACCOUNT_EXTENSION_URN, "value": {"status": "active"}}))
        assert forced.status_code == 400 and forced.get_json()["scimType"] == "mutability"
    assert scim.get(path).get_json()[ACCOUNT_EXTENSION_URN] == {"status": "inactive"}


def test_me_is_the_admin_the_token_was_issued_to(scim: ScimClient, account: Account) -> None:
    me = scim.get("/Me")
    assert me.status_code == 200, me.get_data(as_text=True)
    body = me.get_json()
    assert body["userName"] == account.admin_email
    assert body["userType"] == "Admin"
    assert scim.get(f"/Users/{body['id']}").get_json()["userName"] == account.admin_email


def test_application_json_is_taken_and_answered_as_scim_json(scim: ScimClient) -> None:
    response = scim.request("POST", "/Users", user_body("plain@acme.example"), content_type="application/json",
                            headers={"Accept": "application/json"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Location"] == response.get_json()["meta"]["location"]
    patched = scim.request("PATCH", f"/Users/{response.get_json()['id']}",
                           patch_body({"op": "replace", "path": "title", "value": "T"}),
                           content_type="application/json")
    assert patched.status_code == 200 and patched.get_json()["title"] == "T"
    assert scim.get("/Users").headers["Content-Type"].startswith("application/scim+json")


# -- the filter grammar (RFC 7644 §3.4.2.2) ------------------------------------------------------


@pytest.fixture
def dataset(scim: ScimClient) -> dict[str, Any]:
    alice = create(scim, {**user_body("alice@filt.example", displayName="Alice Smith", title="Engineer",
                                      nickName="ally", externalId="EXT-A"),
                          "emails": [{"value": "alice@filt.example", "type": "work", "primary": True},
                                     {"value": "alice@home.example", "type": "home"}],
                          "schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: {"department": "R&D"}})
    time.sleep(0.05)
    bob = create(scim, {**user_body("bob@filt.example", displayName="Bob Jones", title="Manager",
                                    active=False, externalId="ext-b"),
                        "emails": [{"value": "bob@corp.example", "type": "work", "primary": True}],
                        "schemas": [USER_SCHEMA, ENTERPRISE], ENTERPRISE: {"department": "Sales"}})
    carol = create(scim, user_body("carol@filt.example", displayName="Carol"))
    group = create(scim, {"schemas": [GROUP_SCHEMA], "displayName": "Filter Fans",
                          "members": [{"value": alice["id"]}, {"value": carol["id"]}]}, "/Groups")
    return {"alice": alice, "bob": bob, "carol": carol, "group": group}


SCOPE = ' and userName ew "@filt.example"'
FILTERS = [
    # the ten operators
    ('userName eq "alice@filt.example"', {"alice"}),
    ('title ne "Engineer"', {"bob", "carol"}),           # NULL-safe: carol has no title
    ('displayName co "o"', {"bob", "carol"}),
    ('displayName sw "al"', {"alice"}),                 # caseExact false
    ('userName ew "b@filt.example"', {"bob"}),
    ("title pr", {"alice", "bob"}),
    ('userName gt "bob@filt.example"', {"carol"}),
    ('userName ge "bob@filt.example"', {"bob", "carol"}),
    ('userName lt "bob@filt.example"', {"alice"}),
    ('userName le "bob@filt.example"', {"alice", "bob"}),
    # case rules: attribute names and operators are case-insensitive; userName is caseExact false,
    # externalId is caseExact true (RFC 7643 §3.1)
    ('USERNAME EQ "ALICE@FILT.EXAMPLE"', {"alice"}),
    ('externalId eq "EXT-A"', {"alice"}),
    ('externalId eq "ext-a"', set()),
    # booleans, logic, grouping and precedence (and binds tighter than or)
    ("active eq false", {"bob"}),
    ('title eq "Engineer" or title eq "Manager" and active eq false', {"alice", "bob"}),
    ('(title eq "Engineer" or title eq "Manager") and active eq false', {"bob"}),
    ("not (title pr)", {"carol"}),
    ('not (userName eq "alice@filt.example" or userName eq "bob@filt.example")', {"carol"}),
    # value paths and sub-attributes of multi-valued attributes
    ('emails[type eq "work" and value co "@filt.example"]', {"alice", "carol"}),
    ('emails[type eq "home"]', {"alice"}),
    ('emails.value ew "corp.example"', {"bob"}),
    ('emails[type eq "work" and value eq "bob@corp.example"]', {"bob"}),
    ('emails[primary eq true and value sw "carol"]', {"carol"}),
    # extension attributes, fully qualified
    (f'{ENTERPRISE}:department eq "Sales"', {"bob"}),
    (f'{ENTERPRISE}:department pr', {"alice", "bob"}),
    # escaped quotes and LIKE metacharacters are literal
    ('displayName co "%"', set()),
    ('displayName co "_"', set()),
]


def test_filter_grammar(scim: ScimClient, dataset: dict[str, Any]) -> None:
    by_id = {dataset[n]["id"]: n for n in ("alice", "bob", "carol")}
    failures = []
    for filter_, expected in FILTERS:
        scoped = f"({filter_}){SCOPE}"
        response = scim.get("/Users?filter=" + quote(scoped))
        if response.status_code != 200:
            failures.append(f"{filter_}: {response.status_code} {response.get_data(as_text=True)}")
            continue
        body = response.get_json()
        got = {by_id.get(i, i) for i in ids(body)}
        if got != expected or body["totalResults"] != len(expected):
            failures.append(f"{filter_}: expected {sorted(expected)}, got {sorted(got)} (total {body['totalResults']})")
    assert not failures, "\n".join(failures)


def test_filter_on_meta_last_modified(scim: ScimClient, dataset: dict[str, Any]) -> None:
    since = dataset["alice"]["meta"]["lastModified"]
    found = scim.get("/Users?filter=" + quote(f'meta.lastModified gt "{since}"' + SCOPE)).get_json()
    assert set(ids(found)) == {dataset["bob"]["id"], dataset["carol"]["id"]}
    found = scim.get("/Users?filter=" + quote(f'meta.lastModified ge "{since}"' + SCOPE)).get_json()
    assert dataset["alice"]["id"] in ids(found)
    found = scim.get("/Users?filter=" + quote(f'meta.lastModified lt "{since}"' + SCOPE)).get_json()
    assert found["totalResults"] == 0
    # A change moves lastModified forward.
    time.sleep(0.05)
    scim.patch(f"/Users/{dataset['alice']['id']}", patch_body({"op": "replace", "path": "title", "value": "Lead"}))
    later = dataset["carol"]["meta"]["lastModified"]
    found = scim.get("/Users?filter=" + quote(f'meta.lastModified gt "{later}"' + SCOPE)).get_json()
    assert ids(found) == [dataset["alice"]["id"]]


def test_group_filters(scim: ScimClient, dataset: dict[str, Any]) -> None:
    group_id = dataset["group"]["id"]
    for filter_, expected in (
        (f'members.value eq "{dataset["alice"]["id"]}"', [group_id]),
        (f'members.value eq "{dataset["bob"]["id"]}"', []),
        ('displayName eq "filter fans"', [group_id]),       # displayName is caseExact false
        ('displayName sw "Filter" and members pr', [group_id]),
        (f'id eq "{group_id}"', [group_id]),
    ):
        response = scim.get("/Groups?filter=" + quote(filter_))
        assert response.status_code == 200, (filter_, response.get_data(as_text=True))
        assert ids(response.get_json()) == expected, filter_
    # Root search spans both types (RFC 7644 §3.4.3).
    root = scim.post("/.search", {"schemas": [SEARCH_REQUEST], "filter": 'displayName sw "Filter"'}).get_json()
    assert ids(root) == [group_id]
    root = scim.get("/?filter=" + quote('externalId eq "ext-b"')).get_json()
    assert ids(root) == [dataset["bob"]["id"]]
