"""Reading group-membership PATCH operations as row inserts and deletes (RFC 7644 §3.5.2).

Every shape the identity providers send is recognised: ``add members [...]``, ``remove
members[value eq "id"]``, Entra's ``Remove`` on ``members`` with a ``value`` array, ``replace
members``, and path-less ``add``/``replace`` whose value carries ``members``. An operation of
another shape on members is reported as not understood, and the caller falls back to the
generic (whole-resource) PATCH of scim2-server.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scim_server.storage.members import MemberChange

# members[value eq "2819c223"] — the one filter shape IdPs send on members.
_VALUE_EQ = re.compile(r'^\s*members\s*\[\s*value\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\]\s*$', re.I)


@dataclass
class SplitPatch:
    """A PATCH split into membership steps and the operations on the other attributes."""

    member_changes: list[MemberChange]
    other_operations: list[dict[str, Any]]


def _member_ids(value: Any) -> list[str] | None:
    """The ids of a ``members`` value (a list, or one member), or None when it is malformed."""
    added = _added(value)
    return None if added is None else added.ids


def _added(value: Any) -> MemberChange | None:
    """The add step of a ``members`` value, with the displays sent, or None when malformed."""
    items = value if isinstance(value, list) else [value]
    change = MemberChange("add")
    for item in items:
        member_id = item.get("value") if isinstance(item, dict) else getattr(item, "value", None)
        if not isinstance(member_id, str) or not member_id:
            return None
        change.ids.append(member_id)
        display = item.get("display") if isinstance(item, dict) else getattr(item, "display", None)
        if isinstance(display, str) and display:
            change.displays[member_id] = display
    return change


def _is_members(path: str) -> bool:
    return path.strip().lower() in ("members", "urn:ietf:params:scim:schemas:core:2.0:group:members")


def split_group_patch(operations: list[dict[str, Any]]) -> SplitPatch | None:
    """Split raw PATCH operations (as sent, ``op`` in any case); None when one is not understood."""
    changes: list[MemberChange] = []
    others: list[dict[str, Any]] = []
    for operation in operations:
        if not isinstance(operation, dict):
            return None
        op = str(operation.get("op", "")).lower()
        path = operation.get("path")
        value = operation.get("value")
        if path is None:
            if op not in ("add", "replace") or not isinstance(value, dict):
                return None
            rest = {k: v for k, v in value.items() if not _is_members(k)}
            member_keys = [k for k in value if _is_members(k)]
            for key in member_keys:
                added = _added(value[key])
                if added is None:
                    return None
                if op == "replace":
                    changes.append(MemberChange("clear"))
                changes.append(added)
            if rest:
                others.append({**operation, "value": rest})
            continue
        if not isinstance(path, str):
            return None
        if _is_members(path):
            if op == "add":
                added = _added(value)
                if added is None:
                    return None
                changes.append(added)
            elif op == "replace":
                added = MemberChange("add") if value in (None, []) else _added(value)
                if added is None:
                    return None
                changes.append(MemberChange("clear"))
                if added.ids:
                    changes.append(added)
            elif op == "remove":
                if value is None:
                    changes.append(MemberChange("clear"))
                else:
                    ids = _member_ids(value)
                    if ids is None:
                        return None
                    changes.append(MemberChange("remove", ids))
            else:
                return None
            continue
        match = _VALUE_EQ.match(path)
        if match:
            if op != "remove":
                return None
            changes.append(MemberChange("remove", [match.group(1).replace('\\"', '"')]))
            continue
        if path.strip().lower().startswith("members"):
            return None
        others.append(operation)
    return SplitPatch(changes, others)
