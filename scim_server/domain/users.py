"""Account rules and the user lifecycle, written once for every door (SCIM, admin API, UI).

Rule ids (stable; each door shows them in its own error format):

- ``user_type.invalid``: a type other than Admin, Member, Viewer, Guest.
- ``seats.exceeded``: more active paying users (Admin, Member) than the plan's seats.
- ``operators.limit``: more users (not deleted) than the plan's operator limit.
- ``admin.holds_scim_tokens``: demoting, deactivating or deleting an Admin holding an unrevoked
  SCIM token.
- ``admin.last``: leaving the account without an active Admin.
- ``guest.same_domain`` / ``guest.domain_not_allowed``: the email domain rules of Guests.
- ``status.pending``: activating or deactivating a pending (invited) user.
- ``delete.requires_inactive``: deleting an active user through the admin API or UI.
- ``bulk.too_many`` / ``bulk.self`` / ``bulk.nonpaying_to_paying``: bulk changes.
- ``email.confirmation_required``: an admin changes another user's email only by confirmation.
- ``profile.admin_limits``: an admin never sets another user's password.

Seat and limit checks first take a row lock on the account (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite serialises writers with ``BEGIN IMMEDIATE``), so that two concurrent
transactions cannot both take the last seat.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from scim_server.domain import documents, events
from scim_server.domain.actors import Actor, Clock, as_utc
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import (
    DomainError,
    InvalidInput,
    NotFound,
    RuleViolation,
    Severity,
)
from scim_server.domain.hub_cleanup import on_user_deleted
from scim_server.domain.mail import Mailer
from scim_server.domain.resources import on_deactivate, on_delete, on_reactivate
from scim_server.security import hash_password, hash_token, new_token
from scim_server.storage.domain_tables import (
    EmailChange,
    Invitation,
    OAuthClient,
    OutboxEmail,
    UserPreferences,
)
from scim_server.storage.models import (
    PAYING_TYPES,
    Account,
    Credential,
    GroupMember,
    User,
    UserEmail,
    contribution,
    utcnow,
)
from scim_server.storage.records import CountShift, account_counts, shift_counts

__all__ = [
    "BULK_MAX", "EMAIL_CHANGE_TTL", "PAYING_TYPES", "USER_TYPES", "BulkReport", "CountShift",
    "CreationChecker", "UserState", "accept_invitation", "activate_user", "apply_user_change",
    "bulk_change", "change_user_type", "check_user_change", "check_user_create",
    "confirm_email_change", "deactivate_user", "delete_user", "email_change_details",
    "end_sessions", "get_user", "invitation_details", "invite_user", "LinkDetails",
    "resend_invitation", "ActivationEffects", "activation_effects",
    "lock_account", "plan_user_change", "plan_user_create", "record_activity", "record_audit",
    "settle_counts", "start_email_change", "state_of", "update_profile",
]

USER_TYPES = ("Admin", "Member", "Viewer", "Guest")
# PAYING_TYPES (Admin, Member) comes from the storage models, which keep the account's counts.
STATUSES = ("active", "inactive", "pending")
BULK_MAX = 200
EMAIL_CHANGE_TTL = dt.timedelta(days=3)
INVITATION_TTL = dt.timedelta(days=14)
DELETED_USER = "Deleted user"


@dataclass(frozen=True)
class UserState:
    """Protocol-neutral view of the fields the rules read."""

    user_type: str  # "Admin" | "Member" | "Viewer" | "Guest" (anything on input: validated)
    status: str  # "active" | "inactive" | "pending"
    email: str | None  # primary (or first) email, any case


def state_of(user: User) -> UserState:
    return UserState(user_type=user.user_type, status=user.status, email=user.email)


def _paying_active(state: UserState) -> bool:
    return state.status == "active" and state.user_type in PAYING_TYPES


def _active_admin(state: UserState) -> bool:
    return state.status == "active" and state.user_type == "Admin"


# --- locking and counting --------------------------------------------------------------------

def lock_account(session: Session, account: Account) -> None:
    """Serialise the rule checks of one account until the transaction ends.

    PostgreSQL: a row lock on the account. SQLite: a no-op, the connection already holds the
    database write lock (``BEGIN IMMEDIATE``)."""
    session.execute(select(Account.id).where(Account.id == account.id).with_for_update())


def _count(session: Session, account: Account, *conditions: Any, exclude: str | None) -> int:
    stmt = select(func.count()).select_from(User).where(User.account_id == account.id, *conditions)
    if exclude is not None:
        stmt = stmt.where(User.id != exclude)
    return int(session.scalar(stmt) or 0)


def _account_counts(session: Session, account: Account, exclude: str | None) -> tuple[int, int]:
    """(operators, active paying users) of the account, leaving out ``exclude``, read from the
    counts the storage keeps on the account row (one row, not a scan of every user)."""
    session.flush()  # pending user changes reach the counts first
    operators, paying = session.execute(
        select(Account.operators_used, Account.paying_active).where(Account.id == account.id)
    ).one()
    if exclude is not None:
        row = session.execute(
            select(User.status, User.user_type).where(User.id == exclude)
        ).one_or_none()
        if row is not None:
            operators -= int(row.status != "deleted")
            paying -= int(row.status == "active" and row.user_type in PAYING_TYPES)
    return int(operators), int(paying)


def _count_paying_active(session: Session, account: Account, exclude: str | None) -> int:
    return _account_counts(session, account, exclude)[1]


def _count_operators(session: Session, account: Account, exclude: str | None) -> int:
    return _account_counts(session, account, exclude)[0]


def _holds_scim_tokens(session: Session, account: Account, user_id: str) -> bool:
    return bool(session.scalar(select(exists().where(
        Credential.account_id == account.id, Credential.user_id == user_id,
        Credential.kind == "scim", Credential.revoked_at.is_(None)))))


# --- the rules ---------------------------------------------------------------------------------

def _validate(state: UserState) -> None:
    if state.user_type not in USER_TYPES:
        raise RuleViolation(
            "user_type.invalid",
            "user type %(type)r is not valid; use one of %(types)s",
            Severity.INVALID,
            params={"type": state.user_type, "types": ", ".join(USER_TYPES)},
        )
    if state.status not in STATUSES:
        raise InvalidInput("status must be one of %(statuses)s", field="status",
                           params={"statuses": ", ".join(STATUSES)})


def _email_domain(email: str | None) -> str | None:
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].strip().lower().rstrip(".")


def _matches(domain: str, patterns: Sequence[str]) -> bool:
    # A subdomain belongs to its parent: mail.example.com is example.com.
    return any(domain == p.lower() or domain.endswith("." + p.lower()) for p in patterns)


def _check_guest(account: Account, email: str | None) -> None:
    """``guest.same_domain`` and ``guest.domain_not_allowed``."""
    domain = _email_domain(email)
    if domain is None:
        return
    if _matches(domain, account.domains or []):
        raise RuleViolation(
            "guest.same_domain",
            "%(domain)s is one of the account's own domains: make this user a Member or "
            "Viewer, not a Guest",
            params={"domain": domain},
        )
    if _matches(domain, account.guest_denylist or []) or (
        account.guest_allowlist is not None and not _matches(domain, account.guest_allowlist)
    ):
        raise RuleViolation("guest.domain_not_allowed",
                            "guests from %(domain)s are not allowed in this account",
                            params={"domain": domain})


def _check_seats(session: Session, account: Account, user_id: str | None) -> None:
    _check_seats_left(account.seats_limit, _count_paying_active(session, account, user_id))


def _check_seats_left(seats_limit: int, paying_active: int) -> None:
    if paying_active + 1 > seats_limit:
        raise _seats_exceeded(seats_limit)


def _seats_exceeded(seats_limit: int) -> RuleViolation:
    return RuleViolation(
        "seats.exceeded",
        "all %(limit)s seats of the plan are taken by active paying users",
        Severity.CONFLICT,
        params={"limit": seats_limit},
    )


def _check_operators(session: Session, account: Account, user_id: str | None) -> None:
    _check_operators_left(account.operators_limit, _count_operators(session, account, user_id))


def _check_operators_left(operators_limit: int, operators: int) -> None:
    if operators + 1 > operators_limit:
        raise _operators_limit(operators_limit)


def _operators_limit(operators_limit: int) -> RuleViolation:
    return RuleViolation(
        "operators.limit",
        "the plan allows %(limit)s users and all are in use",
        Severity.CONFLICT,
        params={"limit": operators_limit},
    )


def _check_create(session: Session, account: Account, state: UserState) -> None:
    _validate(state)
    lock_account(session, account)
    if state.user_type == "Guest":
        _check_guest(account, state.email)
    operators, paying_active = _account_counts(session, account, None)
    _check_operators_left(account.operators_limit, operators)
    if _paying_active(state):
        _check_seats_left(account.seats_limit, paying_active)


def _check_transition(
    session: Session, account: Account, user_id: str, before: UserState, after: UserState,
    *, bulk: bool = False, accepting: bool = False,
) -> None:
    """Every rule a change of one existing user must pass. The account must be locked."""
    _check_change_rules(session, account, user_id, before, after, bulk=bulk, accepting=accepting)
    check_operators, check_seats = _count_rules(before, after)
    if check_operators:
        # Reactivation: the operator limit may have been lowered since the deactivation.
        _check_operators(session, account, user_id)
    if check_seats:
        _check_seats(session, account, user_id)


def _check_change_rules(
    session: Session, account: Account, user_id: str, before: UserState, after: UserState,
    *, bulk: bool = False, accepting: bool = False,
) -> None:
    """The rules of a change of one existing user but the counted ones (``_count_rules``)."""
    _validate(after)
    if before.status != after.status and not accepting and "pending" in (before.status,
                                                                         after.status):
        raise RuleViolation(
            "status.pending",
            "this user has not accepted the invitation yet; pending users cannot be activated "
            "or deactivated",
            Severity.CONFLICT,
        )
    if bulk and before.user_type in ("Viewer", "Guest") and after.user_type in PAYING_TYPES:
        raise RuleViolation(
            "bulk.nonpaying_to_paying",
            "a bulk change cannot turn a %(before)s into a paying %(after)s; "
            "change this user on its own",
            params={"before": before.user_type, "after": after.user_type},
        )
    demoted = before.user_type == "Admin" and after.user_type != "Admin"
    deactivated = before.status == "active" and after.status == "inactive"
    if before.user_type == "Admin" and (demoted or deactivated) and _holds_scim_tokens(
        session, account, user_id
    ):
        raise RuleViolation(
            "admin.holds_scim_tokens",
            "this Admin holds an unrevoked SCIM token; revoke or reassign it first",
            Severity.CONFLICT,
        )
    if _active_admin(before) and not _active_admin(after):
        _check_not_last_admin(session, account, user_id)
    if after.user_type == "Guest" and (
        before.user_type != "Guest" or _norm(before.email) != _norm(after.email)
    ):
        _check_guest(account, after.email)


def _count_rules(before: UserState, after: UserState) -> tuple[bool, bool]:
    """Which limits a change must respect: (operators: a reactivation, seats: a user who
    becomes an active paying one)."""
    reactivated = (
        before.status != "active" and after.status == "active" and before.status != "pending"
    )
    return reactivated, _paying_active(after) and not _paying_active(before)


def _check_not_last_admin(session: Session, account: Account, user_id: str) -> None:
    others = _count(session, account, User.status == "active", User.user_type == "Admin",
                    exclude=user_id)
    if others == 0:
        raise RuleViolation("admin.last",
                            "this is the account's last active Admin; promote another one first",
                            Severity.CONFLICT)


def check_email_free(session: Session, account: Account, user_id: str | None,
                     email: str | None) -> None:
    """``email.taken``: an address another user of the account already has (compared as
    stored, case-insensitively) cannot become this user's by a change."""
    key = _norm(email)
    if not key:
        return
    others = [UserEmail.account_id == account.id, UserEmail.value_key == key]
    if user_id is not None:
        others.append(UserEmail.user_id != user_id)
    if session.scalar(select(exists().where(*others))):
        raise RuleViolation("email.taken", "another user of this account has %(email)s",
                            Severity.CONFLICT, params={"email": key})


