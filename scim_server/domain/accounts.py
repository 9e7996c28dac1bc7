"""Opening an account: the account row, its first Admin and that Admin's SCIM token.

The first Admin is created like any user of any door: the creation rules of the domain (the
plan's limits included), the stored document derived by the storage's conversion, the row
written through the records API, the creation audited.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scim_server.domain import events
from scim_server.domain import users as user_rules
from scim_server.domain.actors import Actor
from scim_server.domain.audit import record_audit
from scim_server.domain.credentials import issue_credential
from scim_server.domain.errors import InvalidInput, NotFound, RuleViolation, Severity
from scim_server.security import hash_password
from scim_server.storage.all_models import metadata
from scim_server.storage.conversion import user_fields
from scim_server.storage.models import Account, Credential, Plan, User, new_id, utcnow
from scim_server.storage.records import Records
from scim_server.storage.schema import default_provider
from scim_server.storage.scope import AccountScope

# The command line and the bootstrap of ``serve``: no user acts, the operator does.
OPERATOR = Actor(door="cli")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# The plan of an account created without one; its limits are the ones every account had
# before plans existed.
DEFAULT_PLAN = "standard"


@dataclass(frozen=True)
class OpenedAccount:
    account: Account
    admin_email: str
    admin_password: str  # shown once, stored hashed
    scim_token: str  # shown once, stored hashed


def open_account(session: Session, *, name: str, domain: str, more_domains: Sequence[str] = (),
                 plan: str = DEFAULT_PLAN, seats: int | None = None,
                 operators: int | None = None) -> OpenedAccount:
    """Create an account for ``domain`` (``account.name_taken``) on ``plan``, with the plan's
    limits unless ``seats`` or ``operators`` are given, its first Admin ``admin@<domain>`` with a
    random password, and a SCIM token of that Admin."""
    if not _NAME.match(name):
        raise InvalidInput("an account name is 1-100 letters, digits, spaces, '.', '_' or '-'",
                           field="name")
    domain, *more_domains = _domain_list("domains", [domain, *more_domains])
    if session.scalar(select(Account.id).where(Account.name == name)) is not None:
        raise RuleViolation("account.name_taken", "an account named %(name)r already exists",
                            Severity.CONFLICT, params={"name": name})
    chosen = get_plan(session, plan)
    seats_limit = chosen.seats_limit if seats is None else seats
    operators_limit = chosen.operators_limit if operators is None else operators
    _check_limits(seats_limit, operators_limit, used=(0, 0))
    account = Account(name=name, domains=[domain, *more_domains],
                      guest_denylist=[], plan=chosen.name, seats_limit=seats_limit,
                      operators_limit=operators_limit)
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
    # The event takes its position in the counts' statement (one round trip for both).
    user_rules.settle_counts(session, account, shift, events.event_rows(
        session, actor=actor, changes=[events.created("User", user_id, fields["data"])]))
    return user_id


def set_rate_limit(session: Session, account: Account, *, per_second: int | None,
                   burst: int | None, actor: Actor) -> None:
    """The requests per second and burst allowed to each of the account's credentials; None
    gives back the server's default, 0/s lifts the limit."""
    if (per_second is not None and per_second < 0) or (burst is not None and burst < 1):
        raise RuleViolation("rate_limit.invalid",
                            "a rate limit is 0 or more per second, with a burst of 1 or more",
                            Severity.INVALID)
    before = {"per_second": account.rate_limit_per_second, "burst": account.rate_limit_burst}
    account.rate_limit_per_second, account.rate_limit_burst = per_second, burst
    record_audit(session, account, actor=actor, action="account.rate_limit",
                 target_type="account", target_id=account.id, before=before,
                 after={"per_second": per_second, "burst": burst})
    session.flush()


# --- the operator's side: plans, limits, suspension, deletion ------------------------------------

def get_plan(session: Session, name: str) -> Plan:
    plan = session.get(Plan, name)
    if plan is None:
        known = ", ".join(session.scalars(select(Plan.name).order_by(Plan.name)))
        raise RuleViolation("plan.unknown", "there is no plan %(name)r (plans: %(known)s)",
                            Severity.INVALID, params={"name": name, "known": known})
    return plan


def list_plans(session: Session) -> list[Plan]:
    return list(session.scalars(select(Plan).order_by(Plan.seats_limit, Plan.name)))


