"""Webhook endpoints of an account (issue 15): registration, secrets, signatures, the
delivery log, replay, a test event; and what the hub shows of their health.

Deliveries follow Standard Webhooks (https://www.standardwebhooks.com): the headers
``webhook-id`` (the event id: receivers dedup on it), ``webhook-timestamp`` and
``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, several
space-separated while a rotated secret still signs), and the event as the JSON body. The
worker (:mod:`scim_server.webhook_worker`) delivers the feed; this module is what every door
and the worker share.

Secrets. A Standard Webhooks signature is an HMAC keyed with the secret itself, so the server
must be able to read the secret back: a hash (as for tokens) cannot sign. It is therefore kept
sealed: AES-GCM under a key derived from the server's secret key (``SCIM_SECRET_KEY``), with
the endpoint id as associated data (a sealed secret copied onto another endpoint does not
open). A database dump alone reveals no secret; the server's key is needed as well, as it is
for sessions and cursors. Changing the server's key makes the sealed secrets unreadable: the
endpoint's deliveries fail with that reason until an Admin rotates its secret.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scim_server.domain import events
from scim_server.domain.actors import Actor, Clock, as_utc
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import InvalidInput, NotFound
from scim_server.domain.events import EVENT_TYPES
from scim_server.domain.webhook_transport import Outcome, Sender, UnsafeTarget, check_url, resolve
from scim_server.storage.domain_tables import Event, WebhookDelivery, WebhookEndpoint
from scim_server.storage.models import Account, new_id, utcnow

SECRET_PREFIX = "whsec_"  # noqa: S105  (the format's prefix, not a secret)
TEST_EVENT_TYPE = "urn:scim-server:webhook:test"
MAX_ENDPOINTS = 20
DEFAULT_OVERLAP = dt.timedelta(hours=24)
MAX_OVERLAP = dt.timedelta(days=7)


# --- secrets and signatures ---------------------------------------------------------------------

def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _sealing_key(server_key: str) -> bytes:
    return hmac.new(server_key.encode(), b"scim-server webhook secrets v1", hashlib.sha256).digest()


def seal_secret(server_key: str, endpoint_id: str, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(_sealing_key(server_key)).encrypt(nonce, secret.encode(), endpoint_id.encode())
    return "v1." + base64.urlsafe_b64encode(nonce + sealed).decode()


class SecretUnreadable(Exception):
    """A sealed secret does not open: the server's secret key changed since it was sealed."""


def open_secret(server_key: str, endpoint_id: str, sealed: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(sealed.removeprefix("v1.").encode())
        return AESGCM(_sealing_key(server_key)).decrypt(
            raw[:12], raw[12:], endpoint_id.encode()).decode()
    except (InvalidTag, ValueError) as exc:
        raise SecretUnreadable(
            "the endpoint's secret cannot be read with this server's secret key "
            "(SCIM_SECRET_KEY changed?): rotate the secret") from exc


def signing_secrets(endpoint: Any, server_key: str, now: dt.datetime) -> list[str]:
    """The secrets that sign now: the current one, and the one before a rotation until its
    overlap ends."""
    found = [open_secret(server_key, endpoint.id, endpoint.secret_sealed)]
    if (endpoint.old_secret_sealed and endpoint.old_secret_expires_at is not None
            and as_utc(endpoint.old_secret_expires_at) > now):
        # An old secret that does not open is simply no longer used.
        with contextlib.suppress(SecretUnreadable):
            found.append(open_secret(server_key, endpoint.id, endpoint.old_secret_sealed))
    return found


def sign(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,<base64>`` per secret, space-separated."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(base64.b64decode(s.removeprefix(SECRET_PREFIX)),
                                          signed, hashlib.sha256).digest()).decode()
        for s in secrets_)


def headers_for(secrets_: Sequence[str], message_id: str, body: bytes,
                now: dt.datetime) -> dict[str, str]:
    timestamp = int(now.timestamp())
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secrets_, message_id, timestamp, body)}


# --- the body -------------------------------------------------------------------------------------

def event_document(row: Any) -> dict[str, Any]:
    """An event as a webhook body: the feed's document, its time in ISO 8601."""
    document = events.event_document(row)
    document["at"] = as_utc(row.at).isoformat()
    return document


def body_of(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


# --- endpoints ------------------------------------------------------------------------------------

def _checked_url(url: Any, *, allow_private: bool) -> str:
    try:
        if not isinstance(url, str):
            raise UnsafeTarget("the URL must be a string")
        _, host, port, _ = check_url(url, allow_private=allow_private)
        resolve(host, port, allow_private=allow_private)
    except UnsafeTarget as exc:
        raise InvalidInput("refused webhook URL: %(reason)s", field="url",
                           params={"reason": str(exc)}) from None
    return url.strip()


def _checked_types(types: Sequence[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(types or ()))
    unknown = sorted(set(chosen) - set(EVENT_TYPES))
    if unknown:
        raise InvalidInput("not an event type: %(types)s", field="event_types",
                           params={"types": ", ".join(unknown)})
    return chosen


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "event_types": list(endpoint.event_types or []),
            "enabled": endpoint.enabled, "description": endpoint.description}


def list_endpoints(session: Session, account: Account) -> list[WebhookEndpoint]:
    return list(session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.account_id == account.id)
        .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)))


