"""Bearer credentials of the admin API: API tokens, SCIM tokens, OAuth clients and the tokens
issued to them. Secrets are shown once and kept only as SHA-256."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor, Clock, as_utc
from scim_server.domain.audit import record_audit
from scim_server.domain.credentials import issue_credential
from scim_server.domain.errors import NotFound, RuleViolation, Severity
from scim_server.domain.tables import OAuthClient, OAuthToken
from scim_server.security import hash_token, tokens_match
from scim_server.storage.models import Account, Credential, User, utcnow

TOKEN_KINDS = ("api", "scim")
OAUTH_TOKEN_TTL = dt.timedelta(hours=1)
# Recording each use would write on every request; a minute is precise enough for
# "last used" and "last activity" and spares the database.
USE_RECORD_GRANULARITY = dt.timedelta(seconds=60)


def _user(session: Session, account: Account, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.account_id != account.id or user.status == "deleted":
        raise NotFound(f"no user {user_id}")
    return user


def issue_token(session: Session, account: Account, *, user_id: str, kind: str = "api",
                name: str | None = None, actor: Actor,
                clock: Clock = utcnow) -> tuple[Credential, str]:
    """Issue a token to an active user; the secret is returned once and never stored."""
    user = _user(session, account, user_id)
    if user.status != "active":
        raise RuleViolation("token.requires_active", "tokens are issued to active users only",
                            Severity.CONFLICT)
    # One issuing path for the CLI and the API (SCIM tokens: active Admins only).
    issued = issue_credential(session, account, user, kind=kind, name=name)
    cred, secret = issued.credential, issued.secret
    record_audit(session, account, actor=actor, action="token.issue", target_type="credential",
                 target_id=cred.id, before=None, after={"kind": kind, "user_id": user.id},
                 clock=clock)
    return cred, secret


def list_tokens(session: Session, account: Account, *, user_id: str | None = None,
                kind: str | None = None) -> list[Credential]:
    stmt = select(Credential).where(Credential.account_id == account.id)
    if user_id is not None:
        stmt = stmt.where(Credential.user_id == user_id)
    if kind is not None:
        stmt = stmt.where(Credential.kind == kind)
    return list(session.scalars(stmt.order_by(Credential.created_at, Credential.id)))


def get_token(session: Session, account: Account, credential_id: str) -> Credential:
    cred = session.get(Credential, credential_id)
    if cred is None or cred.account_id != account.id:
        raise NotFound(f"no token {credential_id}")
    return cred


def revoke_token(session: Session, account: Account, credential_id: str, *, actor: Actor,
                 clock: Clock = utcnow) -> Credential:
    cred = get_token(session, account, credential_id)
    if cred.revoked_at is None:
        cred.revoked_at = clock()
        record_audit(session, account, actor=actor, action="token.revoke",
                     target_type="credential", target_id=cred.id, before={"revoked": False},
                     after={"revoked": True}, clock=clock)
    session.flush()
    return cred


def reassign_token(session: Session, account: Account, credential_id: str, user_id: str, *,
                   actor: Actor, clock: Clock = utcnow) -> Credential:
    """Give a token to another active Admin, e.g. to free an Admin from
    ``admin.holds_scim_tokens`` before demoting them."""
    cred = get_token(session, account, credential_id)
    user = _user(session, account, user_id)
    if user.status != "active" or user.user_type != "Admin":
        raise RuleViolation("token.requires_admin", "tokens can be reassigned to active Admins",
                            Severity.CONFLICT)
    before = cred.user_id
    cred.user_id = user.id
    record_audit(session, account, actor=actor, action="token.reassign",
                 target_type="credential", target_id=cred.id, before={"user_id": before},
                 after={"user_id": user.id}, clock=clock)
    session.flush()
    return cred


# --- OAuth 2.0 clients (client credentials grant) -------------------------------------------

def create_oauth_client(session: Session, account: Account, *, user_id: str,
                        name: str | None = None, actor: Actor,
                        clock: Clock = utcnow) -> tuple[OAuthClient, str]:
    """Register a client acting as the Admin ``user_id``; the secret is returned once."""
    user = _user(session, account, user_id)
    if user.status != "active" or user.user_type != "Admin":
        raise RuleViolation("token.requires_admin", "OAuth clients act as an active Admin",
                            Severity.CONFLICT)
    secret = secrets.token_urlsafe(32)
    client = OAuthClient(account_id=account.id, client_id="sclient_" + secrets.token_hex(12),
                         secret_hash=hash_token(secret), user_id=user.id, name=name,
                         created_at=clock())
    session.add(client)
    session.flush()
    record_audit(session, account, actor=actor, action="oauth_client.create",
                 target_type="oauth_client", target_id=client.id, before=None,
                 after={"client_id": client.client_id, "user_id": user.id}, clock=clock)
    return client, secret


def list_oauth_clients(session: Session, account: Account) -> list[OAuthClient]:
    return list(session.scalars(select(OAuthClient).where(OAuthClient.account_id == account.id)
                                .order_by(OAuthClient.created_at, OAuthClient.id)))


def revoke_oauth_client(session: Session, account: Account, client_pk: str, *, actor: Actor,
                        clock: Clock = utcnow) -> OAuthClient:
    client = session.get(OAuthClient, client_pk)
    if client is None or client.account_id != account.id:
        raise NotFound(f"no OAuth client {client_pk}")
    if client.revoked_at is None:
        client.revoked_at = clock()
        record_audit(session, account, actor=actor, action="oauth_client.revoke",
                     target_type="oauth_client", target_id=client.id, before={"revoked": False},
                     after={"revoked": True}, clock=clock)
    session.flush()
    return client


def find_oauth_client(session: Session, client_id: str) -> OAuthClient | None:
    client = session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None or client.revoked_at is not None:
        return None
    return client


def save_oauth_token(session: Session, client: OAuthClient, access_token: str, *,
                     scope: str | None, expires_in: int, clock: Clock = utcnow) -> OAuthToken:
    now = clock()
    tok = OAuthToken(account_id=client.account_id, client_pk=client.id,
                     token_hash=hash_token(access_token), scope=scope, issued_at=now,
                     expires_at=now + dt.timedelta(seconds=expires_in))
    client.last_used_at = now
    session.add(tok)
    session.flush()
    return tok


# --- authentication ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """Who a bearer token speaks for."""

    account: Account
    user: User
    credential_id: str
    client: str | None


def authenticate_bearer(session: Session, secret: str, *,
                        clock: Clock = utcnow) -> Principal | None:
    """Resolve an API token (``sapi_…``) or an OAuth access token to its principal, or None
    when unknown, revoked or expired. Looked up by hash, then compared in constant time; the
    use is recorded as the owner's last activity."""
    now = clock()
    digest = hash_token(secret)
    user_id: str | None
    cred = session.scalar(select(Credential).where(Credential.secret_hash == digest))
    if cred is not None:
        if cred.kind != "api" or cred.revoked_at is not None or not tokens_match(
            secret, cred.secret_hash
        ):
            return None
        user_id, credential_id, client_label = cred.user_id, cred.id, cred.name
        if cred.last_used_at is None or now - as_utc(cred.last_used_at) > USE_RECORD_GRANULARITY:
            cred.last_used_at = now
    else:
        tok = session.scalar(select(OAuthToken).where(OAuthToken.token_hash == digest))
        if tok is None or tok.revoked_at is not None or as_utc(tok.expires_at) <= now or not tokens_match(
            secret, tok.token_hash
        ):
            return None
        client = session.get(OAuthClient, tok.client_pk)
        if client is None or client.revoked_at is not None:
            return None
        user_id, credential_id, client_label = client.user_id, client.id, client.client_id
        if client.last_used_at is None or now - as_utc(client.last_used_at) > USE_RECORD_GRANULARITY:
            client.last_used_at = now
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or user.status == "deleted":
        return None
    account = session.get(Account, user.account_id)
    if account is None:
        return None
    if user.last_activity_at is None or now - as_utc(user.last_activity_at) > USE_RECORD_GRANULARITY:
        user.last_activity_at = now
    return Principal(account=account, user=user, credential_id=credential_id,
                     client=client_label)
