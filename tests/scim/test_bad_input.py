"""Bad input through the SCIM door: each malformed request gets its RFC 7644 §3.12 error, and the
store is unchanged afterwards.

Every error body carries the Error schema URN, ``status`` as a string, the ``scimType`` the RFC
names for the fault (where it names one), and never a traceback; a 500 never appears. The store
is counted (users and groups, and the version of the resources the requests aimed at) before
and after each request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask

from scim_server.app import create_app
from scim_server.settings import Settings
from tests.scim.conftest import (
    GROUP_SCHEMA,
    USER_SCHEMA,
    Account,
    ScimClient,
    patch_body,
    user_body,
)

pytestmark = pytest.mark.usefixtures("fast_password_hash")

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
TRACEBACK_MARKS = ("Traceback", 'File "', "site-packages", "sqlalchemy", "psycopg", "pydantic.dev")


@dataclass
class Store:
    user_id: str
    group_id: str
    user_version: str
    group_version: str


@pytest.fixture
def store(scim: ScimClient) -> Store:
    user = scim.post("/Users", user_body("existing@acme.example")).get_json()
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Existing",
                                  "members": [{"value": user["id"]}]}).get_json()
    user = scim.get(f"/Users/{user['id']}").get_json()
    return Store(user["id"], group["id"], user["meta"]["version"], group["meta"]["version"])


def snapshot(scim: ScimClient, store: Store) -> tuple[Any, ...]:
    users = scim.get("/Users?count=0").get_json()["totalResults"]
    groups = scim.get("/Groups?count=0").get_json()["totalResults"]
    user = scim.get(f"/Users/{store.user_id}").get_json()
    group = scim.get(f"/Groups/{store.group_id}").get_json()
    return users, groups, user["meta"]["version"], user["userName"], group["meta"]["version"], group["displayName"]


def assert_error(response: Any, status: int, scim_types: set[str | None] | None) -> dict[str, Any]:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    for mark in TRACEBACK_MARKS:
        assert mark not in text, text
    body = response.get_json(force=True)
    assert ERROR_URN in body["schemas"], body
    assert body["status"] == str(status), body  # a string (RFC 7644 §3.12)
    if scim_types is not None:
        assert body.get("scimType") in scim_types, body
    return body


@dataclass
class Case:
    id: str
    method: str
    path: str
    body: Any = None
    raw: str | bytes | None = None
    content_type: str = "application/scim+json"
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 400
    scim_types: set[str | None] | None = None


def cases() -> list[Case]:
    """Paths may hold {user} and {group}; RFC 7644 §3.12 names the scimType of each fault."""
    syntax = {"invalidSyntax"}
    value = {"invalidValue"}
    syntax_or_value = {"invalidSyntax", "invalidValue"}
    return [
        # bodies that are not the JSON object of the request
        Case("malformed-json", "POST", "/Users", raw='{"userName": ', scim_types=syntax),
        Case("json-array", "POST", "/Users", raw="[]", scim_types=syntax_or_value),
        Case("json-string", "POST", "/Users", raw='"hello"', scim_types=syntax_or_value),
        Case("empty-body", "POST", "/Users", raw="", scim_types=syntax_or_value),
        Case("malformed-json-put", "PUT", "/Users/{user}", raw="{", scim_types=syntax),
        Case("malformed-json-patch", "PATCH", "/Groups/{group}", raw="{nope}", scim_types=syntax),
        Case("malformed-json-search", "POST", "/Users/.search", raw="{", scim_types=syntax),
        Case("malformed-json-bulk", "POST", "/Bulk", raw="{", scim_types=syntax),
        # wrong types
        Case("userName-number", "POST", "/Users", user_body("x@acme.example", userName=123), scim_types=syntax_or_value),
        Case("active-maybe", "POST", "/Users", user_body("x@acme.example", active="maybe"), scim_types=syntax_or_value),
        Case("emails-not-list", "POST", "/Users", user_body("x@acme.example", emails=42), scim_types=syntax_or_value),
        Case("name-not-object", "POST", "/Users", user_body("x@acme.example", name="Bob"), scim_types=syntax_or_value),
        Case("members-not-list", "POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "G",
                                                     "members": "everyone"}, scim_types=syntax_or_value),
        Case("missing-userName", "POST", "/Users", {"schemas": [USER_SCHEMA], "displayName": "No Name"},
             scim_types=value),
        Case("missing-displayName", "POST", "/Groups", {"schemas": [GROUP_SCHEMA]}, scim_types=value),
        Case("put-wrong-type", "PUT", "/Users/{user}", user_body("existing@acme.example", active=[1]),
             scim_types=syntax_or_value),
        Case("patch-active-maybe", "PATCH", "/Users/{user}",
             patch_body({"op": "replace", "path": "active", "value": "maybe"}), scim_types=syntax_or_value),
        # PATCH documents
        Case("patch-no-operations", "PATCH", "/Users/{user}", {"schemas": [patch_body()["schemas"][0]]},
             scim_types=syntax_or_value),
        Case("patch-unknown-op", "PATCH", "/Users/{user}",
             patch_body({"op": "frobnicate", "path": "active", "value": False}), scim_types=syntax_or_value),
        Case("patch-remove-without-path", "PATCH", "/Users/{user}", patch_body({"op": "remove"}),
             scim_types={"noTarget"}),
        Case("patch-unknown-path", "PATCH", "/Users/{user}",
             patch_body({"op": "replace", "path": "invalidPath", "value": "x"}), scim_types={"invalidPath"}),
        Case("patch-broken-path", "PATCH", "/Users/{user}",
             patch_body({"op": "replace", "path": 'emails[type eq "work"', "value": "x"}),
             scim_types={"invalidPath"}),
        Case("patch-broken-members-path", "PATCH", "/Groups/{group}",
             patch_body({"op": "remove", "path": "members[value eq"}), scim_types={"invalidPath"}),
        # read-only attributes (RFC 7644 §3.5.2: mutability)
        Case("patch-id", "PATCH", "/Users/{user}", patch_body({"op": "replace", "path": "id", "value": "x"}),
             scim_types={"mutability"}),
        Case("patch-meta", "PATCH", "/Users/{user}",
             patch_body({"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"}),
             scim_types={"mutability"}),
        Case("patch-group-id", "PATCH", "/Groups/{group}",
             patch_body({"op": "replace", "path": "id", "value": "x"}), scim_types={"mutability"}),
        Case("patch-groups-readonly", "PATCH", "/Users/{user}",
             patch_body({"op": "add", "path": "groups", "value": [{"value": "{group}"}]}),
             scim_types={"mutability"}),
        # filters (RFC 7644 §3.4.2.2)
        Case("filter-missing-value", "GET", "/Users?filter=" + quote("userName eq"), scim_types={"invalidFilter"}),
        Case("filter-nonsense", "GET", "/Users?filter=" + quote("foo bar"), scim_types={"invalidFilter"}),
        Case("filter-unknown-operator", "GET", "/Users?filter=" + quote('userName xx "a"'),
             scim_types={"invalidFilter"}),
        Case("filter-unbalanced", "GET", "/Users?filter=" + quote('(userName eq "a"'), scim_types={"invalidFilter"}),
        Case("filter-unterminated-string", "GET", "/Groups?filter=" + quote('displayName eq "a'),
             scim_types={"invalidFilter"}),
        Case("filter-dangling-and", "GET", "/Users?filter=" + quote('userName eq "a" and'),
             scim_types={"invalidFilter"}),
        Case("filter-search-body", "POST", "/Users/.search", {"schemas": [SEARCH_REQUEST], "filter": "userName eq"},
             scim_types={"invalidFilter"}),
        Case("filter-root", "GET", "/?filter=" + quote("foo bar"), scim_types={"invalidFilter"}),
        # paging
        Case("invalid-cursor", "GET", "/Users?count=10&cursor=not-a-cursor", scim_types={"invalidCursor"}),
        Case("cursor-and-startIndex", "GET", "/Users?cursor=&startIndex=1", scim_types=value),
        Case("count-not-a-number", "GET", "/Users?count=ten", scim_types=syntax_or_value),
        # uniqueness (RFC 7644 §3.3: 409 uniqueness)
        Case("duplicate-userName-case", "POST", "/Users", user_body("EXISTING@Acme.Example"), status=409,
             scim_types={"uniqueness"}),
        Case("duplicate-displayName", "POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Existing"},
             status=409, scim_types={"uniqueness"}),
        # media types (RFC 7644 §3.8 / RFC 9110 §15.5.16)
        Case("text-plain", "POST", "/Users", raw=json.dumps(user_body("x@acme.example")),
             content_type="text/plain", status=415),
        Case("xml", "PUT", "/Users/{user}", raw="<user/>", content_type="application/xml", status=415),
        Case("form", "PATCH", "/Users/{user}", raw="active=false",
             content_type="application/x-www-form-urlencoded", status=415),
        # ETags (RFC 7644 §3.14)
        Case("stale-if-match-put", "PUT", "/Users/{user}", user_body("existing@acme.example"),
             headers={"If-Match": 'W/"stale"'}, status=412),
        Case("stale-if-match-patch", "PATCH", "/Groups/{group}",
             patch_body({"op": "replace", "path": "displayName", "value": "Renamed"}),
             headers={"If-Match": 'W/"stale"'}, status=412),
        Case("stale-if-match-delete", "DELETE", "/Users/{user}", headers={"If-Match": 'W/"stale"'}, status=412),
        # routes
        Case("unknown-resource-type", "GET", "/Foos", status=404),
        Case("unknown-id", "GET", "/Users/does-not-exist", status=404),
        Case("delete-collection", "DELETE", "/Users", status=405),
    ]


def _fill(value: Any, store: Store) -> Any:
    text = json.dumps(value).replace("{user}", store.user_id).replace("{group}", store.group_id)
    return json.loads(text)


def test_bad_requests_are_refused_and_change_nothing(scim: ScimClient, store: Store) -> None:
    """The whole table on one app (an app per case would cost more than the cases): every
    failing case is listed, by id, in the assertion message."""
    failures = []
    before = snapshot(scim, store)
    for case in cases():
        path = case.path.replace("{user}", store.user_id).replace("{group}", store.group_id)
        body = _fill(case.body, store) if case.body is not None else None
        response = scim.request(case.method, path, body, raw=case.raw, content_type=case.content_type,
                                headers=case.headers)
        try:
            assert_error(response, case.status, case.scim_types)
            if case.method != "GET":
                assert snapshot(scim, store) == before, "the store changed"
        except AssertionError as exc:
            failures.append(f"{case.id}: {case.method} {case.path} -> {str(exc).splitlines()[0]}")
    assert not failures, f"{len(failures)} of {len(cases())} bad requests mishandled:\n" + "\n".join(failures)


def test_renaming_onto_an_existing_userName_is_a_conflict(scim: ScimClient, store: Store) -> None:
    other = scim.post("/Users", user_body("other@acme.example")).get_json()
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Second"}).get_json()
    before = snapshot(scim, store)
    patch = scim.patch(f"/Users/{other['id']}",
                       patch_body({"op": "replace", "path": "userName", "value": "Existing@ACME.example"}))
    assert_error(patch, 409, {"uniqueness"})
    put = scim.put(f"/Users/{other['id']}", user_body("existing@acme.example"))
    assert_error(put, 409, {"uniqueness"})
    rename = scim.patch(f"/Groups/{group['id']}",
                        patch_body({"op": "replace", "path": "displayName", "value": "Existing"}))
    assert_error(rename, 409, {"uniqueness"})
    assert snapshot(scim, store) == before
    assert scim.get(f"/Users/{other['id']}").get_json()["userName"] == "other@acme.example"


# -- limits: an app on the same database with small limits ----------------------------------------


@pytest.fixture
def limited(app: Flask, database_url: str, account: Account) -> ScimClient:
    settings = Settings.from_env(
        {}, database_url=database_url, secret_key="test-secret-key-0123456789",
        max_body_bytes=8192, bulk_max_operations=3, bulk_max_payload_bytes=4096,
        max_results=5, default_page_size=5,
    )
    small = create_app(settings)
    small.config["TESTING"] = True
    return ScimClient(small.test_client(), account.token)


def test_oversized_body_is_413(limited: ScimClient, scim: ScimClient, store: Store) -> None:
    before = snapshot(scim, store)
    body = user_body("big@acme.example", displayName="x" * 20_000)
    assert_error(limited.post("/Users", body), 413, None)
    assert_error(limited.put(f"/Users/{store.user_id}", user_body("existing@acme.example", title="x" * 20_000)),
                 413, None)
    assert snapshot(scim, store) == before


def test_bulk_limits_are_413(limited: ScimClient, scim: ScimClient, store: Store) -> None:
    before = snapshot(scim, store)
    too_many = {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": user_body(f"bulk{n}@acme.example")}
        for n in range(4)
    ]}
    assert_error(limited.post("/Bulk", too_many), 413, None)
    too_big = {"schemas": [BULK_REQUEST], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": user_body("bulk@acme.example",
                                                                              displayName="y" * 5000)}
    ]}
    assert_error(limited.post("/Bulk", too_big), 413, None)
    assert snapshot(scim, store) == before
    # The limits are the ones advertised.
    bulk = limited.get("/ServiceProviderConfig").get_json()["bulk"]
    assert (bulk["maxOperations"], bulk["maxPayloadSize"]) == (3, 4096)


def test_count_over_max_results_is_capped(limited: ScimClient, scim: ScimClient) -> None:
    """RFC 7644 §3.4.2.4: count is the desired maximum; the server returns at most its own."""
    for n in range(8):
        assert scim.post("/Users", user_body(f"page{n}@acme.example")).status_code == 201
    response = limited.get("/Users?count=500")
    assert response.status_code == 200
    body = response.get_json()
    assert body["totalResults"] == 9
    assert body["itemsPerPage"] == len(body["Resources"]) == 5
    # The same through POST .search and at the root.
    searched = limited.post("/Users/.search", {"schemas": [SEARCH_REQUEST], "count": 1000}).get_json()
    assert len(searched["Resources"]) == 5 and searched["totalResults"] == 9


@pytest.mark.parametrize("start_index", ["0", "-1", "-100"])
def test_start_index_below_one_is_one(scim: ScimClient, store: Store, start_index: str) -> None:
    """RFC 7644 §3.4.2.4: "A value less than 1 SHALL be interpreted as 1"."""
    response = scim.get(f"/Users?startIndex={start_index}&count=10")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["startIndex"] == 1
    assert body["totalResults"] == 2 and len(body["Resources"]) == 2


def test_negative_count_is_zero(scim: ScimClient, store: Store) -> None:
    """RFC 7644 §3.4.2.4: "A negative value SHALL be interpreted as 0"."""
    response = scim.get("/Users?count=-5")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["totalResults"] == 2 and not body.get("Resources")


# -- hostile strings --------------------------------------------------------------------------


@pytest.mark.parametrize("user_name", [
    "\u202eevil\u202c@acme.example",                 # RTL override
    "\u05e9\u05dc\u05d5\u05dd@acme.example",          # Hebrew
    "\U0001f600\U0001f469\u200d\U0001f4bb@acme.example",  # emoji with a ZWJ sequence
    "e\u0301tienne@acme.example",                    # combining accent, not normalised
    "o'brien\"; DROP TABLE users;--@acme.example",
    "100%_like\\escape@acme.example",
])
def test_unicode_round_trips_exactly(scim: ScimClient, user_name: str) -> None:
    created = scim.post("/Users", user_body("u@acme.example", userName=user_name, displayName=user_name))
    assert created.status_code == 201, created.get_data(as_text=True)
    user = created.get_json()
    assert user["userName"] == user_name and user["displayName"] == user_name
    fetched = scim.get(f"/Users/{user['id']}").get_json()
    assert fetched["userName"] == user_name and fetched["displayName"] == user_name
    escaped = user_name.replace("\\", "\\\\").replace('"', '\\"')
    found = scim.get("/Users?filter=" + quote(f'userName eq "{escaped}"')).get_json()
    assert [r["id"] for r in found["Resources"]] == [user["id"]]
    # LIKE metacharacters are literal: sw on the prefix finds this user only.
    prefix = escaped[:6]
    found = scim.get("/Users?filter=" + quote(f'userName sw "{prefix}"')).get_json()
    assert user["id"] in {r["id"] for r in found["Resources"]}
    assert all(r["userName"].lower().startswith(user_name[:6].lower()) for r in found["Resources"])


@pytest.mark.parametrize("user_name", ["a" * 10_000 + "@acme.example", "nul\u0000byte@acme.example"])
def test_hostile_strings_are_stored_exactly_or_refused(scim: ScimClient, store: Store, user_name: str,
                                                       database_url: str, request: pytest.FixtureRequest) -> None:
    before = snapshot(scim, store)
    response = scim.post("/Users", user_body("h@acme.example", userName=user_name))
    if response.status_code == 201:
        user_id = response.get_json()["id"]
        assert response.get_json()["userName"] == user_name
        assert scim.get(f"/Users/{user_id}").get_json()["userName"] == user_name
    else:
        assert_error(response, 400, {"invalidValue", "invalidSyntax"})
        assert snapshot(scim, store) == before
    # The same string in a filter never breaks the search.
    escaped = user_name.replace("\u0000", "\\u0000")
    search = scim.get("/Users?filter=" + quote(f'userName eq "{escaped}"'))
    assert search.status_code in (200, 400), search.get_data(as_text=True)


def test_no_500_on_garbage(scim: ScimClient, store: Store) -> None:
    """A sweep of odd requests on every route: each is answered, none with a 500 or a traceback."""
    before = snapshot(scim, store)
    paths = ["/Users", f"/Users/{store.user_id}", "/Groups", f"/Groups/{store.group_id}", "/Bulk",
             "/Users/.search", "/.search", "/Me", "/ServiceProviderConfig", "/Schemas", "/ResourceTypes"]
    bodies: list[Any] = [None, {}, [], "x", 1, None, {"schemas": "nope"}, {"Operations": [None]},
                         {"schemas": [BULK_REQUEST], "Operations": [{"method": "FOO", "path": "/x"}]},
                         {"schemas": [SEARCH_REQUEST], "sortBy": "", "count": "many"},
                         {"schemas": [USER_SCHEMA], "userName": {"nested": True}}]
    for path in paths:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            for body in bodies:
                if method == "DELETE" and path in (f"/Users/{store.user_id}", f"/Groups/{store.group_id}"):
                    continue
                response = scim.request(method, path, body)
                text = response.get_data(as_text=True)
                # 501 is the RFC's answer for what is not implemented (e.g. POST /Me).
                assert response.status_code < 500 or response.status_code == 501, (method, path, body, text)
                assert "Traceback" not in text
    for query in ("attributes=%00", "sortBy=%22", "sortOrder=sideways", "excludedAttributes=[",
                  "filter=" + quote('emails[type eq "work"]]'), "count=99999999999999999999",
                  "startIndex=1e9", "cursor=%ff%fe"):
        response = scim.get(f"/Users?{query}")
        assert response.status_code < 500, (query, response.get_data(as_text=True))
    assert snapshot(scim, store) == before


def test_deleting_the_admin_holding_the_token_is_refused(scim: ScimClient, store: Store) -> None:
    """A domain rule refusing the DELETE is a 4xx SCIM error, not a 500 (RFC 7644 §3.12)."""
    me = scim.get("/Me").get_json()
    before = snapshot(scim, store)
    for path in (f"/Users/{me['id']}", "/Me"):
        response = scim.delete(path)
        assert 400 <= response.status_code < 500, response.get_data(as_text=True)
        assert_error(response, response.status_code, None)
    assert scim.get(f"/Users/{me['id']}").status_code == 200
    assert snapshot(scim, store) == before