def get_endpoint(session: Session, account: Account, endpoint_id: str) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.account_id != account.id:
        raise NotFound("no webhook endpoint %(id)s", params={"id": endpoint_id})
    return endpoint


def create_endpoint(session: Session, account: Account, *, url: str,
                    event_types: Sequence[str] | None = None, description: str | None = None,
                    enabled: bool = True, actor: Actor, server_key: str, allow_private: bool,
                    clock: Clock = utcnow) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; it receives the events written from now on. The secret is
    returned once."""
    checked = _checked_url(url, allow_private=allow_private)
    types = _checked_types(event_types)
    count = session.scalar(select(func.count()).select_from(WebhookEndpoint)
                           .where(WebhookEndpoint.account_id == account.id)) or 0
    if count >= MAX_ENDPOINTS:
        raise InvalidInput("an account has at most %(max)s webhook endpoints", field="url",
                           params={"max": MAX_ENDPOINTS})
    now = clock()
    current = session.scalar(select(Account.event_position).where(Account.id == account.id))
    endpoint_id, secret = new_id(), new_secret()
    endpoint = WebhookEndpoint(
        id=endpoint_id, account_id=account.id, url=checked, description=description,
        event_types=types, enabled=enabled,
        secret_sealed=seal_secret(server_key, endpoint_id, secret), position=int(current or 0),
        attempts=0, created_at=now, modified_at=now)
    session.add(endpoint)
    session.flush()
    record_audit(session, account, actor=actor, action="webhook.create", target_type="webhook",
                 target_id=endpoint.id, before=None, after=_snapshot(endpoint), clock=clock)
    return endpoint, secret


def update_endpoint(session: Session, account: Account, endpoint_id: str, *, actor: Actor,
                    allow_private: bool, clock: Clock = utcnow,
                    **changes: Any) -> WebhookEndpoint:
    endpoint = get_endpoint(session, account, endpoint_id)
    before = _snapshot(endpoint)
    if "url" in changes:
        endpoint.url = _checked_url(changes["url"], allow_private=allow_private)
    if "event_types" in changes:
        endpoint.event_types = _checked_types(changes["event_types"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "enabled" in changes:
        endpoint.enabled = bool(changes["enabled"])
        if endpoint.enabled:
            # Enabled again: try at once rather than at the end of an old backoff.
            endpoint.next_attempt_at = None
    endpoint.modified_at = clock()
    if _snapshot(endpoint) != before:
        record_audit(session, account, actor=actor, action="webhook.update",
                     target_type="webhook", target_id=endpoint.id, before=before,
                     after=_snapshot(endpoint), clock=clock)
    return endpoint


def delete_endpoint(session: Session, account: Account, endpoint_id: str, *, actor: Actor,
                    clock: Clock = utcnow) -> None:
    endpoint = get_endpoint(session, account, endpoint_id)
    record_audit(session, account, actor=actor, action="webhook.delete", target_type="webhook",
                 target_id=endpoint.id, before=_snapshot(endpoint), after=None, clock=clock)
    session.delete(endpoint)
    session.flush()


def rotate_secret(session: Session, account: Account, endpoint_id: str, *, actor: Actor,
                  server_key: str, overlap: dt.timedelta = DEFAULT_OVERLAP,
                  clock: Clock = utcnow) -> tuple[WebhookEndpoint, str]:
    """A new secret, returned once. The previous one keeps signing beside it for ``overlap``
    (0: stops at once), so that receivers can switch without missing a delivery."""
    if overlap < dt.timedelta(0) or overlap > MAX_OVERLAP:
        raise InvalidInput("the overlap must be between 0 and 7 days", field="overlap_seconds")
    endpoint = get_endpoint(session, account, endpoint_id)
    now = clock()
    secret = new_secret()
    try:
        open_secret(server_key, endpoint.id, endpoint.secret_sealed)
        readable = True
    except SecretUnreadable:
        readable = False  # a secret no one can sign with is not worth keeping
    endpoint.old_secret_sealed = endpoint.secret_sealed if readable and overlap else None
    endpoint.old_secret_expires_at = now + overlap if readable and overlap else None
    endpoint.secret_sealed = seal_secret(server_key, endpoint.id, secret)
    endpoint.next_attempt_at = None
    endpoint.modified_at = now
    record_audit(session, account, actor=actor, action="webhook.rotate_secret",
                 target_type="webhook", target_id=endpoint.id, before=None,
                 after={"overlap_seconds": int(overlap.total_seconds())}, clock=clock)
    return endpoint, secret


def replay_from(session: Session, account: Account, endpoint_id: str, *, actor: Actor,
                position: int | None = None, event_id: str | None = None,
                clock: Clock = utcnow) -> WebhookEndpoint:
    """Deliver again from an event (by position or id) onwards, in order."""
    endpoint = get_endpoint(session, account, endpoint_id)
    if (position is None) == (event_id is None):
        raise InvalidInput("give either a position or an event_id", field="position")
    if event_id is not None:
        found = session.scalar(select(Event.position).where(Event.account_id == account.id,
                                                            Event.id == event_id))
        if found is None:
            raise NotFound("no event %(id)s", params={"id": event_id})
        position = int(found)
    assert position is not None
    last = session.scalar(select(Account.event_position).where(Account.id == account.id)) or 0
    if position < 1 or position > last:
        raise InvalidInput("the position must be between 1 and %(last)s", field="position",
                           params={"last": last})
    before = endpoint.position
    endpoint.position = position - 1
    endpoint.attempts = 0
    endpoint.first_failure_at = endpoint.next_attempt_at = None
    endpoint.modified_at = clock()
    record_audit(session, account, actor=actor, action="webhook.replay", target_type="webhook",
                 target_id=endpoint.id, before={"position": before},
                 after={"position": endpoint.position}, clock=clock)
    return endpoint


def list_deliveries(session: Session, account: Account, endpoint_id: str, *,
                    before_id: int | None = None, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first."""
    endpoint = get_endpoint(session, account, endpoint_id)
    stmt = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if before_id is not None:
        stmt = stmt.where(WebhookDelivery.id < before_id)
    return list(session.scalars(stmt.order_by(WebhookDelivery.id.desc()).limit(limit)))


