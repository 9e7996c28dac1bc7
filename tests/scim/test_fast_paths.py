"""Every fast path answers exactly what the general path answers, on both engines.

The fast paths: a resource read served from its stored document (``AccountScimHandler.query``),
exact lookups and single-type pages as one prepared statement (``SqlScimStorage.search``), and
the stored documents of a search without attribute parameters. The general path is scim2-server's
stock handler (a model per resource, published and serialised) over the storage's general
search (the filter compiler, a UNION of types, a count). The same request, made both ways on
the same data, must give the same status, the same headers and the same body, byte for byte
(sealed cursors aside: each seal has a fresh nonce).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from scim2_server.handler import ScimHandler

from scim_server.scim.handler import AccountScimHandler
from scim_server.storage.scim_storage import SqlScimStorage
from tests.scim.conftest import ScimClient
from tests.scim.test_plain_search import directory, rich_user  # noqa: F401  (the shared data)

HEADERS = ("Content-Type", "ETag", "Content-Location", "Location")

READS = [
    "/Users/{boss}",
    "/Users/{report}",
    "/Groups/{team}",
    "/Users/nobody",
    "/Groups/nobody",
    '/Users?filter=userName eq "report@acme.example"',
    '/Users?filter=USERNAME eq "REPORT@ACME.EXAMPLE"',
    '/Users?filter=urn:ietf:params:scim:schemas:core:2.0:User:userName eq "boss@acme.example"',
    '/Users?filter=userName eq "nobody@acme.example"',
    '/Users?filter=externalId eq "ext-boss@acme.example"',
    '/Users?filter=externalId eq "EXT-BOSS@ACME.EXAMPLE"',
    '/Users?filter=id eq "{boss}"',
    '/Users?filter=emails[type eq "work"].value eq "boss@acme.example"',
    '/Users?filter=emails[value eq "babs@jensen.example"]',
    '/Users?filter=emails.value eq "BABS@jensen.example"',
    '/Users?filter=emails[type eq "home"].value eq "boss@acme.example"',
    '/Users?filter=emails[type eq "work"].value eq "babs@jensen.example"&count=1',
    '/Users?filter=emails.value eq "babs@jensen.example"&count=1&startIndex=2',
    '/Users?filter=emails.value eq "babs@jensen.example"&count=0',
    '/Users?filter=userName eq "a\u0000b"',
    '/Groups?filter=displayName eq "team"',
    '/Groups?filter=externalId eq "team-1"',
    '/Groups?filter=id eq "{team}"',
    "/Users",
    "/Users?count=2&startIndex=3",
    "/Users?count=2&startIndex=50",
    "/Users?count=0",
    "/Users?sortBy=userName&count=3",
    "/Users?sortBy=name.familyName&sortOrder=descending&count=3",
    '/Users?filter=name.familyName eq "Jensen"&count=1&startIndex=2',
    "/Users?count=2&cursor",
    "/Users?count=2&cursor&sortBy=userName",
    "/Users?count=0&cursor",
    "/Groups",
    "/Groups?count=1&cursor",
]


def _canonical(response: Any) -> tuple[int, dict[str, str | None], str]:
    body = response.get_data(as_text=True)
    if body:
        document = json.loads(body)
        for key in ("nextCursor", "previousCursor"):
            if key in document:
                document[key] = "sealed"
        body = json.dumps(document)  # same key order as sent: byte for byte otherwise
    return response.status_code, {h: response.headers.get(h) for h in HEADERS}, body


def both_ways(scim: ScimClient, monkeypatch: pytest.MonkeyPatch, path: str,
              headers: dict[str, str] | None = None) -> tuple[Any, Any]:
    fast = scim.get(path, headers=headers)
    with monkeypatch.context() as general:
        general.setattr(AccountScimHandler, "search", ScimHandler.search)
        general.setattr(AccountScimHandler, "query", ScimHandler.query)
        general.setattr(SqlScimStorage, "fast_paths", False)
        stock = scim.get(path, headers=headers)
    return fast, stock


@pytest.mark.parametrize("path", READS)
def test_a_fast_path_answers_as_the_general_path(
    directory: dict[str, str], scim: ScimClient, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    path: str,
) -> None:
    ids = {**directory, "team": _team(scim)}
    fast, stock = both_ways(scim, monkeypatch, path.format(**ids))
    assert _canonical(fast) == _canonical(stock)


def test_a_conditional_read_answers_as_the_general_path(
    directory: dict[str, str], scim: ScimClient, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    path = f"/Users/{directory['boss']}"
    etag = scim.get(path).headers["ETag"]
    for headers in ({"If-None-Match": etag}, {"If-None-Match": 'W/"0"'}, {"If-None-Match": "*"}):
        fast, stock = both_ways(scim, monkeypatch, path, headers)
        assert _canonical(fast) == _canonical(stock)
    assert scim.get(path, headers={"If-None-Match": etag}).status_code == 304


def test_cursors_of_both_paths_walk_the_same_pages(
    directory: dict[str, str], scim: ScimClient, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    for path in ("/Users?count=2&cursor", "/Users?count=2&cursor&sortBy=userName"):
        fast, stock = both_ways(scim, monkeypatch, path)
        for walk in (fast.get_json(), stock.get_json()):
            seen = [r["id"] for r in walk["Resources"]]
            page = walk
            while "nextCursor" in page:
                # Each path follows the other's cursor: one position format.
                forward, _ = both_ways(scim, monkeypatch, f"{path.split('&cursor')[0]}&cursor="
                                       f"{page['nextCursor']}{path.split('&cursor')[1]}")
                page = forward.get_json()
                seen += [r["id"] for r in page["Resources"]]
                assert page["previousCursor"]
            assert len(seen) == len(set(seen)) == walk["totalResults"]


def _team(scim: ScimClient) -> str:
    return str(scim.get('/Groups?filter=displayName eq "Team"').get_json()["Resources"][0]["id"])



WRITES = [
    ("POST", "/Users", lambda ids: rich_user("new@acme.example")),
    ("POST", "/Users", lambda ids: {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                    "userName": "bare@acme.example"}),
    ("POST", "/Users", lambda ids: {**rich_user("off@acme.example"), "active": False}),
    ("PUT", "/Users/{boss}", lambda ids: {**rich_user("boss@acme.example"), "title": "Boss"}),
    ("PATCH", "/Users/{report}", lambda ids: {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": False}]}),
    ("PATCH", "/Users/{report}", lambda ids: {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Guide"},
                       {"op": "add", "path": "nickName", "value": "Rep"}]}),
    ("POST", "/Groups", lambda ids: {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                     "displayName": "New", "members": [{"value": ids["boss"]}]}),
    ("PUT", "/Groups/{team}", lambda ids: {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Team",
        "externalId": "team-2", "members": [{"value": ids["report"]}]}),
]


@pytest.mark.parametrize("fast_paths", [True, False], ids=["fast", "general"])
@pytest.mark.parametrize(("method", "path", "make"), WRITES,
                         ids=[f"{w[0]} {w[1]} #{n}" for n, w in enumerate(WRITES)])
def test_a_write_answers_what_a_read_then_gives(
    directory: dict[str, str], scim: ScimClient, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    method: str, path: str, make: Any, fast_paths: bool,
) -> None:
    """A write answers the resource as stored (built from what it wrote, not read back): the
    very JSON and ETag that the stock path's read of it then gives."""
    ids = {**directory, "team": _team(scim)}
    monkeypatch.setattr(SqlScimStorage, "fast_paths", fast_paths)
    written = scim.request(method, path.format(**ids), make(ids))
    assert written.status_code in (200, 201), written.get_json()
    with monkeypatch.context() as general:
        general.setattr(AccountScimHandler, "query", ScimHandler.query)
        general.setattr(SqlScimStorage, "fast_paths", False)
        read = scim.get(written.headers["Content-Location"].split("/scim/v2", 1)[1])
    assert written.get_data(as_text=True) == read.get_data(as_text=True)
    assert written.headers["ETag"] == read.headers["ETag"]
