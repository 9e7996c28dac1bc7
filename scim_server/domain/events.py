"""Provisioning events (RFC 9967): what changed, written with the change, read as a feed.

Every door writes a change's events in its own transaction, as it writes the audit (the same
seams): an event exists if and only if its change committed. Each is one of the RFC 9967
provisioning events about a User or a Group:

- ``create:full``: a resource was created; its document (no password) is the ``data``;
- ``patch:notice`` / ``put:notice``: attributes changed, their names in ``attributes``; a
  membership change is ``patch:notice`` of ``members``, with the member ids ``added`` and
  ``removed`` (the delta, never the whole list);
- ``activate`` / ``deactivate``: a user's status changed (besides the notice of any other
  attribute of the same write);
- ``delete``.

Bodies carry no password, token or secret; the ``data`` of a deleted user's earlier events is
erased with the user (see ``storage.events.erase_event_data``).

The feed is read by position (see ``storage.events`` for why a stored cursor never skips an
event); the cursor a client gets is sealed to its account (:func:`seal_cursor`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor, Clock
from scim_server.domain.errors import InvalidInput
from scim_server.storage.events import append_events, erase_event_data, read_events
from scim_server.storage.models import Account, new_id, utcnow

PREFIX = "urn:ietf:params:scim:event:prov:"
CREATE_FULL = PREFIX + "create:full"
PATCH_NOTICE = PREFIX + "patch:notice"
PUT_NOTICE = PREFIX + "put:notice"
DELETE = PREFIX + "delete"
ACTIVATE = PREFIX + "activate"
DEACTIVATE = PREFIX + "deactivate"
EVENT_TYPES = (CREATE_FULL, PATCH_NOTICE, PUT_NOTICE, DELETE, ACTIVATE, DEACTIVATE)

# Never in an event, at any depth: the store keeps no password in documents, but a document
# given by a door is not trusted to be clean.
SECRET_KEYS = frozenset({"password", "password_hash", "token", "secret"})
# Not attributes a change is about: they move with every write.
NOT_ATTRIBUTES = frozenset({"id", "meta", "schemas", "active"})


@dataclass(frozen=True)
class Change:
    """One event, before it is written."""

    event_type: str
    resource_type: str  # "User" | "Group"
    resource_id: str
    attributes: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    data: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {}
        if self.attributes:
            payload["attributes"] = list(self.attributes)
        if self.added:
            payload["added"] = list(self.added)
        if self.removed:
            payload["removed"] = list(self.removed)
        return payload


def without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_secrets(v) for k, v in value.items()
                if str(k).lower() not in SECRET_KEYS and k != "meta"}
    if isinstance(value, list):
        return [without_secrets(v) for v in value]
    return value


# --- what a write makes -----------------------------------------------------------------------

def created(resource_type: str, resource_id: str, document: dict[str, Any] | None) -> Change:
    data = without_secrets(dict(document or {}))
    data["id"] = resource_id
    return Change(CREATE_FULL, resource_type, resource_id, data=data)


def deleted(resource_type: str, resource_id: str) -> Change:
    return Change(DELETE, resource_type, resource_id)


def changed_attributes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """The top-level attributes (RFC 7643 names; an extension's URN) whose value differs."""
    before, after = before or {}, after or {}
    return sorted(k for k in set(before) | set(after)
                  if k not in NOT_ATTRIBUTES and before.get(k) != after.get(k))


def modified(resource_type: str, resource_id: str, attributes: Iterable[str], *,
             replaced: bool = False) -> list[Change]:
    names = tuple(dict.fromkeys(attributes))
    if not names:
        return []
    return [Change(PUT_NOTICE if replaced else PATCH_NOTICE, resource_type, resource_id,
                   attributes=names)]


def status_changed(user_id: str, before: str | None, after: str | None) -> list[Change]:
    """``activate`` / ``deactivate`` of a user whose status moved (pending counts as not
    active: accepting an invitation activates)."""
    if before == after or after not in ("active", "inactive"):
        return []
    if after == "active":
        return [Change(ACTIVATE, "User", user_id)]
    return [Change(DEACTIVATE, "User", user_id)] if before == "active" else []


def members_changed(group_id: str, *, added: Sequence[str] = (),
                    removed: Sequence[str] = ()) -> list[Change]:
    if not added and not removed:
        return []
    return [Change(PATCH_NOTICE, "Group", group_id, attributes=("members",),
                   added=tuple(added), removed=tuple(removed))]


# --- writing and reading ----------------------------------------------------------------------

def record_events(session: Session, account: Account, *, actor: Actor,
                  changes: Sequence[Change], clock: Clock = utcnow) -> None:
    """Write events in the caller's transaction, in order, at the account's next positions.

    Takes the account row's lock until the transaction ends (the position is handed out under
    it): callers write their events at the end of their change, and the domain's writes hold
    that lock already (``lock_account``). A write that ends by shifting the account's counts
    gives its events to that statement instead (``users.settle_counts(…, events=…)``)."""
    rows = event_rows(session, actor=actor, changes=changes, clock=clock)
    if rows:
        append_events(session.connection(), account.id, rows)


def event_rows(session: Session, *, actor: Actor, changes: Sequence[Change],
               clock: Clock = utcnow) -> list[dict[str, Any]]:
    """The rows of ``events`` (but account and position) that ``changes`` make."""
    if not changes:
        return []
    at = clock()
    txn = transaction_id(session)
    return [
        {
            "id": new_id(), "at": at, "door": actor.door, "actor_user_id": actor.user_id,
            "actor_credential_id": actor.credential_id, "client": actor.client,
            "event_type": change.event_type, "resource_type": change.resource_type,
            "resource_id": change.resource_id, "payload": change.payload(),
            "data": change.data, "txn": txn,
        }
        for change in changes
    ]


def transaction_id(session: Session) -> str:
    """RFC 8417's ``txn`` of the session's current transaction: the same for every event one
    transaction writes (every ``record_events`` of a request, the whole of a Bulk, whose
    operations are savepoints of one transaction), new with the next transaction."""
    session.connection()  # begins the transaction if none is
    root = session.get_transaction()
    held = session.info.get("events_txn")
    if held is None or held[0] is not root:
        held = (root, new_id())
        session.info["events_txn"] = held
    return str(held[1])


def forget_data(session: Session, account: Account, resource_id: str) -> None:
    erase_event_data(session.connection(), account.id, resource_id)


def list_events(session: Session, account: Account, *, after: int, limit: int,
                types: Sequence[str] | None = None) -> list[Any]:
    unknown = sorted(set(types or ()) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput("not an event type: %(types)s", field="type",
                           params={"types": ", ".join(unknown)})
    return read_events(session.connection(), account.id, after=after, limit=limit, types=types)


def sub_id(row: Any) -> dict[str, str]:
    """The event's subject as RFC 9967 names it (a SCIM path)."""
    folder = "Users" if row.resource_type == "User" else "Groups"
    return {"format": "scim", "uri": f"/{folder}/{row.resource_id}"}


def event_document(row: Any) -> dict[str, Any]:
    """A stored event as the feed (``GET /api/v1/events``) and the webhooks give it."""
    return {
        "id": row.id, "position": row.position, "at": row.at, "type": row.event_type,
        "door": row.door, "actor_user_id": row.actor_user_id,
        "actor_credential_id": row.actor_credential_id, "client": row.client,
        "resource_type": row.resource_type, "resource_id": row.resource_id,
        "sub_id": sub_id(row),
        **(row.payload or {}), **({"data": row.data} if row.data is not None else {}),
    }


# --- cursors ------------------------------------------------------------------------------------

def seal_cursor(secret: bytes, account_id: str, position: int) -> str:
    """An opaque cursor (RFC 9865 style) for the events after ``position``: the position with
    an HMAC over the account and the position, so it cannot be forged, moved, or used by
    another account."""
    mac = hmac.new(secret, f"events|{account_id}|{position}".encode(), hashlib.sha256)
    raw = f"{position}.{base64.urlsafe_b64encode(mac.digest()[:18]).decode()}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def open_cursor(secret: bytes, account_id: str, cursor: str) -> int:
    """The position a cursor of this account stands for; :class:`InvalidInput` for a cursor
    that is tampered with, malformed, or another account's."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        text, _ = raw.split(".", 1)
        position = int(text)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the cursor is not one this server gave", field="after") from None
    if position < 0 or not hmac.compare_digest(seal_cursor(secret, account_id, position),
                                               cursor.rstrip("=")):
        raise InvalidInput("the cursor is not one this server gave to this account",
                           field="after")
    return position
