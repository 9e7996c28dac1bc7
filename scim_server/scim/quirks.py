"""Identity-provider quirks the SCIM models do not absorb on their own.

scim2-models already takes ``op`` in any case, booleans as strings, dotted keys in a path-less
``replace``, Entra's value-array removal and unmatched value-path filters (through our
ScimPolicy). What remains is rewritten here, before validation, and only when present:

- the enterprise ``manager`` sent as a bare id string (Entra ID, some Okta mappings) becomes
  ``{"value": id}`` (RFC 7643 §4.3 makes ``manager`` complex).
"""

from __future__ import annotations

from typing import Any

from scim_server.scim.provider import ENTERPRISE_URN

_MANAGER_PATHS = {f"{ENTERPRISE_URN}:manager".lower(), "manager"}


def _fix_manager(container: dict[str, Any], key: str) -> bool:
    value = container.get(key)
    if isinstance(value, str):
        container[key] = {"value": value} if value else None
        return True
    return False


def normalise(document: Any) -> bool:
    """Rewrite the known quirks of a request document in place; True when something changed."""
    if not isinstance(document, dict):
        return False
    changed = False
    for key, value in list(document.items()):
        if key.lower() == ENTERPRISE_URN.lower() and isinstance(value, dict):
            for sub in list(value):
                if sub.lower() == "manager":
                    changed |= _fix_manager(value, sub)
        elif key.lower() == f"{ENTERPRISE_URN}:manager".lower():
            changed |= _fix_manager(document, key)
    operations = next((v for k, v in document.items() if k.lower() == "operations"), None)
    if isinstance(operations, list):
        for operation in operations:
            if not isinstance(operation, dict):
                continue
            path = operation.get("path")
            if isinstance(path, str) and path.strip().lower() in _MANAGER_PATHS:
                changed |= _fix_manager(operation, "value")
            elif isinstance(operation.get("value"), dict):
                changed |= normalise(operation["value"])
            if isinstance(operation.get("data"), dict):  # a Bulk operation (RFC 7644 §3.7)
                changed |= normalise(operation["data"])
    return changed
