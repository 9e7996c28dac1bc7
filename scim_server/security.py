"""Secrets: bearer tokens (stored as SHA-256, looked up by hash, compared in constant time)
and passwords (argon2id)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIXES = {"scim": "scim_", "api": "sapi_", "oauth": "soac_", "operator": "sop_"}

_hasher = PasswordHasher()


def new_token(kind: str) -> str:
    """A fresh random token; its prefix says its kind, as GitHub's do, so leaks are recognisable."""
    return TOKEN_PREFIXES.get(kind, "tok_") + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def tokens_match(token: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), stored_hash)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


@functools.cache
def _decoy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password(password: str, stored_hash: str | None) -> bool:
    """Check a password with exactly one argon2 verification, whatever ``stored_hash`` is: no
    hash (no such user, or one without a password) is checked against a decoy of the same
    cost, so the answer time does not tell who has a password here."""
    try:
        return _hasher.verify(stored_hash or _decoy_hash(), password) and bool(stored_hash)
    except InvalidHashError:
        _verify_decoy(password)
        return False
    except VerificationError:
        return False


def _verify_decoy(password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(_decoy_hash(), password)
