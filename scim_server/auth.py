"""Bearer-token authentication shared by the SCIM door and the admin API (authlib RFC 6750).

A credential is found by the SHA-256 of the presented secret (an indexed lookup that reveals
nothing about other tokens) and the stored hash is compared again in constant time. The
credential decides the account: nothing in the request can name another one.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from flask import g
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from scim_server.security import hash_token, tokens_match
from scim_server.storage.models import Account, Credential, User, utcnow

log = logging.getLogger(__name__)

# last_used_at is written at most this often per credential: no write on every request.
LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


@dataclass
class Principal:
    """Who is calling: the credential, its account and the user it was issued to."""

    credential: Credential
    account: Account
    user: User | None

    # authlib's token protocol
    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return self.credential.revoked_at is not None

    def get_scope(self) -> str:
        return self.credential.kind


def find_principal(session: Session, token: str, kinds: tuple[str, ...]) -> Principal | None:
    """Return the principal a bearer token stands for, or None (unknown, revoked, wrong kind)."""
    if not token or len(token) > 512:
        return None
    digest = hash_token(token)
    # One round trip for the credential, its account and its user (every request pays it).
    row = session.execute(
        select(Credential, Account, User)
        .join(Account, Account.id == Credential.account_id)
        .outerjoin(User, User.id == Credential.user_id)
        .where(Credential.secret_hash == digest)
    ).first()
    if row is None:
        return None
    credential, account, user = row
    if not tokens_match(token, credential.secret_hash):
        return None
    if credential.kind not in kinds or credential.revoked_at is not None:
        return None
    return Principal(credential=credential, account=account, user=user)


def record_use(session: Session, principal: Principal, *, now: dt.datetime | None = None) -> None:
    """Record when a credential was last used (throttled), for the API-users overview."""
    now = now or utcnow()
    last = principal.credential.last_used_at
    if last is not None and now - last < LAST_USED_RESOLUTION:
        return
    target: Any = Credential.id == principal.credential.id
    if session.get_bind().dialect.name == "postgresql":
        # Skip the row when another request of this token holds it (its transaction wrote the
        # time and has not ended: a long Bulk). Waiting for it queued every request of the
        # token behind that transaction: a third of the samples of the /Bulk profile.
        row = Credential.__table__.alias("held")
        target = Credential.id.in_(
            select(row.c.id)
            .where(row.c.id == principal.credential.id)
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    try:
        with session.begin_nested():
            session.execute(update(Credential).where(target).values(last_used_at=now))
    except OperationalError:
        # SQLite: a read (DEFERRED) transaction may not get the write lock; the time is
        # only informative, and the next request records it.
        log.info("last use of credential %s not recorded: database busy", principal.credential.id)
        return
    # The throttle's memory, not a change to flush: a flush would UPDATE the row again (and
    # wait for it when it was skipped).
    set_committed_value(principal.credential, "last_used_at", now)


class CredentialValidator(BearerTokenValidator):
    """authlib validator accepting the credentials of the given kinds from ``g.db``."""

    def __init__(self, kinds: tuple[str, ...], realm: str) -> None:
        super().__init__(realm=realm)
        self.kinds = kinds

    def authenticate_token(self, token_string: str) -> Any:
        return find_principal(g.db, token_string, self.kinds)


def make_protector(kinds: tuple[str, ...], realm: str) -> ResourceProtector:
    protector = ResourceProtector()
    protector.register_token_validator(CredentialValidator(kinds, realm))
    return protector
