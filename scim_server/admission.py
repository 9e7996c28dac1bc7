"""How many requests of one account a process serves at once (HTTP layer).

gunicorn's gthread worker has a fixed number of threads. Without a cap, the requests of one
account whose rows are locked (a long transaction, a slow Bulk) can take every thread of a
worker while they wait, and the other accounts' requests, ``/readyz`` included, queue behind
them. Each request counts against its account from authentication to the end of the request;
past the cap it is answered 429 with ``Retry-After`` at once, which identity providers honour.
The count is per process: every worker keeps threads of its own for the other accounts.
"""

from __future__ import annotations

import threading

from flask import current_app, g
from werkzeug.exceptions import TooManyRequests

EXTENSION = "scim_in_flight"
RETRY_AFTER_SECONDS = 1


class AccountBusy(TooManyRequests):
    """This account already has as many requests in flight in this process as it may."""

    description = (
        "Too many requests of this account are in progress at once; retry the request."
    )

    def __init__(self) -> None:
        super().__init__(retry_after=RETRY_AFTER_SECONDS)


class InFlight:
    """Requests in flight per account, at most ``limit`` each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def enter(self, account_id: str) -> bool:
        with self._lock:
            count = self._counts.get(account_id, 0)
            if count >= self.limit:
                return False
            self._counts[account_id] = count + 1
            return True

    def leave(self, account_id: str) -> None:
        with self._lock:
            count = self._counts.get(account_id, 0) - 1
            # Drop idle accounts: the dict holds only the accounts being served right now.
            if count > 0:
                self._counts[account_id] = count
            else:
                self._counts.pop(account_id, None)

    def count(self, account_id: str) -> int:
        with self._lock:
            return self._counts.get(account_id, 0)


def admit(account_id: str) -> None:
    """Count the current request against ``account_id`` until it ends (``release``), or
    raise :class:`AccountBusy`. A request is counted once, whichever doors it passes."""
    gate: InFlight | None = current_app.extensions.get(EXTENSION)
    if gate is None or g.get("in_flight_account") is not None:
        return
    if not gate.enter(account_id):
        raise AccountBusy
    g.in_flight_account = account_id


def release() -> None:
    account_id = g.pop("in_flight_account", None)
    if account_id is not None:
        current_app.extensions[EXTENSION].leave(account_id)