def _norm(email: str | None) -> str | None:
    return documents.comparison_key(email).strip() if email else None


# --- the SCIM door's entry points ------------------------------------------------------------

def check_user_create(session: Session, account: Account, state: UserState, *,
                      actor: Actor) -> None:
    """Check that a user may be created as ``state`` (``user_type.invalid``,
    ``guest.same_domain``, ``guest.domain_not_allowed``, ``operators.limit``,
    ``seats.exceeded``). Locks the account until the transaction ends; the caller then writes
    the user row in the same transaction."""
    del actor  # all doors may create; kept for symmetry and future per-door rules
    _check_create(session, account, state)


class CreationChecker:
    """``check_user_create`` for a run of creations in one transaction (a SCIM Bulk full sync).

    The account's counts are read once; each creation is then judged, in order, as if the ones
    accepted before it were already written: ``check`` raises the refusal ``check_user_create``
    would raise, ``accept`` counts a creation the caller goes on to write. The same rules, in
    the same order, as one ``check_user_create`` per user. The counts are read without a lock:
    the caller settles the run's shift (:func:`settle_counts`), which refuses it whole if other
    writers took the seats meanwhile."""

    def __init__(self, session: Session, account: Account, *, actor: Actor) -> None:
        del actor  # as check_user_create
        self.account = account
        self.operators, self.paying_active = _account_counts(session, account, None)

    def check(self, state: UserState) -> None:
        _validate(state)
        if state.user_type == "Guest":
            _check_guest(self.account, state.email)
        _check_operators_left(self.account.operators_limit, self.operators)
        if _paying_active(state):
            _check_seats_left(self.account.seats_limit, self.paying_active)

    def accept(self, state: UserState) -> None:
        self.operators += 1
        self.paying_active += int(_paying_active(state))


