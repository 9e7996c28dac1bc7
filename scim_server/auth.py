"""Bearer-token authentication of the HTTP doors (RFC 6750), on the domain's one path.

Each door reads the token with authlib and asks ``domain.tokens.authenticate``, which finds it
by the SHA-256 of the secret and compares it again in constant time; the credential decides
the account: nothing in the request can name another one. The token is read before the
request's own transaction begins (``authenticate_request``), so a write transaction holds no
lock of the credential's and a read runs without BEGIN/COMMIT on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import g, request
from sqlalchemy.orm import Session

from scim_server.db import READ_ONLY, once_more_if_dropped, reading
from scim_server.domain.tokens import Principal, authenticate, record_use


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
    commits this short read, so that its own transaction begins with its first write."""
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
    if principal is not None and principal.holder_lost_admin:
        raise HolderNotActiveAdmin()
    return principal
