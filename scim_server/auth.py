"""Bearer-token authentication of the HTTP doors (RFC 6750), on the domain's one path.

Each door reads the token with authlib and asks ``domain.tokens.authenticate``, which finds it
by the SHA-256 of the secret and compares it again in constant time; the credential decides
the account: nothing in the request can name another one. The token is read before the
request's own transaction begins (``authenticate_request``), so a write transaction holds no
lock of the credential's and a read runs without BEGIN/COMMIT on PostgreSQL.
"""

from __future__ import annotations

import math
from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden, TooManyRequests

from scim_server.admission import admit
from scim_server.db import READ_ONLY, once_more_if_dropped, reading
from scim_server.domain.tokens import Principal, authenticate, record_use
from scim_server.ratelimit import Limit, TokenBuckets
from scim_server.settings import Settings


class AccountSuspended(Forbidden):
    """The operator suspended the credential's account: refused at every door, its format."""

    description = "The account is suspended; its tokens are refused until the operator resumes it."


class RateLimited(TooManyRequests):
    """Every door answers it in its own format, with ``Retry-After``."""

    def __init__(self, retry_after: float) -> None:
        # Whole seconds (RFC 9110 §10.2.3), rounded up so that the retry finds a token.
        super().__init__("Too many requests with this credential; retry after the time given "
                         "in Retry-After.", retry_after=max(1, math.ceil(retry_after)))


class _Token:
    """authlib's view of a principal."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return False

    def get_scope(self) -> str:
        return self.principal.kind


class CredentialValidator(BearerTokenValidator):
    """authlib validator accepting the credentials of the given kinds."""

    def __init__(self, kinds: tuple[str, ...], realm: str) -> None:
        super().__init__(realm=realm)
        self.kinds = kinds

    def authenticate_token(self, token_string: str) -> Any:
        principal = authenticate_request(g.db, token_string, self.kinds)
        return _Token(principal) if principal is not None else None


def make_protector(kinds: tuple[str, ...], realm: str) -> ResourceProtector:
    protector = ResourceProtector()
    protector.register_token_validator(CredentialValidator(kinds, realm))
    return protector


class HolderNotActiveAdmin(Exception):
    """A known, unrevoked token whose holder is no longer an active Admin. Each door answers
    it as a 403 in its own format."""


def authenticate_request(session: Session, secret: str, kinds: tuple[str, ...]) -> Principal | None:
    """Authenticate the current request's bearer secret and record the use (throttled).

    A token whose holder is no longer an active Admin is refused on every door
    (``HolderNotActiveAdmin``, see ``Principal.holder_lost_admin``): a token issued just before
    its holder was demoted must not let a Member act as an Admin, or promote themself back
    over SCIM.

    The request's first statements (see ``db.once_more_if_dropped``). A write request then
    commits this short read, so that its own transaction begins with its first write. A
    suspended account is refused (403). The request then counts against its account's requests
    in flight (``admission.admit``: 429 past the cap), before it can wait on any of the
    account's rows, and takes a token from its credential's bucket (``ratelimit``: 429 with
    Retry-After when empty)."""
    writing = request.method not in READ_ONLY

    def first() -> Principal | None:
        with reading(session):
            principal = authenticate(session, secret, kinds=kinds)
            if principal is not None and not principal.holder_lost_admin:
                record_use(session, principal)
            if writing:
                session.commit()
        return principal

    principal = once_more_if_dropped(session, first)
    if principal is not None:
        # Known from here even if refused below: the request log shows an identity provider
        # its 403s and 429s (``request_capture``).
        g.known_principal = principal
        if principal.holder_lost_admin:
            raise HolderNotActiveAdmin()
        if principal.account.status == "suspended":
            raise AccountSuspended()
        # Admitted before a token is taken: a request the cap refuses spends none.
        admit(principal.account.id)
        wait = current_app.extensions["scim_rate_limits"].take(
            principal.credential_id,
            credential_limit(principal.account, current_app.config["SCIM_SETTINGS"]),
        )
        if wait:
            raise RateLimited(wait)
    return principal


def credential_limit(account: Any, settings: Settings) -> Limit:
    """The account's own limit where the operator set one, else the server's."""
    per_second = account.rate_limit_per_second
    burst = account.rate_limit_burst
    return Limit(
        per_second=settings.rate_limit_per_second if per_second is None else per_second,
        burst=settings.rate_limit_burst if burst is None else burst,
    )


def setup_rate_limits(app: Flask, settings: Settings) -> None:
    app.extensions["scim_rate_limits"] = TokenBuckets(settings.rate_limit_file)