# --- one-statement count rules (the SCIM door's writes) ------------------------------------------

def plan_user_create(account: Account, state: UserState) -> CountShift:
    """The rules of a creation that need no count (``user_type.invalid``, ``guest.same_domain``,
    ``guest.domain_not_allowed``); the counted ones (``operators.limit``, ``seats.exceeded``)
    are the limits of the returned shift, which :func:`settle_counts` applies once the user
    row is written. Takes no lock: the limits are checked in the statement that counts."""
    _validate(state)
    if state.user_type == "Guest":
        _check_guest(account, state.email)
    operators, paying = contribution(state.status, state.user_type)
    return CountShift(operators, paying, check_operators=True,
                      check_seats=_paying_active(state))


def plan_user_change(session: Session, account: Account, user_id: str, before: UserState,
                     after: UserState, *, actor: Actor) -> CountShift:
    """The rules of a change of an existing user (as :func:`check_user_change`), but the
    counted ones, which are the limits of the returned shift (see :func:`plan_user_create`).

    A change that could leave the account without an active Admin, or an Admin holding a SCIM
    token, still locks the account first: those rules count rows that no single statement
    writes. Every other change takes no account lock until its counts are settled."""
    del actor
    if before.user_type == "Admin":
        lock_account(session, account)
    _check_change_rules(session, account, user_id, before, after)
    check_operators, check_seats = _count_rules(before, after)
    old, new = contribution(before.status, before.user_type), contribution(after.status,
                                                                          after.user_type)
    return CountShift(new[0] - old[0], new[1] - old[1], check_operators, check_seats)


def apply_user_change(session: Session, account: Account, user_id: str, before: UserState,
                      after: UserState, *, clock: Clock = utcnow) -> None:
    """The lifecycle effects of a written change (see :func:`check_user_change`)."""
    _apply_effects(session, account, user_id, before, after, clock=clock)


