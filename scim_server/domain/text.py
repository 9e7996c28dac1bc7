"""Strings no store can hold, whichever door they came through.

U+0000 cannot be stored in PostgreSQL text; a lone surrogate (JSON's "\\ud800", a SCIM filter's
escape) is no Unicode text at all, so no driver can send it. The doors refuse both with their
own 400 before anything reaches the domain or the database.
"""

from __future__ import annotations

from typing import Any

NUL = "Must not contain the NUL character (U+0000)."
SURROGATE = "Must be valid Unicode text (no lone surrogate)."


def unstorable(value: Any) -> str | None:
    """Why a decoded value (a string, or JSON's lists and objects of them) cannot be stored, or
    None when it can."""
    if isinstance(value, str):
        if "\x00" in value:
            return NUL
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
        return None
    if isinstance(value, dict):
        items: Any = [*value.keys(), *value.values()]
    elif isinstance(value, list):
        items = value
    else:
        return None
    return next((reason for item in items if (reason := unstorable(item)) is not None), None)
