"""The one place the domain reads or writes a user's stored document (``User.data``).

The document keeps the SCIM attribute names (it is what SCIM reads back), so the profile edits
of the admin API and UI are translated here; storing it goes through the storage's
``rewrite_user_document``, so that the search document, the lookup keys and the email rows are
derived exactly as for a SCIM write.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from sqlalchemy.orm import object_session

from scim_server.storage.models import User
from scim_server.storage.records import rewrite_user_document

# Profile fields an admin may edit (rule ``profile.admin_limits``) → stored attribute.
PROFILE_FIELDS = ("given_name", "family_name", "display_name", "title", "phone", "locale")


def comparison_key(value: str) -> str:
    return unicodedata.normalize("NFC", value).lower()


def email_as_sent(user: User) -> str | None:
    """The user's main email as the identity provider or the Admin wrote it (the ``email``
    column keeps its comparison key, lower case)."""
    emails = [e for e in (user.data or {}).get("emails") or [] if e.get("value")]
    chosen = next((e for e in emails if e.get("primary")), emails[0] if emails else None)
    if chosen is not None and comparison_key(str(chosen["value"])) == user.email:
        return str(chosen["value"])
    return user.email


def read_profile(user: User) -> dict[str, Any]:
    """The editable profile, read from the stored document."""
    data = user.data or {}
    name = data.get("name") or {}
    phones = data.get("phoneNumbers") or []
    phone = next((p.get("value") for p in phones if p.get("primary")), None)
    if phone is None and phones:
        phone = phones[0].get("value")
    return {
        "given_name": name.get("givenName"),
        "family_name": name.get("familyName"),
        "display_name": user.display_name,
        "title": data.get("title"),
        "phone": phone,
        "locale": data.get("locale"),
    }


def write_profile(user: User, changes: dict[str, Any], *, now: dt.datetime) -> None:
    """Apply profile changes (keys of ``PROFILE_FIELDS``; ``None`` removes the value)."""
    data = dict(user.data or {})
    if "given_name" in changes or "family_name" in changes:
        name = dict(data.get("name") or {})
        for key, attr in (("given_name", "givenName"), ("family_name", "familyName")):
            if key in changes:
                _set(name, attr, changes[key])
        parts = [name.get("givenName"), name.get("familyName")]
        _set(name, "formatted", " ".join(p for p in parts if p) or None)
        _set(data, "name", name or None)
    if "display_name" in changes:
        _set(data, "displayName", changes["display_name"])
    for key, attr in (("title", "title"), ("locale", "locale")):
        if key in changes:
            _set(data, attr, changes[key])
    if "phone" in changes:
        others = [p for p in data.get("phoneNumbers") or [] if not p.get("primary")]
        if changes["phone"]:
            others.insert(0, {"value": changes["phone"], "type": "work", "primary": True})
        _set(data, "phoneNumbers", others or None)
    store(user, data, now=now)


def write_email(user: User, email: str, *, now: dt.datetime) -> None:
    """Make ``email`` the primary email (the previous primary one is replaced)."""
    data = dict(user.data or {})
    others = [e for e in data.get("emails") or [] if not e.get("primary")]
    others = [e for e in others if comparison_key(str(e.get("value", ""))) != email]
    data["emails"] = [{"value": email, "type": "work", "primary": True}, *others]
    store(user, data, now=now)


def write_active(user: User, *, now: dt.datetime) -> None:
    """Keep the stored SCIM ``active`` in step with the status (pending reads inactive)."""
    data = dict(user.data or {})
    data["active"] = user.status == "active"
    store(user, data, now=now)


def store(user: User, data: dict[str, Any], *, now: dt.datetime) -> None:
    session = object_session(user)
    if session is None:  # a user not yet in a session has nothing derived to keep in step
        raise RuntimeError("store() needs a user attached to a session")
    session.flush()
    rewrite_user_document(session, user, data, now=now)


def touch(user: User, *, now: dt.datetime) -> None:
    """Every change moves the version (SCIM ETags) and the modification time."""
    user.version = (user.version or 0) + 1
    user.modified_at = now


def new_user_document(*, user_name: str, email: str, display_name: str | None,
                      user_type: str) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "userName": user_name,
        "emails": [{"value": email, "type": "work", "primary": True}],
        "userType": user_type,
        "active": False,
    }
    if display_name:
        doc["displayName"] = display_name
    return doc


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    if value is None or value == {} or value == []:
        target.pop(key, None)
    else:
        target[key] = value