def settle_counts(session: Session, account: Account, shift: CountShift,
                  events: Sequence[dict[str, Any]] = ()) -> None:
    """Apply a write's shift of the account's counts within its limits, in one conditional
    statement, or refuse it with ``operators.limit`` / ``seats.exceeded`` (the operator limit
    is judged first, as :func:`check_user_create` does). Make it the last statement before
    the transaction commits: it holds the account row until then. The write's ``events``
    (``events.event_rows``) take their positions in that statement."""
    connection = session.connection()
    if shift_counts(connection, account.id, shift, events):
        return
    counts = account_counts(connection, account.id)
    if shift.check_operators and counts.operators_used + shift.operators > counts.operators_limit:
        raise _operators_limit(counts.operators_limit)
    raise _seats_exceeded(counts.seats_limit)


def check_user_change(session: Session, account: Account, user_id: str, before: UserState,
                      after: UserState, *, actor: Actor, clock: Clock = utcnow) -> None:
    """Check a change of an existing user from ``before`` to ``after`` and apply its lifecycle
    effects on resources, before the caller writes the user row in the same transaction.

    Rules: ``user_type.invalid``, ``status.pending``, ``admin.holds_scim_tokens``,
    ``admin.last``, ``guest.same_domain``, ``guest.domain_not_allowed``, ``operators.limit``,
    ``seats.exceeded``. Effects: deactivation disables the user's automations and integrations
    and makes resources without another active owner inaccessible; reactivation makes them
    accessible again (automations stay disabled)."""
    del actor
    lock_account(session, account)
    _check_transition(session, account, user_id, before, after)
    _apply_effects(session, account, user_id, before, after, clock=clock)


def _apply_effects(session: Session, account: Account, user_id: str, before: UserState,
                   after: UserState, *, clock: Clock) -> None:
    if before.status == "active" and after.status == "inactive":
        session.flush()
        on_deactivate(session, account, user_id, clock=clock)
    elif before.status == "inactive" and after.status == "active":
        on_reactivate(session, account, user_id, clock=clock)


def delete_user(session: Session, account: Account, user_id: str, *, actor: Actor,
                display_name: str | None = None, via_scim: bool | None = None,
                clock: Clock = utcnow) -> None:
    """Delete a user for good: personal data erased, the row kept as "Deleted user" (or
    ``display_name``) so that what they created stays attributed; userName freed; ownerships,
    memberships, emails, invitations, pending email changes and tokens removed; automations
    disabled.

    The door decides the precondition (``via_scim``, by default ``actor.door == "scim"``):
    through SCIM the identity provider's
    DELETE deactivates and deletes in one transaction; through the admin API or UI an active
    user must be deactivated first (``delete.requires_inactive``). Both doors: an Admin holding
    a SCIM token (``admin.holds_scim_tokens``) and the last active Admin (``admin.last``) are
    refused. After this the SCIM storage must treat the row (status ``deleted``) as gone (404).
    """
    user = get_user(session, account, user_id)
    lock_account(session, account)
    before = state_of(user)
    if via_scim is None:
        via_scim = actor.door == "scim"
    if not via_scim and user.status == "active":
        raise RuleViolation("delete.requires_inactive",
                            "deactivate the user before deleting them", Severity.CONFLICT)
    if user.user_type == "Admin" and _holds_scim_tokens(session, account, user.id):
        raise RuleViolation("admin.holds_scim_tokens",
                            "this Admin holds an unrevoked SCIM token; revoke or reassign it "
                            "first", Severity.CONFLICT)
    if _active_admin(before):
        _check_not_last_admin(session, account, user.id)
    now = clock()
    session.flush()
    on_delete(session, account, user.id, clock=clock)
    on_user_deleted(session, account, user.id)  # duty schedules and own permission grants
    # A consumer revokes access by group: leaving each group is a membership change of its own.
    groups = session.scalars(select(GroupMember.group_id).where(
        GroupMember.account_id == account.id, GroupMember.member_id == user.id)).all()
    _anonymise(session, account, user, display_name=display_name or DELETED_USER, now=now)
    record_audit(session, account, actor=actor, action="user.delete", target_type="user",
                 target_id=user.id, before={"user_type": before.user_type,
                                            "status": before.status},
                 after={"status": "deleted"}, clock=clock)
    session.flush()
    events.forget_data(session, account, user.id)
    events.record_events(session, account, actor=actor, clock=clock, changes=[
        *(change for group_id in sorted(groups)
          for change in events.members_changed(group_id, removed=[user.id])),
        events.deleted("User", user.id),
    ])


def _anonymise(session: Session, account: Account, user: User, *, display_name: str,
               now: dt.datetime) -> None:
    # Erase, don't hide: every column and side table that can hold personal data is cleared.
    user.status = "deleted"
    user.deleted_at = now
    user.user_name = None
    user.user_name_key = None
    user.external_id = None
    user.email = None
    user.password_hash = None
    user.display_name = display_name
    user.display_name_key = documents.comparison_key(display_name)
    user.data = {}
    user.search = {}
    documents.touch(user, now=now)
    for table in (UserEmail, EmailChange, Invitation, OutboxEmail, UserPreferences):
        session.execute(delete(table).where(table.user_id == user.id))  # type: ignore[attr-defined]
    session.execute(delete(GroupMember).where(GroupMember.account_id == account.id,
                                              GroupMember.member_id == user.id))
    # Tokens of a deleted user must stop working; the rows stay for the audit trail.
    for cred in session.scalars(select(Credential).where(Credential.user_id == user.id,
                                                         Credential.revoked_at.is_(None))):
        cred.revoked_at = now
    for client in session.scalars(select(OAuthClient).where(OAuthClient.user_id == user.id,
                                                            OAuthClient.revoked_at.is_(None))):
        client.revoked_at = now


