"""The membership PATCH reader: each IdP shape becomes row steps, anything else falls back."""

from __future__ import annotations

import pytest

from scim_server.scim.membership import MemberChange, split_group_patch


def steps(ops):
    split = split_group_patch(ops)
    assert split is not None
    return [(c.kind, c.ids) for c in split.member_changes], split.other_operations


def test_add_members_list():
    assert steps([{"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]}]) == (
        [("add", ["a", "b"])], [])


def test_remove_by_value_filter_okta():
    assert steps([{"op": "remove", "path": 'members[value eq "u1"]'}]) == ([("remove", ["u1"])], [])


def test_entra_remove_with_value_array_removes_only_those():
    ops = [{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]
    assert steps(ops) == ([("remove", ["u1", "u2"])], [])


def test_remove_members_without_value_clears():
    assert steps([{"op": "remove", "path": "members"}]) == ([("clear", [])], [])


def test_replace_members_is_clear_then_add():
    ops = [{"op": "replace", "path": "members", "value": [{"value": "x"}]}]
    assert steps(ops) == ([("clear", []), ("add", ["x"])], [])


def test_pathless_value_splits_members_from_other_attributes():
    ops = [{"op": "replace", "value": {"displayName": "New", "members": [{"value": "m"}]}}]
    changes, others = steps(ops)
    assert changes == [("clear", []), ("add", ["m"])]
    assert others == [{"op": "replace", "value": {"displayName": "New"}}]


def test_other_attribute_passes_through():
    ops = [{"op": "Replace", "path": "displayName", "value": "Renamed"}]
    assert steps(ops) == ([], ops)


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "add", "path": 'members[value eq "u1"].display', "value": "x"}],
        [{"op": "remove", "path": 'members[value eq "a" or value eq "b"]'}],
        [{"op": "add", "path": "members", "value": [{"display": "no id"}]}],
        [{"op": "move", "path": "members", "value": []}],
        ["not an object"],
    ],
)
def test_unrecognised_shapes_fall_back_to_the_generic_patch(ops):
    assert split_group_patch(ops) is None


def test_member_change_defaults():
    assert MemberChange("clear").ids == []
