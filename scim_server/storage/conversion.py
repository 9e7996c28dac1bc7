"""Rows ↔ SCIM: the columns a SCIM resource is stored as, and the resource or JSON document a
row is read back as (RFC 7643 §3.1 meta, §4.1 User, §4.2 Group).

Does: derive a row's columns (lookup keys, search document, email rows) from a validated model;
turn a stored row back into a model or, for reads that need no model, into the JSON document a
response carries. Does not: run statements, or decide a rule (the domain owns ``status``; this
only maps ``active`` to and from it).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, cast

import pydantic
from scim2_models import InvalidValueException, Meta, PreconditionFailedException, Resource

from scim_server.security import hash_password
from scim_server.storage.filters import Uncomparable, binding_of, comparable, search_document
from scim_server.storage.schema import ACCOUNT_EXTENSION_URN

# Longest value of an attribute kept in an indexed lookup column (userName, externalId, ...).
MAX_INDEXED_LENGTH = 400

_VERSION = re.compile(r'^(?:W/)?"?(\d+)"?$')
_TIME = pydantic.TypeAdapter(dt.datetime)


class StoredRow(Protocol):
    """The meta of a user or group row, as a read or a write gives it."""

    @property
    def id(self) -> str: ...

    @property
    def created_at(self) -> dt.datetime: ...

    @property
    def modified_at(self) -> dt.datetime: ...

    @property
    def version(self) -> int: ...


def utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back without their zone; every stored one is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def version_tag(version: int) -> str:
    """The weak ETag of a row version (RFC 7644 §3.14)."""
    return f'W/"{version}"'


def version_number(tag: str | None) -> int | None:
    """The row version an ETag names, or None when it names none of ours."""
    if tag is None:
        return None
    match = _VERSION.match(tag.strip())
    return int(match.group(1)) if match else None


def check_version(version: int, expected: str | None) -> None:
    """RFC 7644 §3.14: a stale If-Match version is a 412."""
    if expected is not None and version_number(expected) != version:
        raise PreconditionFailedException(detail="the resource changed since this version")


def json_time(value: dt.datetime) -> str:
    """A timestamp as the models serialise it, so plain documents match them to the byte."""
    return cast(str, _TIME.dump_python(value, mode="json"))


@functools.cache
def extension_urns(model: type[Resource[Any]]) -> tuple[str, ...]:
    return tuple(str(urn) for urn in dict(model.get_extension_models()))


@functools.cache
def key_order(model: type[Resource[Any]]) -> tuple[str, ...]:
    """The top-level keys of a resource in the order the model serialises them."""
    return tuple(field.serialization_alias or name for name, field in model.model_fields.items())


@functools.cache
def _has_account_extension(model: type[Resource[Any]]) -> bool:
    return ACCOUNT_EXTENSION_URN in extension_urns(model)


# --- SCIM → columns ------------------------------------------------------------------------


def payload(resource: Resource[Any], drop: Iterable[str]) -> dict[str, Any]:
    """The resource as stored in ``data``: as sent, without id, meta and what lives elsewhere."""
    data = resource.model_dump(mode="json", by_alias=True, exclude_none=True, scim_ctx=None)
    for key in ("id", "meta", *drop):
        data.pop(key, None)
    return data


def column_key(model: Any, field: str, value: Any, *, sub: str | None = None) -> str | None:
    """The comparison key of a lookup column (NFC, lower case unless caseExact)."""
    if value is None:
        return None
    if len(str(value)) > MAX_INDEXED_LENGTH:
        # The lookup columns are VARCHAR(400) (indexable on both engines): refuse, not 500.
        name = f"{field}.{sub}" if sub else field
        raise InvalidValueException(detail=f"{name} is longer than {MAX_INDEXED_LENGTH} characters")
    try:
        key = comparable(binding_of(model, field, sub), "str", str(value))
    except Uncomparable as exc:
        raise InvalidValueException(detail=f"{field}: {exc}") from exc
    return cast(str, key)


def user_fields(
    resource: Resource[Any], *, current_status: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The columns of a user row and its ``user_emails`` rows (without ids), from a SCIM User."""
    model = type(resource)
    data = payload(resource, ("password", "groups", ACCOUNT_EXTENSION_URN))
    if isinstance(data.get("schemas"), list):
        data["schemas"] = [s for s in data["schemas"] if s != ACCOUNT_EXTENSION_URN]
    user_name = getattr(resource, "user_name", None)
    display_name = getattr(resource, "display_name", None)
    external_id = getattr(resource, "external_id", None)
    emails = [e for e in (getattr(resource, "emails", None) or []) if e is not None and e.value]
    primary = next(
        (e for e in emails if getattr(e, "primary", None)), emails[0] if emails else None
    )
    active = getattr(resource, "active", None)
    if current_status == "pending":
        status = "pending"  # leaving pending is the domain's decision
    else:
        status = "inactive" if active is False else "active"
    password = getattr(resource, "password", None)
    fields = {
        "user_name": user_name,
        "user_name_key": column_key(model, "user_name", user_name),
        "external_id": column_key(model, "external_id", external_id),
        "display_name": display_name,
        "display_name_key": column_key(model, "display_name", display_name),
        "email": str(primary.value).lower() if primary is not None else None,
        "user_type": (getattr(resource, "user_type", None) or "Member")[:20],
        "status": status,
        "password_hash": hash_password(password) if password else None,
        "data": data,
        "search": search_document(resource),
    }
    rows = []
    for email in emails:
        value_key = column_key(model, "emails", str(email.value), sub="value")
        if value_key is None:
            continue
        type_key = column_key(model, "emails", email.type, sub="type")
        rows.append(
            {
                "value_key": value_key,
                "type_key": type_key[:100] if type_key else None,
                "primary": bool(getattr(email, "primary", False)),
            }
        )
    return fields, rows


