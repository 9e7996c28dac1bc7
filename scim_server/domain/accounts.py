"""Opening an account: the account row, its first Admin and that Admin's SCIM token.

The first Admin is created like any user of any door: the creation rules of the domain (the
plan's limits included), the stored document derived by the storage's conversion, the row
written through the records API, the creation audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scim_server.domain import users as user_rules
from scim_server.domain.actors import Actor
from scim_server.domain.audit import record_audit
from scim_server.domain.credentials import issue_credential
from scim_server.domain.errors import RuleViolation, Severity
from scim_server.security import hash_password
from scim_server.storage.conversion import user_fields
from scim_server.storage.models import Account, User, new_id, utcnow
from scim_server.storage.records import Records
from scim_server.storage.schema import default_provider
from scim_server.storage.scope import AccountScope

# The command line and the bootstrap of ``serve``: no user acts, the operator does.
OPERATOR = Actor(door="cli")


@dataclass(frozen=True)
class OpenedAccount:
    account: Account
    admin_email: str
    admin_password: str  # shown once, stored hashed
    scim_token: str  # shown once, stored hashed


def open_account(session: Session, *, name: str, domain: str) -> OpenedAccount:
    """Create an account for ``domain`` (``account.name_taken``), its first Admin
    ``admin@<domain>`` with a random password, and a SCIM token of that Admin."""
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise RuleViolation("account.name_taken", f"an account named {name!r} already exists",
                            Severity.CONFLICT)
    account = Account(name=name, domains=[domain], guest_denylist=[])
    session.add(account)
    session.flush()
    email = f"admin@{domain}"
    password = secrets.token_urlsafe(12)
    admin_id = create_user(session, account, {
        "userName": email,
        "displayName": "Account Admin",
        "name": {"givenName": "Account", "familyName": "Admin"},
        "emails": [{"value": email, "type": "work", "primary": True}],
        "userType": "Admin",
        "active": True,
    }, password=password, actor=OPERATOR)
    admin = session.get(User, admin_id)
    assert admin is not None
    issued = issue_credential(session, account, admin, kind="scim", name="bootstrap")
    return OpenedAccount(account, email, password, issued.secret)


def create_user(session: Session, account: Account, document: dict[str, Any], *,
                password: str | None, actor: Actor) -> str:
    """Create a user from a SCIM User document, under the creation rules; returns its id."""
    provider = default_provider()
    user_type = next(rt for rt in provider.resource_types if rt.name == "User")
    model: Any = provider.model_for(user_type)
    with provider:
        resource = model.model_validate(document)
    fields, emails = user_fields(resource, current_status=None)
    if password is not None:
        fields["password_hash"] = hash_password(password)
    shift = user_rules.plan_user_create(account, user_rules.UserState(
        user_type=fields["user_type"], status=fields["status"], email=fields["email"]))
    user_id = new_id()
    scope = AccountScope(session=lambda: session, account_id=lambda: account.id)
    Records(scope, utcnow).insert_user(fields, emails, user_id=user_id)
    record_audit(session, account, actor=actor, action="user.create", target_type="user",
                 target_id=user_id, before=None,
                 after={"user_type": fields["user_type"], "status": fields["status"]})
    user_rules.settle_counts(session, account, shift)
    return user_id


def set_rate_limit(session: Session, account: Account, *, per_second: int | None,
                   burst: int | None, actor: Actor) -> None:
    """The requests per second and burst allowed to each of the account's credentials; None
    gives back the server's default, 0/s lifts the limit."""
    if (per_second is not None and per_second < 0) or (burst is not None and burst < 1):
        raise RuleViolation("rate_limit.invalid",
                            "a rate limit is 0 or more per second, with a burst of 1 or more")
    before = {"per_second": account.rate_limit_per_second, "burst": account.rate_limit_burst}
    account.rate_limit_per_second, account.rate_limit_burst = per_second, burst
    record_audit(session, account, actor=actor, action="account.rate_limit",
                 target_type="account", target_id=account.id, before=before,
                 after={"per_second": per_second, "burst": burst})
    session.flush()
