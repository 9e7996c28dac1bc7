"""The platform operator's credentials: operator tokens, shown once, kept as SHA-256, valid on
the platform API alone (account credentials live in other tables and never match here)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from scim_server.domain.errors import NotFound
from scim_server.security import hash_token, new_token, tokens_match
from scim_server.storage.domain_tables import OperatorToken
from scim_server.storage.models import utcnow


def issue_operator_token(session: Session, *, name: str | None = None) -> tuple[OperatorToken, str]:
    secret = new_token("operator")
    token = OperatorToken(name=name, secret_hash=hash_token(secret))
    session.add(token)
    session.flush()
    return token, secret


def revoke_operator_token(session: Session, token_id: str) -> OperatorToken:
    token = session.get(OperatorToken, token_id)
    if token is None:
        raise NotFound("no operator token %(id)s", {"id": token_id})
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    session.flush()
    return token


def authenticate_operator(session: Session, secret: str) -> OperatorToken | None:
    """The unrevoked operator token of ``secret``: found by its SHA-256, compared again in
    constant time."""
    if not secret or len(secret) > 512:
        return None
    token = session.scalar(select(OperatorToken).where(
        OperatorToken.secret_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None or not tokens_match(secret, token.secret_hash):
        return None
    return token
