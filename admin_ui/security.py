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
from collections.abc import Callable
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
    if account is None or account.status == "suspended":
        return None
    return SignedIn(account=account, admin=admin)


def is_active_admin(user: User) -> bool:
    return user.user_type == "Admin" and user.status == "active"


def current() -> SignedIn:
    signed_in: SignedIn = g.admin_ctx
    return signed_in


class SignInLimiter:
    """Failed sign-ins of the last ``window`` seconds, counted per client address (IP), per
    email, and per address and email together. The rule, checked before any password work:

    - an address with ``limit × ADDRESS_FACTOR`` failures is refused whatever the email, so
      one address cannot spray a password over many emails;
    - an email with ``limit`` failures, from all addresses together, is under attack: it is
      refused from every address that has failed on it in the window. Any other address still
      gets its try, so the Admin signs in with the right password from their own address while
      the attacker's addresses are refused, and an attacker with many addresses gets one guess
      per address and window (each address still bound by its own count). Someone sharing the
      attacker's address (the same NAT, or a proxy not declared in SCIM_TRUSTED_PROXIES) is
      refused with it until the window passes;
    - a success forgives that address's failures on that email (the Admin's own typos) in
      every count, and nothing else: an attacker signing in to an account of their own keeps
      the failures of their other attempts.

    Refused attempts are not counted (they cost no password check). In-process (dicts of
    timestamps behind a lock): under several gunicorn workers each keeps its own counts, so
    the effective limits are multiplied by the workers, which still turns password guessing
    from thousands of tries a minute into a handful. Memory is bounded by the failures of the
    last window, which the address count bounds in turn.
    """

    ADDRESS_FACTOR = 3

    def __init__(self, limit: int, window: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.address_limit = limit * self.ADDRESS_FACTOR
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, ...], deque[float]] = {}
        self._lock = threading.Lock()

    def allows(self, address: str, email: str) -> bool:
        """Whether an attempt may check a password now (see the class's rule)."""
        with self._lock:
            self._prune(self.clock())
            if self._count("address", address) >= self.address_limit:
                return False
            under_attack = self._count("email", email) >= self.limit
            return not (under_attack and self._count("pair", address, email) > 0)

    def failed(self, address: str, email: str) -> None:
        now = self.clock()
        with self._lock:
            for key in (("address", address), ("email", email), ("pair", address, email)):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, address: str, email: str) -> None:
        with self._lock:
            forgiven = self._failures.pop(("pair", address, email), deque())
            for key in (("address", address), ("email", email)):
                hits = self._failures.get(key)
                for when in forgiven:
                    if hits and when in hits:
                        hits.remove(when)

    def _count(self, *key: str) -> int:
        return len(self._failures.get(key, ()))

    def _prune(self, now: float) -> None:
        # Dropping empty keys keeps memory bounded by the failures of the last window.
        for key in list(self._failures):
            hits = self._failures[key]
            while hits and now - hits[0] > self.window:
                hits.popleft()
            if not hits:
                del self._failures[key]
