"""Record factories for domain and API tests: accounts, users, tokens, resources."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from scim_server.domain.documents import store
from scim_server.security import hash_token, new_token
from scim_server.storage.domain_tables import Resource, ResourceOwner
from scim_server.storage.models import Account, Credential, User

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def make_account(session: Session, name: str = "acme", **kw: Any) -> Account:
    kw.setdefault("domains", ["acme.test"])
    kw.setdefault("guest_denylist", ["blocked.test"])
    kw.setdefault("seats_limit", 10)
    kw.setdefault("operators_limit", 100)
    kw.setdefault("activity_tracking_since", T0)
    account = Account(name=name, **kw)
    session.add(account)
    session.flush()
    return account


def make_user(session: Session, account: Account, name: str, *, user_type: str = "Member",
              status: str = "active", domain: str | None = None, **kw: Any) -> User:
    domain = domain or (account.domains[0] if account.domains else "example.test")
    email = f"{name}@{domain}"
    data = {"userName": email, "displayName": name.title(), "userType": user_type,
            "active": status == "active",
            "name": {"givenName": name.title(), "familyName": "Doe"},
            "emails": [{"value": email, "primary": True, "type": "work"}],
            "phoneNumbers": [{"value": "+1 555 0100", "primary": True}],
            "title": "Engineer", "externalId": f"ext-{name}"}
    user = User(account_id=account.id, user_type=user_type, status=status, data={}, search={},
                version=0, **kw)
    session.add(user)
    session.flush()
    # The same derivation as a SCIM write: keys, search document, email rows.
    store(user, data, now=kw.get("created_at") or T0)
    session.flush()
    return user


def make_token(session: Session, account: Account, user: User, kind: str = "api") -> str:
    secret = new_token(kind)
    session.add(Credential(account_id=account.id, user_id=user.id, kind=kind, prefix=secret[:12],
                           secret_hash=hash_token(secret)))
    session.flush()
    return secret


def make_resource(session: Session, account: Account, kind: str, *owners: User,
                  production: bool = False) -> Resource:
    res = Resource(account_id=account.id, kind=kind, name=f"{kind}-1", production=production)
    session.add(res)
    session.flush()
    for o in owners:
        session.add(ResourceOwner(resource_id=res.id, user_id=o.id, account_id=account.id))
    session.flush()
    return res
