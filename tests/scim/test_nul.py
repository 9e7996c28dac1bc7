"""U+0000 anywhere in a SCIM request is answered clearly on both engines (PostgreSQL cannot
store or compare it): never a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.scim.conftest import ScimClient, patch_body, user_body


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "le"])
def test_a_nul_in_a_filter_value_matches_nothing(scim: ScimClient, op: str) -> None:
    scim.post("/Users", user_body("plain@acme.example"))
    response = scim.get("/Users?filter=" + quote(f'userName {op} "a\\u0000b"'))
    assert response.status_code == 200, response.get_data(as_text=True)
    # Only "ne" holds against a value that is never stored: both users (the admin and plain).
    assert response.get_json()["totalResults"] == (2 if op == "ne" else 0)


def test_a_nul_in_an_id_or_a_body(scim: ScimClient) -> None:
    assert scim.get("/Users/abc%00def").status_code in (400, 404)
    created = scim.post("/Users", user_body("nul@acme.example")).get_json()
    patched = scim.patch(f"/Users/{created['id']}", patch_body(
        {"op": "replace", "path": "displayName", "value": "x\u0000y"}))
    assert patched.status_code == 400
    assert patched.get_json()["scimType"] == "invalidValue"
    search = scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                          "filter": 'displayName eq "a"', "sortBy": "x\u0000"})
    assert search.status_code == 400