# --- services of the admin API and UI --------------------------------------------------------

def get_user(session: Session, account: Account, user_id: str) -> User:
    """A user of the account that is not deleted, else :class:`NotFound`."""
    user = session.get(User, user_id)
    if user is None or user.account_id != account.id or user.status == "deleted":
        raise NotFound("no user %(id)s", {"id": user_id})
    return user


def _change(session: Session, account: Account, user: User, after: UserState, *, actor: Actor,
            action: str, clock: Clock, bulk: bool = False, accepting: bool = False) -> User:
    before = state_of(user)
    lock_account(session, account)
    _check_transition(session, account, user.id, before, after, bulk=bulk, accepting=accepting)
    now = clock()
    user.user_type = after.user_type
    user.status = after.status
    data = dict(user.data or {})
    data["userType"] = after.user_type
    data["active"] = after.status == "active"
    documents.store(user, data, now=now)
    _apply_effects(session, account, user.id, before, after, clock=clock)
    record_audit(session, account, actor=actor, action=action, target_type="user",
                 target_id=user.id,
                 before={"user_type": before.user_type, "status": before.status},
                 after={"user_type": after.user_type, "status": after.status}, clock=clock)
    session.flush()
    events.record_events(session, account, actor=actor, clock=clock, changes=[
        *events.modified("User", user.id,
                         ["userType"] if before.user_type != after.user_type else []),
        *events.status_changed(user.id, before.status, after.status),
    ])
    return user


def change_user_type(session: Session, account: Account, user_id: str, user_type: str, *,
                     actor: Actor, clock: Clock = utcnow) -> User:
    """Change the type of one user (``user_type.invalid``, ``seats.exceeded``,
    ``admin.holds_scim_tokens``, ``admin.last``, guest rules). A single change may turn a
    Viewer or Guest into a paying type, within the seats."""
    user = get_user(session, account, user_id)
    after = UserState(user_type=user_type, status=user.status, email=user.email)
    return _change(session, account, user, after, actor=actor, action="user.change_type",
                   clock=clock)


def deactivate_user(session: Session, account: Account, user_id: str, *, actor: Actor,
                    clock: Clock = utcnow) -> User:
    """Deactivate (``status.pending``, ``admin.holds_scim_tokens``, ``admin.last``): the user
    keeps assignments and content, their automations and integrations are disabled, resources
    they alone own become inaccessible, and they stop counting against the seats."""
    user = get_user(session, account, user_id)
    after = UserState(user_type=user.user_type, status="inactive", email=user.email)
    return _change(session, account, user, after, actor=actor, action="user.deactivate",
                   clock=clock)


def activate_user(session: Session, account: Account, user_id: str, *, actor: Actor,
                  clock: Clock = utcnow) -> User:
    """Reactivate (``status.pending``, ``seats.exceeded``, ``operators.limit``); disabled
    automations stay disabled."""
    user = get_user(session, account, user_id)
    after = UserState(user_type=user.user_type, status="active", email=user.email)
    return _change(session, account, user, after, actor=actor, action="user.activate",
                   clock=clock)


@dataclass(frozen=True)
class ActivationEffects:
    """What activating a user would do, for the confirmation: whether they take a seat, and
    the seats in use now (the rule ``seats.exceeded`` refuses the activation when none is
    left)."""

    takes_seat: bool
    seats_used: int
    seats_limit: int

    @property
    def seats_left(self) -> int:
        return max(self.seats_limit - self.seats_used, 0)


def activation_effects(session: Session, account: Account, user_id: str) -> ActivationEffects:
    user = get_user(session, account, user_id)
    _, paying = _account_counts(session, account, None)
    takes_seat = user.status != "active" and user.user_type in PAYING_TYPES
    return ActivationEffects(takes_seat=takes_seat, seats_used=paying,
                             seats_limit=account.seats_limit)


PROFILE_KEYS = (*documents.PROFILE_FIELDS, "notifications", "password", "email")
# The SCIM attribute each profile field is part of (events name SCIM attributes).
PROFILE_ATTRIBUTES = {"given_name": "name", "family_name": "name", "display_name": "displayName",
                      "title": "title", "phone": "phoneNumbers", "locale": "locale"}