def group_fields(resource: Resource[Any]) -> dict[str, Any]:
    """The columns of a group row (members go to ``group_members``), from a SCIM Group."""
    model = type(resource)
    display_name = getattr(resource, "display_name", None)
    external_id = getattr(resource, "external_id", None)
    return {
        "display_name": display_name,
        "display_name_key": column_key(model, "display_name", display_name),
        "external_id": column_key(model, "external_id", external_id),
        "data": payload(resource, ("members",)),
        "search": search_document(resource),
    }


def given_members(resource: Resource[Any]) -> dict[str, str | None]:
    """The members a Group carries: id → the display sent with it (first one wins)."""
    given: dict[str, str | None] = {}
    for member in getattr(resource, "members", None) or []:
        if member is not None and member.value:
            given.setdefault(str(member.value), getattr(member, "display", None))
    return given


# --- row → SCIM ----------------------------------------------------------------------------


def group_entries(pairs: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """A user's ``groups`` (RFC 7643 §4.1.2) from (group id, group name) pairs, by group id."""
    entries = []
    for group_id, display in sorted(pairs, key=lambda pair: pair[0]):
        entry = {"value": group_id, "$ref": f"Groups/{group_id}"}
        if display is not None:
            entry["display"] = display
        entry["type"] = "direct"
        entries.append(entry)
    return entries


def member_entry(member_id: str, member_type: str, display: str | None) -> dict[str, Any]:
    """A group's member (RFC 7643 §4.2); ``$ref`` relative to the SCIM root."""
    folder = "Users" if member_type == "User" else "Groups"
    entry = {"value": member_id, "$ref": f"{folder}/{member_id}", "type": member_type}
    if display is not None:
        entry["display"] = display
    return entry


def user_data(
    model: type[Resource[Any]],
    data: dict[str, Any],
    *,
    status: str,
    last_activity_at: dt.datetime | None,
    groups: list[dict[str, Any]] | None,
    for_model: bool,
) -> dict[str, Any]:
    """A user's stored payload with what lives beside it: ``active`` read from the status
    (false unless active, else as the client sent it), the account extension, ``groups``."""
    data = dict(data)
    if status != "active":
        data["active"] = False
    elif "active" in data:
        data["active"] = True
    if _has_account_extension(model):
        extension: dict[str, Any] = {"status": status}
        if last_activity_at is not None:
            last = utc(last_activity_at)
            extension["lastActivity"] = last.isoformat() if for_model else json_time(last)
        data[ACCOUNT_EXTENSION_URN] = extension
    if groups:
        data["groups"] = groups
    return data


def resource_of(
    model: type[Resource[Any]], resource_type: str, row: StoredRow, data: dict[str, Any]
) -> Resource[Any]:
    """A model of the row, validated from its payload ``data`` (see ``user_data``)."""
    resource = model.model_validate(data)
    resource.id = row.id
    resource.meta = meta_of(resource_type, row)
    return resource


def meta_of(resource_type: str, row: StoredRow) -> Meta:
    """The meta of a stored row (RFC 7643 §3.1), its location aside (the server's)."""
    return Meta(resource_type=resource_type, created=utc(row.created_at),
                last_modified=utc(row.modified_at), version=version_tag(row.version))


def document_of(
    model: type[Resource[Any]], resource_type: str, row: StoredRow, data: dict[str, Any]
) -> dict[str, Any]:
    """What ``resource_of`` gives, as the JSON document a response carries (no
    ``meta.location``, references relative to the SCIM root): the stored payload was dumped
    from a validated model, so it needs no second validation to be served."""
    # As the models serialise: an extension is listed in ``schemas`` when it has a value, and
    # its object carries no ``schemas`` of its own.
    extensions = extension_urns(model)
    for urn in extensions:
        if isinstance(data.get(urn), dict) and "schemas" in data[urn]:
            data[urn] = {k: v for k, v in data[urn].items() if k != "schemas"}
    schemas = data.get("schemas")
    if isinstance(schemas, list):
        kept = [s for s in schemas if s not in extensions or s in data]
        data["schemas"] = kept + [u for u in extensions if u in data and u not in kept]
    data["id"] = row.id
    data["meta"] = {
        "resourceType": resource_type,
        "created": json_time(utc(row.created_at)),
        "lastModified": json_time(utc(row.modified_at)),
        "version": version_tag(row.version),
    }
    # In the model's order, so that the JSON is the model's to the byte.
    document = {key: data.pop(key) for key in key_order(model) if key in data}
    document.update(data)
    return document
