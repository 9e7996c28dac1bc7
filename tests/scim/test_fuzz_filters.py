"""A bounded property-based run of SCIM filters (issue 11) against GET /Users, /Groups and the
root, and POST .search: random text and grammar-shaped filters (attribute paths with
sub-attributes and URNs, value paths, every operator, and/or/not, parentheses, strings with odd
Unicode and escapes, numbers, booleans, null, dates in and out of range). Whatever the filter,
the answer is a ListResponse or a SCIM error in the 4xx range, never a 5xx.

Bounded for CI: ``SCIM_FUZZ_EXAMPLES`` examples per test (150 by default), no deadline, and
derandomized when ``CI`` is set, so a CI failure replays the same way on a laptop.
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scim.conftest import GROUP_SCHEMA, ScimClient, user_body

pytestmark = pytest.mark.usefixtures("fast_password_hash")

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SCIM_TYPES_400 = {"invalidFilter", "invalidValue", "invalidSyntax", "invalidPath", "invalidCursor",
                  "invalidCount", "expiredCursor"}
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ACCOUNT_EXT = "urn:scim-server:schemas:extension:account:1.0:User"

FUZZ = settings(
    max_examples=int(os.environ.get("SCIM_FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    database=None,
    # The app and its database are set up once per test, not per example: every request here
    # is a read, so the examples share them safely.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)

ATTRIBUTES = [
    "userName", "displayName", "nickName", "title", "active", "id", "externalId", "locale",
    "name", "name.givenName", "name.familyName", "name.formatted",
    "emails", "emails.value", "emails.type", "emails.primary", "phoneNumbers.value",
    "addresses.postalCode", "addresses.primary", "x509Certificates.value", "groups",
    "groups.value", "groups.display", "members", "members.value", "members.display",
    "meta.created", "meta.lastModified", "meta.version", "meta.resourceType", "meta.location",
    "password", "schemas",
    f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:manager.value", f"{ENTERPRISE}:manager",
    f"{ACCOUNT_EXT}:userType", f"{ACCOUNT_EXT}:status",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "urn:ietf:params:scim:schemas:core:2.0:Group:displayName",
    "unknownAttr", "name.unknownSub", "urn:nope:attr",
]
MULTI_VALUED = ["emails", "phoneNumbers", "addresses", "members", "groups", "x509Certificates"]
SUB_ATTRIBUTES = ["value", "type", "primary", "display", "postalCode", "$ref", "nope"]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]

# Characters that have broken SCIM servers: NUL, lone surrogates (spelled as the grammar's JSON
# escapes), quotes, backslashes, LIKE metacharacters, right-to-left marks, emoji, combining marks.
ODD = ["\\u0000", "\\ud800", "\\udfff", "\\ud83d\\ude00", '\\"', "\\\\", "%", "_", "\u202e",
       "\U0001f600", "e\u0301", "\u00df", "\u0130", "\uffff", "'", "*", "\\n"]


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


strings = st.one_of(
    st.text(max_size=12).map(lambda t: f'"{_escape(t)}"'),
    st.lists(st.one_of(st.sampled_from(ODD), st.text(max_size=3).map(_escape)), max_size=5)
    .map(lambda parts: '"' + "".join(parts) + '"'),
    st.sampled_from(['"work"', '"home"', '"admin@acme.example"', '"Admins"', '""', '"W/\\"1\\""']),
)
dates = st.one_of(
    st.datetimes().map(lambda d: f'"{d.isoformat()}Z"'),
    st.sampled_from([
        '"9999-12-31T23:59:59-05:00"', '"0001-01-01T00:00:00+05:00"', '"10000-01-01T00:00:00Z"',
        '"0000-01-01T00:00:00Z"', '"2024-02-30T00:00:00Z"', '"2024-01-01"', '"2024-01-01T25:00:00Z"',
        '"1970-01-01T00:00:00+14:00"', '"2024-06-01T12:00:00.123456789Z"',
    ]),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["1e400", "-0", "0.0", "1E5", "00012"]),
)
values = st.one_of(strings, dates, numbers, st.sampled_from(["true", "false", "null", "True"]))


def attribute_paths() -> st.SearchStrategy[str]:
    return st.sampled_from(ATTRIBUTES)


def comparisons() -> st.SearchStrategy[str]:
    compare = st.builds(lambda a, o, v: f"{a} {o} {v}", attribute_paths(), st.sampled_from(OPERATORS), values)
    present = attribute_paths().map(lambda a: f"{a} pr")
    return st.one_of(compare, present)


def value_filters() -> st.SearchStrategy[str]:
    inner = st.builds(lambda a, o, v: f"{a} {o} {v}", st.sampled_from(SUB_ATTRIBUTES),
                      st.sampled_from(OPERATORS), values) | st.sampled_from(SUB_ATTRIBUTES).map(lambda a: f"{a} pr")
    inner = st.recursive(inner, lambda c: st.one_of(
        st.builds(lambda a, b, op: f"{a} {op} {b}", c, c, st.sampled_from(["and", "or"])),
        c.map(lambda a: f"not ({a})"),
    ), max_leaves=4)
    suffix = st.sampled_from(["", "", ".value", ".type", ".nope"])
    return st.builds(lambda attr, body, tail: f"{attr}[{body}]{tail}", st.sampled_from(MULTI_VALUED), inner, suffix)


def filters() -> st.SearchStrategy[str]:
    leaves = st.one_of(comparisons(), value_filters())
    return st.recursive(leaves, lambda children: st.one_of(
        st.builds(lambda a, b, op: f"{a} {op} {b}", children, children, st.sampled_from(["and", "or", "AND", "Or"])),
        children.map(lambda a: f"not ({a})"),
        children.map(lambda a: f"({a})"),
    ), max_leaves=12)


def mangled() -> st.SearchStrategy[str]:
    """Grammar-shaped filters with a random cut or insertion, and plain random text."""
    cut = st.builds(lambda f, i: f[: i % (len(f) + 1)], filters(), st.integers(0, 200))
    noise = st.builds(lambda f, i, junk: f[: i % (len(f) + 1)] + junk + f[i % (len(f) + 1):],
                      filters(), st.integers(0, 200), st.sampled_from(["(", ")", "[", "]", '"', "\\", " ", "not", "."]))
    return st.one_of(cut, noise, st.text(max_size=40))


def check(response: Any, what: Any) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, (what, response.status_code, text)
    body = json.loads(text) if text else None
    if response.status_code == 200:
        assert LIST_URN in body["schemas"], (what, text)
        return
    assert 400 <= response.status_code < 500, (what, response.status_code, text)
    assert ERROR_URN in body["schemas"] and body["status"] == str(response.status_code), (what, text)
    if response.status_code == 400:
        assert body.get("scimType") in SCIM_TYPES_400, (what, text)
    assert "Traceback" not in text


@pytest.fixture
def seeded(scim: ScimClient) -> ScimClient:
    """A few users and a group, so filters have rows to match and miss."""
    ids = []
    for name, extra in (("alice@acme.example", {"title": "Engineer", "nickName": "al"}),
                        ("b\u00f6b@acme.example", {"displayName": "B\u00f6b \U0001f600"}),
                        ("carol@acme.example", {"phoneNumbers": [{"value": "+1 555", "type": "work"}]})):
        response = scim.post("/Users", user_body(name, **extra))
        assert response.status_code == 201, response.get_data(as_text=True)
        ids.append(response.get_json()["id"])
    group = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Admins",
                                  "members": [{"value": ids[0]}]})
    assert group.status_code == 201
    return scim


def _run(scim: ScimClient, expression: str) -> None:
    for path in ("/Users", "/Groups"):
        check(scim.get(f"{path}?filter=" + quote(expression, safe="")), (path, expression))
    check(scim.post("/Users/.search", {"schemas": [SEARCH_URN], "filter": expression, "count": 5}),
          (".search", expression))


def test_grammar_shaped_filters(seeded: ScimClient) -> None:
    @FUZZ
    @given(expression=filters())
    def run(expression: str) -> None:
        _run(seeded, expression)

    run()


def test_mangled_and_random_filters(seeded: ScimClient) -> None:
    @FUZZ
    @given(expression=mangled())
    def run(expression: str) -> None:
        check(seeded.get("/Users?filter=" + quote(expression, safe="")), expression)
        check(seeded.get("/?filter=" + quote(expression, safe="")), ("/", expression))
        check(seeded.post("/Groups/.search", {"schemas": [SEARCH_URN], "filter": expression}),
              ("/Groups/.search", expression))

    run()


def test_filters_with_paging_and_sorting(seeded: ScimClient) -> None:
    @FUZZ
    @given(expression=filters(),
           sort_by=st.sampled_from([None, "userName", "meta.lastModified", "emails.value", "name.givenName", "nope"]),
           start=st.one_of(st.none(), st.integers(-(2**70), 2**70)),
           count=st.one_of(st.none(), st.integers(-(2**70), 2**70)),
           cursor=st.sampled_from([None, "", "garbage", "AQ"]))
    def run(expression: str, sort_by: str | None, start: int | None, count: int | None, cursor: str | None) -> None:
        query: dict[str, Any] = {"filter": expression}
        for key, value in (("sortBy", sort_by), ("startIndex", start), ("count", count), ("cursor", cursor)):
            if value is not None:
                query[key] = value
        check(seeded.get("/Users", query=query), query)
        body = {"schemas": [SEARCH_URN], **query}
        check(seeded.post("/.search", body), body)

    run()