def update_profile(session: Session, account: Account, user_id: str, changes: dict[str, Any],
                   *, actor: Actor, clock: Clock = utcnow) -> User:
    """Edit a profile (name, title, phone, locale, notification settings).

    An admin never sets another user's password (``profile.admin_limits``) and changes another
    user's email only through :func:`start_email_change` (``email.confirmation_required``)."""
    user = get_user(session, account, user_id)
    unknown = set(changes) - set(PROFILE_KEYS)
    if unknown:
        raise InvalidInput("not a profile field: %(fields)s", field=sorted(unknown)[0],
                           params={"fields": ", ".join(sorted(unknown))})
    is_self = actor.user_id == user.id
    if "password" in changes and not is_self:
        raise RuleViolation("profile.admin_limits",
                            "an admin cannot set another user's password")
    if "email" in changes:
        raise RuleViolation(
            "email.confirmation_required",
            "an email address changes only once the new address confirms it: start an email "
            "change instead",
        )
    now = clock()
    before = documents.read_profile(user)
    fields = {k: v for k, v in changes.items() if k in documents.PROFILE_FIELDS}
    if fields:
        documents.write_profile(user, fields, now=now)
    if "notifications" in changes:
        prefs = session.get(UserPreferences, user.id)
        if prefs is None:
            prefs = UserPreferences(user_id=user.id, account_id=account.id, notifications={})
            session.add(prefs)
        prefs.notifications = dict(changes["notifications"] or {})
        documents.touch(user, now=now)
    if "password" in changes:
        user.password_hash = hash_password(changes["password"])
        documents.touch(user, now=now)
    record_audit(session, account, actor=actor, action="user.update_profile",
                 target_type="user", target_id=user.id,
                 before={k: before.get(k) for k in fields},
                 after={**fields, **({"password": "set"} if "password" in changes else {}),
                        **({"notifications": changes["notifications"]}
                           if "notifications" in changes else {})},
                 clock=clock)
    session.flush()
    events.record_events(session, account, actor=actor, clock=clock, changes=events.modified(
        "User", user.id, [*(PROFILE_ATTRIBUTES[k] for k in fields if before.get(k) != fields[k]),
                          *(["password"] if "password" in changes else [])]))
    return user


def end_sessions(session: Session, account: Account, user_id: str) -> None:
    """End every admin UI session of a user, on every device (sign-out): their cookies carry
    the epoch they were signed in at, which this moves on."""
    session.execute(update(User).where(User.id == user_id, User.account_id == account.id)
                    .values(session_epoch=User.session_epoch + 1))


def notifications_of(session: Session, user: User) -> dict[str, Any]:
    prefs = session.get(UserPreferences, user.id)
    return dict(prefs.notifications) if prefs else {}


def record_activity(session: Session, account: Account, user_id: str, *, actor: Actor,
                    at: dt.datetime | None = None, clock: Clock = utcnow) -> User:
    """Record that the user was active at ``at`` (now by default). Never moves backwards, and
    is not audited: it is a measurement, not a change of the account."""
    del actor
    user = get_user(session, account, user_id)
    when = at or clock()
    if when.tzinfo is None:
        raise InvalidInput("the time needs a time zone", field="at")
    if when > clock() + dt.timedelta(minutes=5):
        raise InvalidInput("the time is in the future", field="at")
    if user.last_activity_at is None or when > as_utc(user.last_activity_at):
        user.last_activity_at = when
    session.flush()
    return user


# --- invitations -------------------------------------------------------------------------------

def invite_user(session: Session, account: Account, *, email: str, user_type: str = "Member",
                display_name: str | None = None, actor: Actor, mailer: Mailer,
                accept_url: Callable[[str], str], clock: Clock = utcnow) -> tuple[User, str]:
    """Create a pending user and mail them an invitation link; returns (user, token).

    Rules as a creation (``user_type.invalid``, guest rules, ``operators.limit``); seats are
    checked when the invitation is accepted, pending users do not pay."""
    email = email.strip()
    key = documents.comparison_key(email)
    state = UserState(user_type=user_type, status="pending", email=key)
    _check_create(session, account, state)
    taken = session.scalar(select(exists().where(User.account_id == account.id,
                                                 User.user_name_key == key)))
    if taken:
        raise RuleViolation("user.exists", "a user %(email)s already exists", Severity.CONFLICT,
                            params={"email": email})
    now = clock()
    doc = documents.new_user_document(user_name=email, email=email, display_name=display_name,
                                      user_type=user_type)
    user = User(account_id=account.id, user_type=user_type, status="pending", created_at=now,
                modified_at=now, version=0, data={}, search={})
    session.add(user)
    session.flush()
    # Derives userName/email keys, the search document and the email rows as a SCIM write does.
    documents.store(user, doc, now=now)
    token = _send_invitation(session, account, user, email, actor=actor, mailer=mailer,
                             accept_url=accept_url, now=now,
                             subject=f"You are invited to {account.name}")
    record_audit(session, account, actor=actor, action="user.invite", target_type="user",
                 target_id=user.id, before=None,
                 after={"user_type": user_type, "status": "pending"}, clock=clock)
    session.flush()
    events.record_events(session, account, actor=actor, clock=clock,
                         changes=[events.created("User", user.id, user.data)])
    return user, token


def accept_invitation(session: Session, *, token: str, clock: Clock = utcnow) -> User:
    """Accept an invitation: the pending user becomes active (``seats.exceeded`` if the plan
    is full). An unknown, used or expired token is :class:`NotFound`."""
    inv = session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    now = clock()
    if inv is None or inv.accepted_at is not None or as_utc(inv.expires_at) < now:
        raise NotFound("this invitation link is unknown, used or expired")
    account = session.get(Account, inv.account_id)
    assert account is not None
    user = get_user(session, account, inv.user_id)
    after = UserState(user_type=user.user_type, status="active", email=user.email)
    actor = Actor(door="api", user_id=user.id, client="invitation")
    _change(session, account, user, after, actor=actor, action="user.accept_invitation",
            clock=clock, accepting=True)
    inv.accepted_at = now
    session.flush()
    return user


