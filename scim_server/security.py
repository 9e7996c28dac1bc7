"""Secrets: bearer tokens (stored as SHA-256, looked up by hash, compared in constant time)
and passwords (argon2id)."""

from __future__ import annotations

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


def verify_password(password: str, stored_hash: str | None) -> bool:
    """Check a password; a missing hash still costs one hash, so timing does not tell users apart."""
    if not stored_hash:
        _hasher.hash(password)
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False
