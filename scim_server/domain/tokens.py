"""Bearer credentials of the admin API: API tokens, SCIM tokens, OAuth clients and the tokens
issued to them. Secrets are shown once and kept only as SHA-256."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor, Clock, as_utc
from scim_server.domain.audit import record_audit
from scim_server.domain.credentials import issue_credential
from scim_server.domain.errors import NotFound, RuleViolation, Severity
from scim_server.domain.users import lock_account
from scim_server.security import hash_token, tokens_match
from scim_server.storage.domain_tables import OAuthClient, OAuthToken
from scim_server.storage.models import Account, Credential, User, utcnow
from scim_server.storage.set_poll import forget_receiver

log = logging.getLogger(__name__)

TOKEN_KINDS = ("api", "scim")
OAUTH_TOKEN_TTL = dt.timedelta(hours=1)
# Recording each use would write on every request; a minute is precise enough for
# "last used" and "last activity" and spares the database.
USE_RECORD_GRANULARITY = dt.timedelta(seconds=60)


def _user(session: Session, account: Account, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.account_id != account.id or user.status == "deleted":
        raise NotFound("no user %(id)s", {"id": user_id})
    return user


def issue_token(session: Session, account: Account, *, user_id: str, kind: str = "api",
                name: str | None = None, actor: Actor,
                clock: Clock = utcnow) -> tuple[Credential, str]:
    """Issue a token to an active user; the secret is returned once and never stored."""
    user = _user(session, account, user_id)
    # A SCIM token's holder is checked by issue_credential, under the account lock: a user
    # deactivated a moment before or after this read gets the same refusal
    # (``token.scim_requires_admin``), whichever transaction came first.
    if kind != "scim" and user.status != "active":
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
        raise NotFound("no token %(id)s", {"id": credential_id})
    return cred


def revoke_token(session: Session, account: Account, credential_id: str, *, actor: Actor,
                 clock: Clock = utcnow) -> Credential:
    cred = get_token(session, account, credential_id)
    if cred.revoked_at is None:
        cred.revoked_at = clock()
        forget_receiver(session.connection(), account.id, cred.id)
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
    # As issuing (``credentials.issue_credential``): under the lock of the type and status
    # changes, on the row as committed, or the new holder may be demoted meanwhile.
    lock_account(session, account)
    session.refresh(user)
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


def get_oauth_client(session: Session, account: Account, client_pk: str) -> OAuthClient:
    client = session.get(OAuthClient, client_pk)
    if client is None or client.account_id != account.id:
        raise NotFound("no OAuth client %(id)s", {"id": client_pk})
    return client


def revoke_oauth_client(session: Session, account: Account, client_pk: str, *, actor: Actor,
                        clock: Clock = utcnow) -> OAuthClient:
    client = get_oauth_client(session, account, client_pk)
    if client.revoked_at is None:
        client.revoked_at = clock()
        forget_receiver(session.connection(), account.id, client.id)
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
    """Who a bearer token speaks for: the credential (a SCIM or API token, or an OAuth client),
    its account and the user it acts as. The account is a copy read with the credential, not
    an entity of the session (it is read on every request: one statement, no ORM load)."""

    kind: str  # "scim" | "api" | "oauth"
    credential_id: str
    client: str | None  # the token's name, or the OAuth client id
    account: Account
    user_id: str | None
    user_type: str | None
    user_status: str | None
    last_used_at: dt.datetime | None
    user_last_activity_at: dt.datetime | None

    @property
    def is_active_admin(self) -> bool:
        return self.user_type == "Admin" and self.user_status == "active"

    @property
    def holder_lost_admin(self) -> bool:
        """The token has a holder who is no longer an active Admin. Tokens act with their
        holder's authority, which a demotion or deactivation takes away even when the rules
        were bypassed (a race, a database edit). A token bound to no user (a holder's row
        removed) has no holder to lose it."""
        return self.user_id is not None and not self.is_active_admin


_accounts = cast(sa.Table, Account.__table__)
_credentials = cast(sa.Table, Credential.__table__)
_users = cast(sa.Table, User.__table__)
_oauth_tokens = cast(sa.Table, OAuthToken.__table__)
_oauth_clients = cast(sa.Table, OAuthClient.__table__)
_ACCOUNT_COLUMNS = tuple(_accounts.c)
_USER_COLUMNS = (_users.c.status, _users.c.user_type, _users.c.last_activity_at)

# Built once: every request runs one of them first.
_BY_CREDENTIAL = (
    sa.select(_credentials.c.id, _credentials.c.kind, _credentials.c.name,
              _credentials.c.revoked_at, _credentials.c.last_used_at, _credentials.c.secret_hash,
              _credentials.c.user_id, *_USER_COLUMNS, *_ACCOUNT_COLUMNS)
    .join_from(_credentials, _accounts, _accounts.c.id == _credentials.c.account_id)
    .outerjoin(_users, _users.c.id == _credentials.c.user_id)
    .where(_credentials.c.secret_hash == sa.bindparam("digest"))
)
_BY_OAUTH_TOKEN = (
    sa.select(_oauth_tokens.c.token_hash, _oauth_tokens.c.revoked_at, _oauth_tokens.c.expires_at,
              _oauth_clients.c.id, _oauth_clients.c.client_id,
              _oauth_clients.c.revoked_at.label("client_revoked_at"),
              _oauth_clients.c.last_used_at, _oauth_clients.c.user_id, *_USER_COLUMNS,
              *_ACCOUNT_COLUMNS)
    .join_from(_oauth_tokens, _oauth_clients, _oauth_clients.c.id == _oauth_tokens.c.client_pk)
    .join(_users, _users.c.id == _oauth_clients.c.user_id)
    .join(_accounts, _accounts.c.id == _users.c.account_id)
    .where(_oauth_tokens.c.token_hash == sa.bindparam("digest"))
)


def _account_of(row: Any) -> Account:
    return Account(**{column.key: row._mapping[column] for column in _ACCOUNT_COLUMNS})


def authenticate(session: Session, secret: str, *, kinds: tuple[str, ...],
                 clock: Clock = utcnow) -> Principal | None:
    """Resolve a bearer secret to its principal, or None when unknown, revoked, expired, of
    another kind than ``kinds`` ("scim", "api", "oauth"), or held by a deleted user.

    The one authentication path of every door that takes bearer tokens: looked up by the
    SHA-256 of the secret (an indexed lookup that reveals nothing about other tokens), then
    compared again in constant time; one statement, with the account and the user."""
    if not secret or len(secret) > 512:
        return None
    digest = hash_token(secret)
    connection = session.connection()
    row = connection.execute(_BY_CREDENTIAL, {"digest": digest}).first()
    if row is not None:
        if (row.kind not in kinds or row.revoked_at is not None
                or not tokens_match(secret, row.secret_hash)):
            return None
        principal = Principal(row.kind, row.id, row.name, _account_of(row), row.user_id,
                              row.user_type, row.status, row.last_used_at, row.last_activity_at)
    elif "oauth" in kinds:
        row = connection.execute(_BY_OAUTH_TOKEN, {"digest": digest}).first()
        if (row is None or row.revoked_at is not None or row.client_revoked_at is not None
                or as_utc(row.expires_at) <= clock() or not tokens_match(secret, row.token_hash)):
            return None
        principal = Principal("oauth", row.id, row.client_id, _account_of(row), row.user_id,
                              row.user_type, row.status, row.last_used_at, row.last_activity_at)
    else:
        return None
    if principal.user_id is not None and principal.user_status in (None, "deleted"):
        return None
    return principal


def _stale(last: dt.datetime | None, now: dt.datetime) -> bool:
    return last is None or now - as_utc(last) >= USE_RECORD_GRANULARITY


def record_use(session: Session, principal: Principal, *, clock: Clock = utcnow) -> None:
    """Record when a credential was last used, at most once a minute, and for the admin API
    the acting user's last activity: informative times, so a write never waits for them.

    PostgreSQL: a row that another transaction holds (a long Bulk of the same token) is
    skipped, not waited for. SQLite: a database too busy to write right now skips it too."""
    now = clock()
    writes: list[tuple[Any, str | None]] = []
    if _stale(principal.last_used_at, now):
        table = _oauth_clients if principal.kind == "oauth" else _credentials
        writes.append((table, principal.credential_id))
    if principal.kind != "scim" and _stale(principal.user_last_activity_at, now):
        writes.append((_users, principal.user_id))
    if not writes:
        return
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    for table, row_id in writes:
        if row_id is None:
            continue
        column = "last_activity_at" if table is _users else "last_used_at"
        target: Any = table.c.id == row_id
        if postgres:
            held = table.alias("held")
            target = table.c.id.in_(
                sa.select(held.c.id).where(held.c.id == row_id)
                .with_for_update(skip_locked=True).scalar_subquery()
            )
        try:
            connection.execute(sa.update(table).where(target).values({column: now}))
        except sa.exc.OperationalError:
            log.info("last use of %s %s not recorded: database busy", table.name, row_id)
