"""Identity-provider quirks the SCIM models do not absorb on their own.

scim2-models already takes ``op`` in any case, booleans as strings, dotted keys in a path-less
``replace``, Entra's value-array removal and unmatched value-path filters (through our
ScimPolicy). What remains is rewritten here, before validation, and only when present:

- the enterprise ``manager`` sent as a bare id string (Entra ID, some Okta mappings) becomes
  ``{"value": id, "$ref": "Users/<id>"}`` (RFC 7643 §4.3 makes ``manager`` complex with a
  required ``$ref``); a complex manager without ``$ref`` gets one the same way;
- a schema URI in ``schemas`` that we do not serve and whose attributes are absent (Entra ID
  lists ``http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`` on every
  group it creates) is dropped instead of refusing the whole resource.
"""

from __future__ import annotations

from typing import Any

from scim_server.storage.schema import ENTERPRISE_URN

_MANAGER_PATHS = {f"{ENTERPRISE_URN}:manager".lower(), "manager"}


def _fix_manager(container: dict[str, Any], key: str) -> bool:
    value = container.get(key)
    if isinstance(value, str):
        container[key] = {"value": value, "$ref": f"Users/{value}"} if value else None
        return True
    if isinstance(value, dict) and isinstance(value.get("value"), str) and "$ref" not in value:
        value["$ref"] = f"Users/{value['value']}"
        return True
    return False


def _drop_foreign_schemas(document: dict[str, Any], known: frozenset[str]) -> bool:
    schemas = document.get("schemas")
    if not known or not isinstance(schemas, list):
        return False
    present = {k.lower() for k in document}
    kept = [
        s for s in schemas
        if not isinstance(s, str) or s.lower() in known or s.lower() in present
    ]
    if len(kept) == len(schemas):
        return False
    document["schemas"] = kept
    return True


def normalise(document: Any, known_schemas: frozenset[str] = frozenset()) -> bool:
    """Rewrite the known quirks of a request document in place; True when something changed.

    ``known_schemas`` are the lower-cased schema URIs we serve (for the foreign-schema rule).
    """
    if not isinstance(document, dict):
        return False
    changed = _drop_foreign_schemas(document, known_schemas)
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
                changed |= normalise(operation["value"], known_schemas)
            if isinstance(operation.get("data"), dict):  # a Bulk operation (RFC 7644 §3.7)
                changed |= normalise(operation["data"], known_schemas)
    return changed


def holds_nul(value: Any) -> bool:
    """Whether a decoded document holds U+0000 in any string, key or value."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False
