"""Each quirk id is recorded for the shape it names, and an RFC 7644 request records none."""

from __future__ import annotations

from typing import Any

import pytest

from scim_server.scim.quirks import QUIRKS, applied

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:patchop"
KNOWN = frozenset({GROUP, PATCH_OP})
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def ops(*operations: dict[str, Any], key: str = "Operations") -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], key: list(operations)}


EXAMPLES: list[tuple[str, Any]] = [
    ("op-capitalised", ops({"op": "Replace", "path": "displayName", "value": "x"})),
    ("operations-key-case", ops({"op": "add", "path": "title", "value": "x"}, key="operations")),
    ("string-boolean", ops({"op": "replace", "path": "active", "value": "False"})),
    ("string-boolean", {"userName": "a", "active": "true"}),
    ("string-boolean", ops({"op": "add", "path": "emails",
                            "value": [{"value": "a@b.c", "primary": "True"}]})),
    ("entra-member-remove-by-value", ops({"op": "remove", "path": "members",
                                          "value": [{"value": "u1"}]})),
    ("okta-id-in-patch-value", ops({"op": "replace", "value": {"id": "u1", "active": False}})),
    ("dotted-path-in-value", ops({"op": "replace", "value": {"name.givenName": "A"}})),
    ("manager-bare-id", {"userName": "a", ENT: {"manager": "boss"}}),
    ("manager-bare-id", ops({"op": "add", "path": f"{ENT}:manager", "value": "boss"})),
    ("manager-without-ref", {"userName": "a", ENT: {"manager": {"value": "boss"}}}),
    ("foreign-schema-dropped", {"schemas": [GROUP, ADSCIM], "displayName": "g"}),
]


@pytest.mark.parametrize(("quirk", "document"), EXAMPLES,
                         ids=[f"{q}-{n}" for n, (q, _) in enumerate(EXAMPLES)])
def test_each_shape_records_its_id(quirk: str, document: Any) -> None:
    assert quirk in QUIRKS
    assert quirk in applied(document, KNOWN)


def test_every_id_has_an_example() -> None:
    assert {q for q, _ in EXAMPLES} == set(QUIRKS)


@pytest.mark.parametrize("document", [
    {"schemas": [GROUP], "displayName": "g", "members": [{"value": "u1"}]},
    {"userName": "a", "active": True, ENT: {"manager": {"value": "b", "$ref": "Users/b"}}},
    ops({"op": "remove", "path": 'members[value eq "u1"]'},
        {"op": "replace", "value": {"displayName": "x", "active": False}},
        {"op": "add", "path": "members", "value": [{"value": "u2"}]}),
    {"Operations": [{"method": "POST", "path": "/Users", "data": {"userName": "a"}}]},
])
def test_an_rfc_request_records_none(document: Any) -> None:
    assert applied(document, KNOWN) == []


def test_bulk_data_is_inspected() -> None:
    bulk = {"Operations": [{"method": "POST", "path": "/Users",
                            "data": {"userName": "a", "active": "True"}}]}
    assert applied(bulk) == ["string-boolean"]
