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

:func:`applied` names, by stable ids (``QUIRKS``, listed in docs/quirks.md), the tolerances a
request needed, whether the models absorb them or ``normalise`` rewrites them: the request
log records them. Every profile accepts every quirk: the ids describe, they never refuse.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_app_context

from scim_server.storage.schema import ENTERPRISE_URN

_MANAGER_PATHS = {f"{ENTERPRISE_URN}:manager".lower(), "manager"}

#: The tolerances, by stable id (the request log records them; docs/quirks.md lists them).
QUIRKS = {
    "op-capitalised": "a PATCH operation's `op` not in lower case (`Replace`, `Add`)",
    "operations-key-case": "the PATCH `Operations` key in another case (`operations`)",
    "string-boolean": "a boolean sent as a string (`\"True\"`, `\"false\"`)",
    "entra-member-remove-by-value": "members removed with `path: members` and the members "
                                    "in `value` (Entra ID), not a `members[value eq ...]` path",
    "okta-id-in-patch-value": "the resource's own `id` inside a path-less PATCH value (Okta)",
    "dotted-path-in-value": "dotted attribute paths as keys of a path-less PATCH value "
                            "(`name.givenName`, Entra ID)",
    "manager-bare-id": "the enterprise `manager` sent as a bare id string",
    "manager-without-ref": "a complex `manager` without its `$ref`",
    "foreign-schema-dropped": "a schema URI we do not serve, with no attributes, in "
                              "`schemas` (Entra ID's ADSCIM schema): dropped",
}
_BOOLEANS = {"active", "primary"}
_BOOLEAN_WORDS = {"true", "false"}


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


def _string_booleans(value: Any) -> bool:
    if isinstance(value, dict):
        for key, item in value.items():
            name = str(key).rsplit(":", 1)[-1].rsplit(".", 1)[-1].lower()
            if name in _BOOLEANS and isinstance(item, str) and item.lower() in _BOOLEAN_WORDS:
                return True
            if isinstance(item, dict | list) and _string_booleans(item):
                return True
        return False
    if isinstance(value, list):
        return any(_string_booleans(item) for item in value)
    return False


def _managers(container: dict[str, Any], found: set[str]) -> None:
    for key, value in container.items():
        lowered = key.lower()
        if lowered == ENTERPRISE_URN.lower() and isinstance(value, dict):
            _managers({f"{ENTERPRISE_URN}:{k}": v for k, v in value.items()}, found)
        elif lowered in _MANAGER_PATHS:
            if isinstance(value, str):
                found.add("manager-bare-id")
            elif isinstance(value, dict) and isinstance(value.get("value"), str) \
                    and "$ref" not in value:
                found.add("manager-without-ref")


def _operation_quirks(operation: dict[str, Any], found: set[str]) -> None:
    op = operation.get("op")
    if isinstance(op, str) and op != op.lower():
        found.add("op-capitalised")
    path, value = operation.get("path"), operation.get("value")
    lowered_op = op.lower() if isinstance(op, str) else ""
    if isinstance(path, str):
        target = path.strip().lower()
        if lowered_op == "remove" and target == "members" and value not in (None, []):
            found.add("entra-member-remove-by-value")
        if target in _MANAGER_PATHS:
            _managers({target: value}, found)
        name = target.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
        if name in _BOOLEANS and isinstance(value, str) and value.lower() in _BOOLEAN_WORDS:
            found.add("string-boolean")
    elif isinstance(value, dict):
        if "id" in value:
            found.add("okta-id-in-patch-value")
        if any("." in k and not k.lower().startswith("urn:") for k in value):
            found.add("dotted-path-in-value")
        _managers(value, found)
    if _string_booleans(value):
        found.add("string-boolean")


def applied(document: Any, known_schemas: frozenset[str] = frozenset()) -> list[str]:
    """The ids of the quirks a request document (as sent, before ``normalise``) relies on."""
    found: set[str] = set()
    if not isinstance(document, dict):
        return []
    schemas = document.get("schemas")
    if known_schemas and isinstance(schemas, list):
        present = {k.lower() for k in document}
        if any(isinstance(s, str) and s.lower() not in known_schemas and s.lower() not in present
               for s in schemas):
            found.add("foreign-schema-dropped")
    operations = None
    for key, value in document.items():
        if key.lower() == "operations":
            operations = value
            if key != "Operations":
                found.add("operations-key-case")
    if isinstance(operations, list):
        for operation in operations:
            if not isinstance(operation, dict):
                continue
            if isinstance(operation.get("data"), dict):  # a Bulk operation (RFC 7644 §3.7)
                found.update(applied(operation["data"], known_schemas))
            elif "op" in operation:
                _operation_quirks(operation, found)
    else:
        _managers(document, found)
        if _string_booleans(document):
            found.add("string-boolean")
    return sorted(found)


def note(ids: list[str]) -> None:
    """Record, for the request being served, the quirks it relied on (the request log reads
    ``g.scim_quirks``)."""
    if ids and has_app_context():
        g.setdefault("scim_quirks", set()).update(ids)
