"""Hostile input through the SCIM door (issue 11): each is a 400 with a SCIM error body on both
engines, never a 500; the response headers of the door; paging cursors sealed to their account."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest

from scim_server.storage.filters import MAX_FILTER_TERMS
from tests.scim.conftest import GROUP_SCHEMA, ScimClient, user_body
from tests.scim.test_bad_input import assert_error

pytestmark = pytest.mark.usefixtures("fast_password_hash")

SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def search(scim: ScimClient, path: str, **fields: Any) -> Any:
    return scim.post(f"{path}/.search", {"schemas": [SEARCH_REQUEST], **fields})


# -- lone surrogates ---------------------------------------------------------------------------

# The filter grammar decodes JSON escapes: "\ud800" in a filter is a lone surrogate once parsed.
SURROGATE_FILTERS = [
    'userName eq "\\ud800"',              # the indexed exact lookup
    'title sw "a\\udfff"',                # the compiled filter
    'emails.value co "\\ud800"',          # a multi-valued attribute
    'emails[type eq "work" and value eq "\\ud800"]',
    'displayName eq "x" or not (nickName ew "\\udc00")',
]


@pytest.mark.parametrize("expression", SURROGATE_FILTERS)
def test_a_lone_surrogate_in_a_filter_is_an_invalid_filter(scim: ScimClient, expression: str) -> None:
    assert_error(scim.get("/Users?filter=" + quote(expression)), 400, {"invalidFilter"})
    assert_error(search(scim, "/Users", filter=expression), 400, {"invalidFilter"})
    assert_error(scim.get("/?filter=" + quote(expression)), 400, {"invalidFilter"})


def test_a_lone_surrogate_in_a_group_filter(scim: ScimClient) -> None:
    for expression in ('displayName eq "\\ud800"', 'externalId sw "\\ud800"'):
        assert_error(scim.get("/Groups?filter=" + quote(expression)), 400, {"invalidFilter"})


def test_a_surrogate_pair_is_text(scim: ScimClient) -> None:
    """A pair is one character (U+1F600): found, not refused."""
    created = scim.post("/Users", user_body("smile@acme.example", displayName="a\U0001f600")).get_json()
    found = scim.get("/Users?filter=" + quote('displayName eq "a\\ud83d\\ude00"'))
    assert found.status_code == 200, found.get_data(as_text=True)
    assert [r["id"] for r in found.get_json()["Resources"]] == [created["id"]]


# -- paging numbers no engine holds ----------------------------------------------------------------

@pytest.mark.parametrize("query", [
    "startIndex=99999999999999999999",
    "startIndex=9223372036854775809&count=1",
    "startIndex=99999999999999999999&sortBy=meta.lastModified",
    "startIndex=99999999999999999999&filter=" + quote("id pr"),
    "count=99999999999999999999",
])
def test_a_paging_number_past_64_bits_is_an_invalid_value(scim: ScimClient, query: str) -> None:
    for path in ("/Users", "/Groups", "/"):
        assert_error(scim.get(f"{path}?{query}"), 400, {"invalidValue"})


def test_a_paging_number_past_64_bits_in_a_search_body(scim: ScimClient) -> None:
    assert_error(search(scim, "/Users", startIndex=99999999999999999999), 400, {"invalidValue"})
    assert_error(search(scim, "/Groups", count=2**64), 400, {"invalidValue"})


def test_the_largest_start_index_is_an_empty_page(scim: ScimClient) -> None:
    response = scim.get(f"/Users?startIndex={2**63 - 1}")
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["totalResults"] == 1 and body["itemsPerPage"] == 0 and not body.get("Resources")


# -- dates past year 9999 ----------------------------------------------------------------------

@pytest.mark.parametrize("expression", [
    # Valid where written, but past 9999-12-31T23:59:59Z (or before year 1) once in UTC.
    'meta.lastModified gt "9999-12-31T23:59:59-05:00"',
    'meta.created eq "9999-12-31T23:00:00-01:00"',
    'meta.lastModified lt "0001-01-01T00:00:00+05:00"',
    'meta.lastModified gt "10000-01-01T00:00:00Z"',
])
@pytest.mark.parametrize("path", ["/Users", "/Groups"])
def test_a_date_out_of_range_is_an_invalid_filter(scim: ScimClient, path: str, expression: str) -> None:
    assert_error(scim.get(f"{path}?filter=" + quote(expression)), 400, {"invalidFilter"})
    assert_error(search(scim, path, filter=expression), 400, {"invalidFilter"})


def test_the_last_date_in_range_is_a_filter(scim: ScimClient) -> None:
    response = scim.get("/Users?filter=" + quote('meta.lastModified lt "9999-12-31T23:59:59Z"'))
    assert response.status_code == 200 and response.get_json()["totalResults"] == 1


# -- wide filters -------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [
    'userName eq "u{i}"',
    'displayName co "x{i}"',
    'emails[type eq "work" and value co "x{i}"]',
    'not (title sw "t{i}")',
])
def test_a_filter_wider_than_the_limit_is_refused_on_every_engine(scim: ScimClient, shape: str) -> None:
    """1,000 terms broke SQLite's expression depth (a 500); the limit is the same everywhere, and
    a filter at the limit runs on both engines."""
    def terms(n: int) -> str:
        return " or ".join(shape.format(i=i) for i in range(n))

    for n in (1000, MAX_FILTER_TERMS + 1):
        assert_error(search(scim, "/Users", filter=terms(n)), 400, {"invalidFilter"})
    at_limit = search(scim, "/Users", filter=terms(MAX_FILTER_TERMS // 2 if "and" in shape else MAX_FILTER_TERMS))
    assert at_limit.status_code == 200, at_limit.get_data(as_text=True)


def test_a_wide_group_filter_is_refused(scim: ScimClient) -> None:
    expression = " or ".join(f'displayName eq "g{i}"' for i in range(1000))
    assert_error(search(scim, "/Groups", filter=expression), 400, {"invalidFilter"})
    assert_error(search(scim, "", filter=expression), 400, {"invalidFilter"})


# -- headers ------------------------------------------------------------------------------------

def assert_private(response: Any) -> None:
    assert response.headers.get("Cache-Control") == "no-store", dict(response.headers)
    assert response.headers.get("X-Content-Type-Options") == "nosniff", dict(response.headers)


def test_every_scim_response_is_private(scim: ScimClient) -> None:
    created = scim.post("/Users", user_body("h@acme.example"))
    assert created.status_code == 201
    user_id = created.get_json()["id"]
    for response in (
        created,
        scim.get("/Users"),
        scim.get(f"/Users/{user_id}"),
        scim.get("/ServiceProviderConfig"),
        scim.get("/Users/nope"),                          # 404
        scim.get("/Users?filter=" + quote("bad filter")),  # 400
        scim.delete("/Users"),                            # 405
        ScimClient(scim.client, None).get("/Users"),      # 401
        ScimClient(scim.client, "wrong").get("/Users"),   # 401
        scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "G"}),
    ):
        assert_private(response)


# -- cursors sealed to their account ------------------------------------------------------------

def _first_cursor(scim: ScimClient, path: str = "/Users", **query: Any) -> tuple[str, list[str]]:
    page = scim.get(path, query={"count": 1, "cursor": "", **query})
    assert page.status_code == 200, page.get_data(as_text=True)
    body = page.get_json()
    return body["nextCursor"], [r["id"] for r in body["Resources"]]


def test_a_cursor_serves_its_own_account(scim: ScimClient) -> None:
    for n in range(2):
        scim.post("/Users", user_body(f"c{n}@acme.example"))
    cursor, first = _first_cursor(scim)
    second = scim.get("/Users", query={"count": 1, "cursor": cursor})
    assert second.status_code == 200, second.get_data(as_text=True)
    assert [r["id"] for r in second.get_json()["Resources"]] != first


def test_a_cursor_of_another_account_is_an_invalid_cursor(scim: ScimClient, other_scim: ScimClient) -> None:
    for n in range(3):
        scim.post("/Users", user_body(f"a{n}@acme.example"))
        other_scim.post("/Users", user_body(f"b{n}@globex.example"))
    cursor, _ = _first_cursor(scim)
    assert_error(other_scim.get("/Users", query={"count": 1, "cursor": cursor}), 400, {"invalidCursor"})
    assert_error(search(other_scim, "/Users", count=1, cursor=cursor), 400, {"invalidCursor"})
    # The other way round, and on a search body, and at the root.
    cursor, _ = _first_cursor(other_scim)
    assert_error(scim.get("/Users", query={"count": 1, "cursor": cursor}), 400, {"invalidCursor"})
    body_cursor = search(scim, "/Users", count=1, cursor="").get_json()["nextCursor"]
    assert_error(search(other_scim, "/Users", count=1, cursor=body_cursor), 400, {"invalidCursor"})
    root_cursor, _ = _first_cursor(scim, "/")
    assert_error(other_scim.get("/", query={"count": 1, "cursor": root_cursor}), 400, {"invalidCursor"})
    # Its own account still pages with it.
    assert scim.get("/", query={"count": 1, "cursor": root_cursor}).status_code == 200


def test_a_tampered_cursor_is_an_invalid_cursor(scim: ScimClient) -> None:
    for n in range(2):
        scim.post("/Users", user_body(f"t{n}@acme.example"))
    cursor, _ = _first_cursor(scim)
    flipped = cursor[:20] + ("A" if cursor[20] != "A" else "B") + cursor[21:]
    assert_error(scim.get("/Users", query={"count": 1, "cursor": flipped}), 400, {"invalidCursor"})
    assert_error(scim.get("/Users", query={"count": 1, "cursor": cursor[:-4]}), 400, {"invalidCursor"})
    assert_error(scim.get("/Users", query={"count": 1, "cursor": json.dumps({"d": "next"})}), 400,
                 {"invalidCursor"})


def test_a_method_no_route_takes_is_a_405_with_allow(scim: ScimClient) -> None:
    response = scim.request("TRACE", "/Users")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert_private(response)