def send_test(session: Session, account: Account, endpoint_id: str, *, server_key: str,
              allow_private: bool, timeout: float, clock: Clock = utcnow) -> WebhookDelivery:
    """Send a test event now (not part of the feed) and log it with the endpoint's deliveries."""
    endpoint = get_endpoint(session, account, endpoint_id)
    now = clock()
    message_id = new_id()
    document = {"id": message_id, "type": TEST_EVENT_TYPE, "at": now.isoformat(),
                "endpoint_id": endpoint.id,
                "description": "A test event sent from the SCIM server's webhook settings."}
    body = body_of(document)
    url, endpoint_pk, account_pk = endpoint.url, endpoint.id, account.id
    try:
        keys = signing_secrets(endpoint, server_key, now)
    except SecretUnreadable as exc:
        keys, outcome = [], Outcome(False, None, 0, str(exc))
    # Nothing is written yet: end the transaction before waiting on the receiver, so that no
    # lock (SQLite's write lock of a POST) is held for as long as a receiver takes.
    session.rollback()
    if keys:
        sender = Sender(url, timeout=timeout, allow_private=allow_private)
        try:
            outcome = sender.send(body, headers_for(keys, message_id, body, now))
        finally:
            sender.close()
    delivery = WebhookDelivery(
        account_id=account_pk, endpoint_id=endpoint_pk, event_id=message_id, position=None,
        event_type=TEST_EVENT_TYPE, at=now, attempt=1, status_code=outcome.status,
        duration_ms=outcome.duration_ms, ok=outcome.ok, error=outcome.error)
    if session.get(WebhookEndpoint, endpoint_pk) is None:
        raise NotFound("no webhook endpoint %(id)s", params={"id": endpoint_pk})  # deleted meanwhile
    session.add(delivery)
    session.flush()
    return delivery


# --- health -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WebhookHealth:
    endpoints: int
    failing: int
    # The oldest event some enabled endpoint has not received yet (None: all caught up).
    oldest_undelivered_at: dt.datetime | None


def webhook_health(session: Session, account: Account) -> WebhookHealth:
    """One statement: the endpoints, the failing ones, and the time of the oldest event an
    enabled endpoint still waits for (the one after its position: one probe each of the
    events' unique (account, position) index)."""
    w = WebhookEndpoint
    endpoints, failing, oldest = session.execute(
        select(func.count(w.id), func.count(w.failing_since), func.min(Event.at))
        .select_from(w)
        .outerjoin(Event, (Event.account_id == w.account_id)
                   & (Event.position == w.position + 1) & w.enabled.is_(True))
        .where(w.account_id == account.id)
    ).one()
    return WebhookHealth(int(endpoints), int(failing),
                         as_utc(oldest) if oldest is not None else None)


def endpoint_is_failing(endpoint: WebhookEndpoint) -> bool:
    return endpoint.failing_since is not None