def _send_invitation(session: Session, account: Account, user: User, address: str, *,
                     actor: Actor, mailer: Mailer, accept_url: Callable[[str], str],
                     now: dt.datetime, subject: str, note: str | None = None) -> str:
    """A new invitation link for ``user``, mailed to ``address``; returns its token."""
    token = new_token("invite")
    session.add(Invitation(account_id=account.id, user_id=user.id, token_hash=hash_token(token),
                           invited_by_id=actor.user_id, created_at=now,
                           expires_at=now + INVITATION_TTL))
    valid = f"The link is valid until {(now + INVITATION_TTL):%Y-%m-%d %H:%M} UTC"
    mailer.send(session, account, to=address, user_id=user.id, secret=token, subject=subject,
                body=f"Accept the invitation: {accept_url(token)}\n"
                     + (f"{valid}; {note}.\n" if note else f"{valid}.\n"))
    return token


def resend_invitation(session: Session, account: Account, user_id: str, *, actor: Actor,
                      mailer: Mailer, accept_url: Callable[[str], str],
                      clock: Clock = utcnow) -> tuple[User, str]:
    """Mail a pending user a new invitation link; returns (user, token).

    Only a pending user has an invitation to resend (``invitation.not_pending``). The links
    sent before stop working: only the newest one is live, so a forwarded old email cannot be
    accepted after the admin sent a fresh one."""
    user = get_user(session, account, user_id)
    if user.status != "pending":
        raise RuleViolation("invitation.not_pending",
                            "only a pending user has an invitation to resend; this user "
                            "is %(status)s", Severity.CONFLICT, params={"status": user.status})
    address = user.email or user.user_name
    if not address:
        raise RuleViolation("invitation.no_address", "this user has no email address to "
                            "send the invitation to", Severity.CONFLICT)
    now = clock()
    session.execute(update(Invitation).where(Invitation.user_id == user.id,
                                             Invitation.accepted_at.is_(None),
                                             Invitation.expires_at > now)
                    .values(expires_at=now))
    token = _send_invitation(session, account, user, address, actor=actor, mailer=mailer,
                             accept_url=accept_url, now=now,
                             subject=f"Reminder: you are invited to {account.name}",
                             note="the links sent before this one no longer work")
    record_audit(session, account, actor=actor, action="user.invitation_resent",
                 target_type="user", target_id=user.id, before=None,
                 after={"status": "pending"}, clock=clock)
    session.flush()
    return user, token


@dataclass(frozen=True)
class LinkDetails:
    """What the page of an emailed link (an invitation, an email confirmation) tells before
    anything is done: which account, which address, who sent it and until when it works.
    Reading it changes nothing: mail scanners open these links."""

    account_name: str
    address: str  # the invited address, or the new address to confirm
    user_name: str | None  # the user's display name
    current_email: str | None  # the address an email change replaces
    sent_by_name: str | None
    sent_by_email: str | None
    expires_at: dt.datetime
    expired: bool


def _link_details(session: Session, account_id: str, user_id: str, address: str,
                  sender_id: str | None, expires_at: dt.datetime, now: dt.datetime,
                  current_email: str | None = None) -> LinkDetails:
    account = session.get(Account, account_id)
    user = session.get(User, user_id)
    if account is None or user is None or user.status == "deleted":
        raise NotFound("this invitation link is unknown, used or expired")
    sender = session.get(User, sender_id) if sender_id else None
    if sender is not None and (sender.account_id != account_id or sender.status == "deleted"):
        sender = None
    return LinkDetails(
        account_name=account.display_name or account.name, address=address,
        user_name=user.display_name, current_email=current_email,
        sent_by_name=sender.display_name if sender else None,
        sent_by_email=(sender.email or sender.user_name) if sender else None,
        expires_at=as_utc(expires_at), expired=as_utc(expires_at) < now)


def invitation_details(session: Session, *, token: str, clock: Clock = utcnow) -> LinkDetails:
    """The invitation a link holds, for its page; unknown or used: :class:`NotFound`
    (expired ones are described, with ``expired`` set)."""
    inv = session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(token)))
    if inv is None or inv.accepted_at is not None:
        raise NotFound("this invitation link is unknown, used or expired")
    user = session.get(User, inv.user_id)
    address = (user.email or user.user_name or "") if user is not None else ""
    return _link_details(session, inv.account_id, inv.user_id, address, inv.invited_by_id,
                         inv.expires_at, clock())


def email_change_details(session: Session, *, token: str, clock: Clock = utcnow) -> LinkDetails:
    """The email change a link holds, for its page; unknown or used: :class:`NotFound`."""
    change = session.scalar(select(EmailChange).where(EmailChange.token_hash == hash_token(token)))
    if change is None or change.confirmed_at is not None:
        raise NotFound("this confirmation link is unknown or already used")
    user = session.get(User, change.user_id)
    return _link_details(session, change.account_id, change.user_id, change.new_email,
                         change.requested_by_id, change.expires_at, clock(),
                         current_email=user.email if user is not None else None)


# --- email changes -----------------------------------------------------------------------------