def update_plan(session: Session, name: str, *, seats: int | None,
                operators: int | None) -> Plan:
    """Change a plan's defaults, for the accounts created on it from now on: the limits of
    existing accounts are their own (``update_account`` moves an account to new ones)."""
    plan = get_plan(session, name)
    seats = plan.seats_limit if seats is None else seats
    operators = plan.operators_limit if operators is None else operators
    _check_limits(seats, operators, used=(0, 0))
    plan.seats_limit, plan.operators_limit = seats, operators
    session.flush()
    return plan


def _check_limits(seats: int, operators: int, *, used: tuple[int, int],
                  force: bool = False) -> None:
    if seats < 1 or operators < 1:
        raise RuleViolation("plan.invalid", "seats and operators must be 1 or more",
                            Severity.INVALID)
    paying, operators_used = used
    if not force and (seats < paying or operators < operators_used):
        raise RuleViolation(
            "plan.below_usage",
            "the account uses %(paying)s seats and %(operators)s operators; a lower limit "
            "needs --force (users stay; new paying activations are then refused)",
            Severity.CONFLICT, params={"paying": paying, "operators": operators_used})


def find_account(session: Session, name_or_id: str) -> Account:
    account = session.scalar(
        select(Account).where(sa.or_(Account.name == name_or_id, Account.id == name_or_id)))
    if account is None:
        raise NotFound("no account %(name)r", {"name": name_or_id})
    return account


def update_account(session: Session, account: Account, *, plan: str | None = None,
                   seats: int | None = None, operators: int | None = None,
                   domains: Sequence[str] | None = None, force: bool = False,
                   actor: Actor = OPERATOR) -> Account:
    """Move an account to a plan (and its limits) and/or set its own limits and domains.
    A limit below what the account uses is ``plan.below_usage`` unless ``force``."""
    # The counts as committed, under the row lock the seat rules take: no write can pass the
    # new limit between this check and COMMIT.
    session.refresh(account, with_for_update=True)
    before = account_limits(account)
    if plan is not None:
        chosen = get_plan(session, plan)
        account.plan = chosen.name
        seats = chosen.seats_limit if seats is None else seats
        operators = chosen.operators_limit if operators is None else operators
    seats = account.seats_limit if seats is None else seats
    operators = account.operators_limit if operators is None else operators
    _check_limits(seats, operators, used=(account.paying_active, account.operators_used),
                  force=force)
    account.seats_limit, account.operators_limit = seats, operators
    if domains is not None:
        account.domains = _domain_list("domains", domains)
    after = account_limits(account)
    if after != before:
        record_audit(session, account, actor=actor, action="account.update",
                     target_type="account", target_id=account.id, before=before, after=after)
    session.flush()
    return account


def account_limits(account: Account) -> dict[str, Any]:
    return {"plan": account.plan, "seats_limit": account.seats_limit,
            "operators_limit": account.operators_limit, "domains": list(account.domains)}


def set_account_status(session: Session, account: Account, status: str, *,
                       actor: Actor = OPERATOR) -> Account:
    """Suspend ("suspended") or resume ("active") an account. A suspended account's tokens
    and sign-ins are refused; nothing of it is changed or deleted."""
    if status not in ("active", "suspended"):
        raise ValueError(status)
    if account.status != status:
        record_audit(session, account, actor=actor, action=f"account.{status}",
                     target_type="account", target_id=account.id,
                     before={"status": account.status}, after={"status": status})
        account.status = status
        account.suspended_at = utcnow() if status == "suspended" else None
    session.flush()
    return account


def delete_account(session: Session, account: Account) -> None:
    """Erase the account and every row of it, in the caller's transaction. Every table but
    the operator's (``accounts``, ``plans``, ``operator_tokens``) has an ``account_id``
    (``tests/scim/test_accounts_product.py`` holds that), so a table added later is erased
    too."""
    account_id = account.id
    session.expunge(account)
    for table in reversed(metadata.sorted_tables):
        if "account_id" in table.c:
            session.execute(sa.delete(table).where(table.c.account_id == account_id))
    session.execute(sa.delete(Account).where(Account.id == account_id))


def account_view(overview: AccountOverview) -> dict[str, Any]:
    """What the operator's doors show of an account (the command line and the platform API).
    A rate limit of None is the server's default."""
    account = overview.account
    return {
        "id": account.id, "name": account.name, "status": account.status, "plan": account.plan,
        "domains": list(account.domains or []),
        "seats_used": account.paying_active, "seats_limit": account.seats_limit,
        "operators_used": account.operators_used, "operators_limit": account.operators_limit,
        "users": overview.users,
        "rate_limit_per_second": account.rate_limit_per_second,
        "rate_limit_burst": account.rate_limit_burst,
        "created_at": account.created_at, "suspended_at": account.suspended_at,
        "last_scim_activity": overview.last_scim_activity,
    }


