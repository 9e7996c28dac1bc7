"""Issuing and revoking bearer credentials (SCIM tokens, API tokens): shown once, stored hashed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from scim_server.domain.errors import InvalidInput, NotFound, RuleViolation, Severity
from scim_server.domain.users import lock_account
from scim_server.security import hash_token, new_token
from scim_server.storage.models import Account, Credential, User, utcnow
from scim_server.storage.set_poll import forget_receiver

KINDS = ("scim", "api")


@dataclass(frozen=True)
class IssuedCredential:
    credential: Credential
    secret: str  # the only time the secret exists in clear


def issue_credential(
    session: Session, account: Account, user: User, *, kind: str, name: str | None = None
) -> IssuedCredential:
    """Issue a token to a user of the account. SCIM tokens go to active Admins only."""
    if kind not in KINDS:
        raise InvalidInput("kind must be one of %(kinds)s", field="kind",
                           params={"kinds": ", ".join(KINDS)})
    if kind == "scim":
        # The lock of the type and status changes: otherwise an Admin demoted or deactivated
        # in a concurrent transaction passes ``admin.holds_scim_tokens`` (the token is not yet
        # committed) while this one still sees an Admin, and a Member ends up holding a token.
        lock_account(session, account)
        # Read again under the lock: the row may have changed since the caller loaded it.
        session.refresh(user)
    if user.account_id != account.id or user.status == "deleted":
        raise NotFound("No such user in this account")
    if kind == "scim" and (user.user_type != "Admin" or user.status != "active"):
        raise RuleViolation(
            "token.scim_requires_admin",
            "A SCIM token can only be issued to an active Admin of the account.",
            Severity.FORBIDDEN,
        )
    secret = new_token(kind)
    credential = Credential(
        account_id=account.id,
        user_id=user.id,
        kind=kind,
        name=name,
        prefix=secret[:12],
        secret_hash=hash_token(secret),
        created_at=utcnow(),
    )
    session.add(credential)
    session.flush()
    return IssuedCredential(credential, secret)


def revoke_credential(session: Session, account: Account, credential_id: str) -> Credential:
    credential = session.scalars(
        select(Credential).where(Credential.id == credential_id, Credential.account_id == account.id)
    ).first()
    if credential is None:
        raise NotFound("No such credential in this account")
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()
        forget_receiver(session.connection(), account.id, credential.id)
        session.flush()
    return credential
