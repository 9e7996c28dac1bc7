"""Sign-in state, CSRF tokens and the sign-in rate limit of the admin UI.

The session is Flask's signed cookie (HttpOnly, SameSite=Lax, Secure when the server's base URL
is https): it holds only ids, the CSRF token, the time of sign-in and what ties it to the
server's state; every request reloads the admin from the database, so a demoted or deactivated
Admin is out at their next click.

A signed cookie stays valid wherever it is copied, so the server ends sessions itself:

- sign-out moves the user's session epoch on (``users.session_epoch``, in the cookie at sign-in):
  every cookie of that user, on every device, copies included, is refused afterwards;
- a password change, by any door (the admin API, SCIM, the CLI), ends them too: the cookie holds
  a keyed digest of the password hash it was signed in with, which no longer matches.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from flask import current_app, g, session
from sqlalchemy.orm import Session

from scim_server.domain.users import end_sessions
from scim_server.storage.models import Account, User

CSRF_FIELD = "csrf_token"
SESSION_KEYS = ("admin_user_id", "account_id", "signed_in_at", "epoch", "password_mark")
# A signed cookie cannot be revoked server-side, so it is given a bounded life.
SESSION_MAX_AGE = 8 * 3600


def csrf_token() -> str:
    """The session's CSRF token (synchronizer token pattern), made on first use."""
    token = session.get(CSRF_FIELD)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return str(token)


def csrf_valid(submitted: str | None) -> bool:
    expected = session.get(CSRF_FIELD)
    if not expected or not submitted:
        return False
    return hmac.compare_digest(str(expected), submitted)


@dataclass(frozen=True)
class SignedIn:
    account: Account
    admin: User


def sign_in(admin: User) -> None:
    # A fresh session on sign-in: an id planted before sign-in (fixation) is not carried over.
    lang_choice = session.get("lang")
    session.clear()
    session.permanent = True
    session["admin_user_id"] = admin.id
    session["account_id"] = admin.account_id
    session["signed_in_at"] = int(time.time())
    session["epoch"] = admin.session_epoch or 0
    session["password_mark"] = _password_mark(admin)
    if lang_choice:
        session["lang"] = lang_choice
    csrf_token()


def sign_out(db: Session, signed_in: SignedIn) -> None:
    end_sessions(db, signed_in.account, signed_in.admin.id)
    session.clear()


def _password_mark(admin: User) -> str:
    """A digest of the admin's password hash keyed with the server's secret: the cookie is
    signed, not encrypted, so it must not carry the hash itself."""
    key = str(current_app.secret_key).encode()
    message = b"admin-session|" + (admin.password_hash or "").encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def load_signed_in(db: Session) -> SignedIn | None:
    """The signed-in admin, if the session names one who is still an active Admin."""
    user_id = session.get("admin_user_id")
    account_id = session.get("account_id")
    signed_in_at = session.get("signed_in_at")
    if not (user_id and account_id and isinstance(signed_in_at, int)):
        return None
    if time.time() - signed_in_at > SESSION_MAX_AGE:
        return None
    admin = db.get(User, user_id)
    if admin is None or admin.account_id != account_id or not is_active_admin(admin):
        return None
    if session.get("epoch") != (admin.session_epoch or 0):
        return None  # signed out since (on any device)
    if not hmac.compare_digest(str(session.get("password_mark", "")), _password_mark(admin)):
        return None  # the password changed since
    account = db.get(Account, account_id)
    if account is None:
        return None
    return SignedIn(account=account, admin=admin)


def is_active_admin(user: User) -> bool:
    return user.user_type == "Admin" and user.status == "active"


def current() -> SignedIn:
    signed_in: SignedIn = g.admin_ctx
    return signed_in


class RateLimiter:
    """At most ``limit`` sign-in attempts per key (client IP + email) in ``window`` seconds.

    In-process (a dict of timestamps behind a lock): no table, no extra service. Under several
    gunicorn workers each keeps its own count, so the effective limit is ``limit`` × workers;
    that still turns password guessing from thousands of tries a minute into a handful.
    """

    def __init__(self, limit: int, window: float = 300.0, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str) -> bool:
        """Count an attempt; False when the key is over its limit (the attempt must be refused)."""
        now = self.clock()
        with self._lock:
            self._prune(now)
            hits = self._hits.setdefault(key, deque())
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def reset(self, key: str) -> None:
        with self._lock:
            self._hits.pop(key, None)

    def _prune(self, now: float) -> None:
        # Dropping empty keys keeps memory bounded by the attempts of the last window.
        for key in list(self._hits):
            hits = self._hits[key]
            while hits and now - hits[0] > self.window:
                hits.popleft()
            if not hits:
                del self._hits[key]
