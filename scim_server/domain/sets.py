"""Provisioning events as signed Security Event Tokens (RFC 8417, RFC 9967), their signing keys,
and their poll-based delivery (RFC 8936).

A SET per event, the same for every receiver of the account (so its ``jti``, the event id,
names one token):

- ``iss``: the server's public base URL (``SCIM_BASE_URL``), where its JWKS is
  (``/.well-known/jwks.json``);
- ``aud``: the account's event feed, ``<base>/scim/v2/Feeds/<account id>`` (the form of RFC
  9967's examples): the account's SCIM service provider is one of many on this server;
- ``iat``: when the change happened (a redelivered SET keeps its claims);
- ``txn``: the transaction that wrote the event (shared by the events of one request or Bulk);
- ``sub_id``: RFC 9967's ``scim`` subject, the resource's path;
- ``events``: the RFC 9967 event URI with its payload: ``data`` for ``create:full``,
  ``attributes`` for a notice (a group's membership notice also names the members ``added``
  and ``removed``, an extension member), nothing for ``delete``/``activate``/``deactivate``.
  A ``create:full`` whose resource was erased since (a deleted user's personal data) is sent
  as ``create:notice``: RFC 9967 allows ``full`` only with ``data``.

Keys: ES256 (P-256), kept in the database so that every instance signs with the same key and
publishes the same JWKS; see ``storage.domain_tables.SigningKey`` for why stored and encrypted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy.orm import Session

from scim_server.domain.errors import InvalidInput
from scim_server.domain.events import CREATE_FULL, PREFIX, sub_id
from scim_server.storage import set_poll as store
from scim_server.storage.models import Account

log = logging.getLogger(__name__)

ALG = "ES256"
CREATE_NOTICE = PREFIX + "create:notice"
# A receiver acknowledges what it got (at most a page per poll), and may catch up on a few
# polls' worth at once: beyond this, a request is refused rather than read.
MAX_ACKS = 10_000


# --- keys -----------------------------------------------------------------------------------------

def _cipher(secret: str) -> AESGCM:
    # A key of its own, derived from the secret key: never the secret key itself.
    return AESGCM(hmac.new(secret.encode(), b"scim-server signing keys", hashlib.sha256).digest())


def _seal(secret: str, pem: bytes, kid: str) -> str:
    nonce = os.urandom(12)
    return base64.b64encode(nonce + _cipher(secret).encrypt(nonce, pem, kid.encode())).decode()


def _unseal(secret: str, sealed: str, kid: str) -> bytes:
    raw = base64.b64decode(sealed)
    return _cipher(secret).decrypt(raw[:12], raw[12:], kid.encode())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: ECKey


# Decrypted keys by (kid, a hash of the secret), so that a poll does not decrypt every time;
# a key is never removed from the table, so a cached one never goes stale.
_KEYS: dict[tuple[str, str], SigningKey] = {}
_KEYS_LOCK = threading.Lock()


def _fingerprint(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _new_key(session: Session, secret: str, generation: int) -> bool:
    kid = base64.urlsafe_b64encode(os.urandom(12)).decode()
    key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": ALG},
                             private=True)
    return store.add_signing_key(session.connection(), {
        "kid": kid, "generation": generation, "alg": ALG,
        "public_jwk": dict(key.as_dict(private=False)),
        "private_key": _seal(secret, key.as_pem(private=True), kid),
    })


def rotate_key(session: Session, secret: str) -> str:
    """Add a key that signs from now on; the earlier ones stay in the JWKS. The new kid."""
    while True:
        newest = store.newest_signing_key(session.connection())
        if _new_key(session, secret, 1 if newest is None else newest.generation + 1):
            row = store.newest_signing_key(session.connection())
            assert row is not None
            return str(row.kid)
        # Another instance rotated at the same moment: one more generation.


def signing_key(session: Session, secret: str) -> SigningKey:
    """The key that signs now: the newest, created on first use. A newest key this secret
    key cannot open (the secret key changed, or no secret key is set and this is another
    process) is left for verification, and a new one is made."""
    connection = session.connection()
    row = store.newest_signing_key(connection)
    if row is None:
        # Two instances may both get here: one generation 1 wins, the other reads it.
        _new_key(session, secret, 1)
        row = store.newest_signing_key(connection)
        assert row is not None
    cache_key = (str(row.kid), _fingerprint(secret))
    with _KEYS_LOCK:
        found = _KEYS.get(cache_key)
    if found is not None:
        return found
    try:
        pem = _unseal(secret, row.private_key, row.kid)
    except (InvalidTag, ValueError):
        log.warning("signing key %s cannot be opened with this secret key (SCIM_SECRET_KEY "
                    "changed, or is not set): adding a new signing key", row.kid)
        rotate_key(session, secret)
        return signing_key(session, secret)
    found = SigningKey(str(row.kid), ECKey.import_key(pem))
    with _KEYS_LOCK:
        _KEYS[cache_key] = found
    return found


def jwks(session: Session, secret: str) -> dict[str, Any]:
    """Every public key, newest first (a signing key exists once this is asked)."""
    signing_key(session, secret)
    rows = store.signing_keys(session.connection())
    return {"keys": [dict(row.public_jwk) for row in reversed(rows)]}


# --- tokens ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Audience:
    """Who the SETs of an account are for, and who issues them."""

    issuer: str
    audience: str

    @classmethod
    def of(cls, base_url: str, account: Account) -> Audience:
        base = base_url.rstrip("/")
        return cls(issuer=base, audience=f"{base}/scim/v2/Feeds/{account.id}")


def claims_of(event: Any, audience: Audience) -> dict[str, Any]:
    """The SET of one stored event (a row of ``events``)."""
    payload = dict(event.payload or {})
    event_type = event.event_type
    if event_type == CREATE_FULL:
        if event.data is not None:
            payload = {"data": event.data}
        else:
            event_type, payload = CREATE_NOTICE, {"attributes": ["id"]}
    return {
        "iss": audience.issuer,
        "iat": int(event.at.timestamp()),
        "jti": event.id,
        "aud": audience.audience,
        "txn": event.txn or event.id,
        "sub_id": sub_id(event),
        "events": {event_type: payload},
    }


def sign(claims: Mapping[str, Any], key: SigningKey) -> str:
    """A compact JWS, typed as RFC 8417 §2.3 recommends."""
    header = {"alg": ALG, "kid": key.kid, "typ": "secevent+jwt"}
    return jwt.encode(header, dict(claims), key.key)


# --- poll-based delivery (RFC 8936) ---------------------------------------------------------------

@dataclass(frozen=True)
class PollRequest:
    ack: Sequence[str] = ()
    errors: Mapping[str, Mapping[str, str]] | None = None
    max_events: int = 100
    return_immediately: bool = False


@dataclass(frozen=True)
class PollAnswer:
    sets: dict[str, str]
    more_available: bool


def poll(session: Session, account: Account, receiver: str, request: PollRequest, *,
         secret: str, audience: Audience, wait: float = 0.0,
         commit: Callable[[], None] | None = None,
         sleep: Callable[[float], None] = time.sleep) -> PollAnswer:
    """Acknowledge, then answer the receiver's unacknowledged SETs, oldest first.

    ``ack`` and ``setErrs`` both end a SET's delivery: a SET the receiver could not process
    would fail the same way again (the error is logged for the operator). A jti that is not
    one of this account's events (another account's, unknown, or already purged) is ignored
    (RFC 8936 defines no error for it): it cannot touch another account's feed, and the
    answer tells the receiver nothing about it.

    ``wait`` (seconds) bounds a long poll: with ``returnImmediately`` false and nothing to
    send, the answer waits until an event comes or ``wait`` passes. ``commit`` ends the
    acknowledging transaction first (its row lock must not be held while waiting)."""
    acks = list(request.ack)
    errors = dict(request.errors or {})
    if len(acks) + len(errors) > MAX_ACKS:
        raise InvalidInput("at most %(max)s acknowledgements at once", field="ack",
                           params={"max": MAX_ACKS})
    for jti, error in errors.items():
        log.info("set-poll receiver %s reported SET %s: %s", receiver, jti,
                 str(error.get("err", ""))[:64])
    connection = session.connection()
    prefix = store.take_receiver(connection, account.id, receiver)
    if acks or errors:
        positions = store.positions_of(connection, account.id, [*acks, *errors])
        prefix = store.acknowledge(connection, account.id, receiver, prefix, positions.values())
    if request.max_events == 0:
        return PollAnswer({}, bool(store.unacknowledged(connection, account.id, receiver,
                                                        prefix, 1)))
    rows = store.unacknowledged(connection, account.id, receiver, prefix, request.max_events + 1)
    deadline = time.monotonic() + wait
    while not rows and not request.return_immediately and time.monotonic() < deadline:
        if commit is not None:
            commit()
            commit = None
        sleep(min(0.25, max(0.0, deadline - time.monotonic())))
        session.rollback()  # a fresh snapshot: see what committed meanwhile
        connection = session.connection()
        # Another poll of this receiver may have acknowledged meanwhile.
        prefix = store.receiver_prefix(connection, account.id, receiver)
        rows = store.unacknowledged(connection, account.id, receiver, prefix,
                                    request.max_events + 1)
    key = signing_key(session, secret)
    sets = {row.id: sign(claims_of(row, audience), key) for row in rows[:request.max_events]}
    return PollAnswer(sets, len(rows) > request.max_events)
