"""Who is acting, through which door, and the clock the domain reads time from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

# A clock returns an aware UTC datetime; services take one so tests can move time (expiry).
Clock = Callable[[], dt.datetime]

DOORS = ("scim", "api", "ui", "cli")


@dataclass(frozen=True)
class Actor:
    """The author of a change, as the audit log records it.

    ``door`` is ``scim``, ``api``, ``ui`` or ``cli`` (the operator's command line); ``user_id`` is the acting user when one is known
    (an admin, the owner of an API token), ``credential_id`` the SCIM/API token or OAuth client
    used, ``client`` a free label (an OAuth client id, a user agent).
    """

    door: str
    user_id: str | None = None
    credential_id: str | None = None
    client: str | None = None

    def __post_init__(self) -> None:
        if self.door not in DOORS:
            raise ValueError(f"unknown door {self.door!r}; expected one of {', '.join(DOORS)}")


def as_utc(value: dt.datetime) -> dt.datetime:
    """An aware UTC datetime. SQLite hands back naive timestamps (UTC by construction), so
    every comparison with the clock goes through this."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value
