"""Rewrites of the IdP quirks that scim2-models does not absorb by itself."""

from __future__ import annotations

from scim_server.scim.quirks import normalise

ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_manager_bare_string_in_a_resource_becomes_complex():
    doc = {"userName": "a", ENT: {"manager": "boss-id", "department": "R&D"}}
    assert normalise(doc) is True
    assert doc[ENT] == {"manager": {"value": "boss-id", "$ref": "Users/boss-id"}, "department": "R&D"}


def test_manager_bare_string_in_a_patch_path():
    doc = {"Operations": [{"op": "Add", "path": f"{ENT}:manager", "value": "boss"}]}
    assert normalise(doc) is True
    assert doc["Operations"][0]["value"] == {"value": "boss", "$ref": "Users/boss"}


def test_manager_in_a_pathless_patch_and_in_bulk_data():
    doc = {"Operations": [
        {"op": "replace", "value": {ENT: {"manager": "m1"}}},
        {"method": "POST", "path": "/Users", "data": {ENT: {"manager": "m2"}}},
    ]}
    assert normalise(doc) is True
    assert doc["Operations"][0]["value"][ENT]["manager"] == {"value": "m1", "$ref": "Users/m1"}
    assert doc["Operations"][1]["data"][ENT]["manager"] == {"value": "m2", "$ref": "Users/m2"}


def test_a_complex_manager_without_ref_gets_one():
    doc = {"userName": "a", ENT: {"manager": {"value": "x"}}}
    assert normalise(doc) is True
    assert doc[ENT]["manager"] == {"value": "x", "$ref": "Users/x"}


def test_nothing_to_rewrite_leaves_the_document_alone():
    doc = {"userName": "a", ENT: {"manager": {"value": "x", "$ref": "Users/x"}}}
    assert normalise(doc) is False
    assert doc == {"userName": "a", ENT: {"manager": {"value": "x", "$ref": "Users/x"}}}


def test_foreign_schema_without_attributes_is_dropped_known_ones_kept():
    known = frozenset({"urn:ietf:params:scim:schemas:core:2.0:group"})
    doc = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                       "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
           "displayName": "g"}
    assert normalise(doc, known) is True
    assert doc["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]
    # A foreign schema whose attributes are present stays: the models then refuse it clearly.
    doc = {"schemas": ["urn:x:foo"], "urn:x:foo": {"a": 1}}
    assert normalise(doc, known) is False