def start_email_change(session: Session, account: Account, user_id: str, new_email: str, *,
                       actor: Actor, mailer: Mailer, confirm_url: Callable[[str], str],
                       clock: Clock = utcnow) -> tuple[EmailChange, str]:
    """Start changing a user's email (``email.confirmation_required``): nothing changes until
    the link mailed to the new address is followed, within 3 days. Guest rules are checked now
    and again at confirmation."""
    user = get_user(session, account, user_id)
    key = documents.comparison_key(new_email.strip())
    check_email_free(session, account, user.id, key)
    if user.user_type == "Guest":
        _check_guest(account, key)
    now = clock()
    token = new_token("email")
    change = EmailChange(account_id=account.id, user_id=user.id, new_email=key,
                         token_hash=hash_token(token), requested_by_id=actor.user_id,
                         created_at=now, expires_at=now + EMAIL_CHANGE_TTL)
    session.add(change)
    mailer.send(session, account, to=new_email.strip(), user_id=user.id, secret=token,
                subject="Confirm your new email address",
                body=f"Confirm this address for your {account.name} account: "
                     f"{confirm_url(token)}\nThe link is valid for 3 days; if you do not follow "
                     "it, nothing changes.\n")
    record_audit(session, account, actor=actor, action="user.email_change_requested",
                 target_type="user", target_id=user.id, before=None,
                 after={"email": "pending confirmation"}, clock=clock)
    session.flush()
    return change, token


def confirm_email_change(session: Session, *, token: str, clock: Clock = utcnow) -> User:
    """Apply a confirmed email change. After 3 days the link is refused and nothing changes
    (rule ``email.confirmation_required``, 409)."""
    change = session.scalar(select(EmailChange).where(EmailChange.token_hash == hash_token(token)))
    if change is None or change.confirmed_at is not None:
        raise NotFound("this confirmation link is unknown or already used")
    now = clock()
    if as_utc(change.expires_at) < now:
        raise RuleViolation("email.confirmation_required",
                            "this confirmation link has expired; the email was not changed",
                            Severity.CONFLICT)
    account = session.get(Account, change.account_id)
    assert account is not None
    user = get_user(session, account, change.user_id)
    lock_account(session, account)
    check_email_free(session, account, user.id, change.new_email)
    if user.user_type == "Guest":
        _check_guest(account, change.new_email)
    documents.write_email(user, change.new_email, now=now)
    session.execute(delete(UserEmail).where(UserEmail.user_id == user.id,
                                            UserEmail.primary.is_(True)))
    session.add(UserEmail(user_id=user.id, account_id=account.id, value_key=change.new_email,
                          type_key="work", primary=True))
    change.confirmed_at = now
    record_audit(session, account, actor=Actor(door="api", user_id=user.id,
                                               client="email-confirmation"),
                 action="user.email_changed", target_type="user", target_id=user.id,
                 before={"email": "previous"}, after={"email": "confirmed"}, clock=clock)
    session.flush()
    events.record_events(session, account, actor=Actor(door="api", user_id=user.id,
                                                       client="email-confirmation"),
                         clock=clock, changes=events.modified("User", user.id, ["emails"]))
    return user


# --- bulk changes ------------------------------------------------------------------------------

@dataclass
class BulkReport:
    """What a bulk change did, user by user."""

    applied: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str, str]] = field(default_factory=list)  # (user id, rule, message)
    # The refusal behind each skipped user, template and parameters included, for a door that
    # shows the reason in another language than the English ``message``.
    refusals: dict[str, DomainError] = field(default_factory=dict)


def bulk_change(session: Session, account: Account, user_ids: Sequence[str], *, actor: Actor,
                user_type: str | None = None, status: str | None = None,
                clock: Clock = utcnow) -> BulkReport:
    """Change the type or the status of up to 200 users (``bulk.too_many``), never including
    the acting admin (``bulk.self``). Each user is changed in its own savepoint: a user is
    changed entirely or skipped with the rule that stopped it (``bulk.nonpaying_to_paying``
    and every single-user rule)."""
    if (user_type is None) == (status is None):
        raise InvalidInput("give either a user type or a status", field="user_type")
    ids = list(dict.fromkeys(user_ids))
    if len(ids) > BULK_MAX:
        raise RuleViolation("bulk.too_many",
                            "a bulk change covers at most %(max)s users, not %(n)s",
                            Severity.INVALID, params={"max": BULK_MAX, "n": len(ids)})
    if actor.user_id is not None and actor.user_id in ids:
        raise RuleViolation("bulk.self", "a bulk change cannot include yourself",
                            Severity.INVALID)
    if user_type is not None:
        _validate(UserState(user_type=user_type, status="active", email=None))
    if status is not None and status not in ("active", "inactive"):
        raise InvalidInput("status must be active or inactive", field="status")
    report = BulkReport()
    lock_account(session, account)
    for uid in ids:
        try:
            with session.begin_nested():
                user = get_user(session, account, uid)
                after = UserState(user_type=user_type or user.user_type,
                                  status=status or user.status, email=user.email)
                _change(session, account, user, after, actor=actor, clock=clock, bulk=True,
                        action="user.bulk_change_type" if user_type else
                        "user.bulk_change_status")
            report.applied.append(uid)
        except RuleViolation as exc:
            report.skipped.append((uid, exc.rule, exc.message))
            report.refusals[uid] = exc
        except NotFound as exc:
            report.skipped.append((uid, "user.not_found", exc.message))
            report.refusals[uid] = exc
    return report