@dataclass(frozen=True)
class AccountOverview:
    account: Account
    users: int  # not deleted
    last_scim_activity: Any  # datetime | None


def account_overviews(session: Session, account: Account | None = None, *,
                      after: str | None = None, limit: int | None = None) -> list[AccountOverview]:
    """Each account by name (or the one given; or ``limit`` of them after the name ``after``)
    with its usage and its last SCIM request."""
    users = (select(func.count()).select_from(User)
             .where(User.account_id == Account.id, User.status != "deleted").scalar_subquery())
    last_scim = (select(func.max(Credential.last_used_at))
                 .where(Credential.account_id == Account.id, Credential.kind == "scim")
                 .scalar_subquery())
    query = select(Account, users, last_scim).order_by(Account.name)
    if account is not None:
        query = query.where(Account.id == account.id)
    if after is not None:
        query = query.where(Account.name > after)
    if limit is not None:
        query = query.limit(limit)
    return [AccountOverview(row[0], row[1], row[2]) for row in session.execute(query)]


def count_accounts(session: Session) -> int:
    """How many accounts :func:`account_overviews` lists, over all its pages."""
    return int(session.scalar(select(func.count()).select_from(Account)) or 0)


def first_admin(session: Session, account: Account) -> User | None:
    """The account's longest-standing active Admin: the holder of tokens the operator issues."""
    return session.scalars(
        select(User).where(User.account_id == account.id, User.status == "active",
                           User.user_type == "Admin").order_by(User.created_at, User.id)
    ).first()


# --- the account's own settings (its Admins) -----------------------------------------------------

SCIM_DEFAULT_TYPES = ("Member", "Viewer")


def account_settings(account: Account) -> dict[str, Any]:
    return {
        "name": account.name, "display_name": account.display_name or account.name,
        "domains": list(account.domains or []),
        "guest_allowlist": None if account.guest_allowlist is None
        else list(account.guest_allowlist),
        "guest_denylist": list(account.guest_denylist or []),
        "default_user_type": account.default_user_type,
        "plan": account.plan, "seats_used": account.paying_active,
        "seats_limit": account.seats_limit, "operators_used": account.operators_used,
        "operators_limit": account.operators_limit,
    }


def _domain_list(field: str, values: Sequence[str]) -> list[str]:
    """Domains compared as stored: lower case, without a trailing dot, each once; an account
    needs at least one of its own."""
    cleaned = list(dict.fromkeys(v.strip().lower().rstrip(".") for v in values if v.strip()))
    for value in cleaned:
        if not _DOMAIN.match(value):
            raise InvalidInput("%(value)r is not a domain name", field=field,
                               params={"value": value})
    if field == "domains" and not cleaned:
        raise InvalidInput("an account has at least one domain", field="domains")
    return cleaned


_UNSET: Any = object()


def update_account_settings(session: Session, account: Account, *, actor: Actor,
                            display_name: Any = _UNSET, domains: Any = _UNSET,
                            guest_allowlist: Any = _UNSET, guest_denylist: Any = _UNSET,
                            default_user_type: Any = _UNSET) -> Account:
    """An Admin's changes to the account's own settings, audited; what is not given stays.
    A guest allowlist of None admits every domain not denied."""
    before = account_settings(account)
    if display_name is not _UNSET:
        account.display_name = (display_name or "").strip()[:200] or None
    if domains is not _UNSET:
        account.domains = _domain_list("domains", domains)
    if guest_allowlist is not _UNSET:
        account.guest_allowlist = (None if guest_allowlist is None
                                   else _domain_list("guest_allowlist", guest_allowlist))
    if guest_denylist is not _UNSET:
        account.guest_denylist = _domain_list("guest_denylist", guest_denylist or [])
    if default_user_type is not _UNSET:
        if default_user_type not in SCIM_DEFAULT_TYPES:
            raise RuleViolation("account.default_type",
                                "the default type of SCIM creates is Member or Viewer",
                                Severity.INVALID)
        account.default_user_type = default_user_type
    after = account_settings(account)
    changed = {k for k in after if after[k] != before[k]}
    if changed:
        record_audit(session, account, actor=actor, action="account.settings",
                     target_type="account", target_id=account.id,
                     before={k: before[k] for k in sorted(changed)},
                     after={k: after[k] for k in sorted(changed)})
    session.flush()
    return account
