"""SQL tables of the domain's records: resources and their owners, audit log, outbox, email changes,
invitations, OAuth clients and their tokens, user preferences.

They share ``Base`` (and so the naming convention and the migration history) with the core
store. Every row carries ``account_id``: the account is the isolation boundary here too.
Permissions (another migration) reference ``resources.id``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from scim_server.storage.models import Base, UTCDateTime, new_id, utcnow

RESOURCE_KINDS = ("monitor", "board", "workspace", "automation", "integration")
# Kinds that run on their owner's behalf: disabled when the owner is deactivated or deleted.
RUNNABLE_KINDS = ("automation", "integration")


class Resource(Base):
    """Something users own in the host application: a monitor, board, workspace, automation or
    integration. ``accessible`` is false while no active user owns it (sole owner deactivated
    or deleted) until an admin transfers or claims it; ``enabled`` only matters for runnable
    kinds (automations, integrations)."""

    __tablename__ = "resources"
    __table_args__ = (
        Index("ix_resources_account_kind", "account_id", "kind", "id"),
        Index("ix_resources_account_production", "account_id", "production"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(400))
    production: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    accessible: Mapped[bool] = mapped_column(Boolean, default=True)
    # Who created it: kept after deletion (the anonymised user row reads "Deleted user").
    created_by_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ResourceOwner(Base):
    """One owner of a resource (many-to-many between resources and users)."""

    __tablename__ = "resource_owners"
    __table_args__ = (Index("ix_resource_owners_user", "user_id", "resource_id"),)

    resource_id: Mapped[str] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))


class AuditEntry(Base):
    """One change through any door. Append-only: the ORM refuses updates and deletes of these
    rows (see :mod:`scim_server.domain.audit`). ``before``/``after`` never hold personal data,
    so erasing a user never has to rewrite history."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_account", "account_id", "id"),
        Index("ix_audit_log_account_target", "account_id", "target_type", "target_id"),
        # The audit page's filters (migration 0014): by door or action, newest first, and by
        # time range.
        Index("ix_audit_log_account_door", "account_id", "door", "id"),
        Index("ix_audit_log_account_action", "account_id", "action", "id"),
        Index("ix_audit_log_account_at", "account_id", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    door: Mapped[str] = mapped_column(String(10))
    # Plain ids, no foreign keys: the log outlives what it talks about.
    actor_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor_credential_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client: Mapped[str | None] = mapped_column(String(200), nullable=True)
    action: Mapped[str] = mapped_column(String(60))
    target_type: Mapped[str] = mapped_column(String(30))
    target_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class OutboxEmail(Base):
    """An email not sent because no SMTP server is configured, readable through the API: the
    body is kept with its link withheld (``domain.mail``)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_account", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # The user it is about, so that deleting the user erases the copies of their address.
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    to_address: Mapped[str] = mapped_column(String(400))
    subject: Mapped[str] = mapped_column(String(400))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EmailChange(Base):
    """A pending email change, applied only when the link sent to the new address is followed
    before ``expires_at`` (rule ``email.confirmation_required``)."""

    __tablename__ = "email_changes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    new_email: Mapped[str] = mapped_column(String(400))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    requested_by_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Invitation(Base):
    """An invitation of a pending user; accepting it makes the user active."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OperatorToken(Base):
    """A token of the platform operator (the platform API): of no account, valid on
    ``/platform/v1`` only. Only the SHA-256 of the secret is kept."""

    __tablename__ = "operator_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OAuthClient(Base):
    """An OAuth 2.0 client (client credentials grant) acting as one admin of the account.

    Only the SHA-256 of the secret is kept, as for tokens."""

    __tablename__ = "oauth_clients"
    __table_args__ = (Index("ix_oauth_clients_account_user", "account_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OAuthToken(Base):
    """An access token issued to an OAuth client (stored as SHA-256, like every bearer token)."""

    __tablename__ = "oauth_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    client_pk: Mapped[str] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str | None] = mapped_column(String(400), nullable=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UserPreferences(Base):
    """Settings of a user that SCIM has no attribute for (notification settings)."""

    __tablename__ = "user_preferences"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    notifications: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Event(Base):
    """One provisioning event (RFC 9967), written in the transaction of the change it tells:
    it exists if and only if the change committed (an outbox, read by the events API).

    ``position`` grows per account in commit order (see :mod:`scim_server.storage.events`).
    ``payload`` never holds personal data (attribute names, member ids); ``data`` holds the
    resource of a ``create:full`` event and is erased when the user is deleted."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("account_id", "position", name="uq_events_account_position"),
        Index("ix_events_account_resource", "account_id", "resource_id"),
        # The worker's retention purge (migration 0013).
        Index("ix_events_at", "at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    door: Mapped[str] = mapped_column(String(10))
    actor_user_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor_credential_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client: Mapped[str | None] = mapped_column(String(200), nullable=True)
    event_type: Mapped[str] = mapped_column(String(80))
    resource_type: Mapped[str] = mapped_column(String(20))
    resource_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    # The write (one request, one Bulk) the event came from: RFC 8417's ``txn``, shared by the
    # events of one ``record_events`` call. Null for events written before it existed.
    txn: Mapped[str | None] = mapped_column(String(32), nullable=True)


class WebhookEndpoint(Base):
    """A receiver of the account's events (Standard Webhooks), and how far it has been served.

    ``position`` is the last event position delivered (or passed over by the type filter):
    the worker sends the events after it, in order, and moves it only after a 2xx, so a killed
    worker loses nothing. ``lease_owner``/``lease_until`` are a worker's hold on the endpoint
    (one worker at a time keeps the order); ``attempts``, ``next_attempt_at`` and
    ``failing_since`` are the retry state of the event at ``position + 1``.

    The signing secrets are sealed (``domain.webhooks.seal_secret``), never kept in clear:
    Standard Webhooks signs with the raw secret, so a hash would not do."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_account", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # RFC 9967 event URIs; empty: every event.
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_sealed: Mapped[str] = mapped_column(Text)
    # The secret before the last rotation, still signing (beside the new one) until it expires.
    old_secret_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    old_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failing_since: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_success_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(400), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # When a worker last took it: the least recently served endpoint goes first.
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """One delivery attempt (the endpoint's log): its event, status, time taken, error."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_at", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    endpoint_id: Mapped[str] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(32))
    # None for a test event (not in the feed).
    position: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), nullable=True)
    event_type: Mapped[str] = mapped_column(String(80))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(String(400), nullable=True)


class SigningKey(Base):
    """A key the server signs Security Event Tokens with (RFC 8417), shared by every instance.

    Stored rather than derived from the secret key so that it can be rotated without changing
    the secret key (which seals sessions and cursors): ``generation`` orders the keys, the
    highest signs, every one stays in the JWKS so that SETs signed before a rotation still
    verify. The generation is unique, so two instances creating the first key (or rotating) at
    once cannot both win: the loser reads the winner's key. The private key is kept encrypted
    with a key derived from the server's secret key (AES-GCM): a database dump alone does not
    let anyone sign."""

    __tablename__ = "signing_keys"
    __table_args__ = (UniqueConstraint("generation", name="uq_signing_keys_generation"),)

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    private_key: Mapped[str] = mapped_column(Text)  # nonce + AES-GCM ciphertext, base64
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SetPollReceiver(Base):
    """What one poll-based SET receiver (RFC 8936) has acknowledged of its account's feed.

    A receiver is an API credential (an API token, or an OAuth client): each gets every event
    of the account once acknowledged, whatever the others do. ``acked_position`` is the
    contiguous prefix: every event at or below it is acknowledged (or was purged). Acks beyond
    it (a receiver may acknowledge out of order) are rows of :class:`SetPollAck` until the gap
    before them closes, when the prefix moves past them and they are deleted: the state stays
    small, and an unacknowledged SET is found as the first position above the prefix that has
    no ack row."""

    __tablename__ = "set_poll_receivers"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    receiver: Mapped[str] = mapped_column(String(64), primary_key=True)
    acked_position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                                default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SetPollAck(Base):
    """An event a receiver acknowledged beyond its contiguous prefix (see
    :class:`SetPollReceiver`)."""

    __tablename__ = "set_poll_acks"

    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    receiver: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                          primary_key=True)
