"""User and group rows of one account: the writes every door goes through.

Each write is a short run of Core statements that lets the database decide what it alone can
decide safely under concurrency: uniqueness (``INSERT … ON CONFLICT DO NOTHING``, a unique
index), the version check of RFC 7644 §3.14 (``UPDATE … WHERE version = :v``), and the account's
limits (one conditional ``UPDATE accounts``). Does not: commit, or decide a rule (the domain says
which limits a write must respect and what a refusal means).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from scim2_models import NotFoundException, PreconditionFailedException, UniquenessException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scim_server.storage import models as m
from scim_server.storage.conversion import user_fields
from scim_server.storage.dialects import json_dialect
from scim_server.storage.events import append_events, take_and_append
from scim_server.storage.schema import default_provider
from scim_server.storage.scope import USER_VISIBLE, AccountScope

_users = cast(sa.Table, m.User.__table__)
_groups = cast(sa.Table, m.Group.__table__)
_emails = cast(sa.Table, m.UserEmail.__table__)
_accounts = cast(sa.Table, m.Account.__table__)


class VersionConflict(PreconditionFailedException):
    """The row changed since it was read: the version the write expected is gone.

    A 412 when the client sent If-Match; otherwise the caller reads the row again and
    re-applies its change."""

    def __init__(self) -> None:
        super().__init__(detail="the resource changed since this version")


@dataclass(frozen=True)
class Written:
    """The meta of a row after a write (RFC 7643 §3.1)."""

    id: str
    version: int
    created_at: dt.datetime
    modified_at: dt.datetime


@dataclass(frozen=True)
class CountShift:
    """A change of the account's derived counts, and the limits it must stay within."""

    operators: int = 0
    paying: int = 0
    check_operators: bool = False
    check_seats: bool = False

    def __add__(self, other: CountShift) -> CountShift:
        return CountShift(
            self.operators + other.operators,
            self.paying + other.paying,
            self.check_operators or other.check_operators,
            self.check_seats or other.check_seats,
        )

    @property
    def is_noop(self) -> bool:
        return not (self.operators or self.paying or self.check_operators or self.check_seats)


def _shift_statement(check_operators: bool, check_seats: bool, events: bool = False) -> Any:
    a = _accounts.c
    values: dict[str, Any] = {
        "operators_used": a.operators_used + sa.bindparam("operators"),
        "paying_active": a.paying_active + sa.bindparam("paying"),
    }
    if events:
        # The write's events take their positions in the same statement (storage.events).
        values["event_position"] = a.event_position + sa.bindparam("events")
    statement = (
        sa.update(_accounts)
        .where(a.id == sa.bindparam("account"))
        .values(**values)
        .returning(a.event_position if events else a.id)
    )
    if check_operators:
        statement = statement.where(a.operators_used + sa.bindparam("operators") <= a.operators_limit)
    if check_seats:
        statement = statement.where(a.paying_active + sa.bindparam("paying") <= a.seats_limit)
    return statement


# Built once: the four shapes of the conditional update, without and with events.
_SHIFTS = {(o, s, e): _shift_statement(o, s, e)
           for o in (False, True) for s in (False, True) for e in (False, True)}


def shift_counts(connection: Any, account_id: str, shift: CountShift,
                 events: Sequence[dict[str, Any]] = ()) -> bool:
    """Apply a shift to the account's counts, within the limits it names, and write the
    write's ``events`` (rows as ``storage.events.append_events`` takes them) at the positions
    the same statement takes: False, and nothing changed, when a limit would be passed. One
    statement on PostgreSQL, events or not, which holds the account row until the
    transaction ends: callers make it their last."""
    if events:
        if shift.is_noop:
            append_events(connection, account_id, events)
            return True
        return take_and_append(
            connection, _SHIFTS[(shift.check_operators, shift.check_seats, True)],
            {"account": account_id, "operators": shift.operators, "paying": shift.paying},
            events)
    if shift.is_noop:
        return True
    row = connection.execute(
        _SHIFTS[(shift.check_operators, shift.check_seats, False)],
        {"account": account_id, "operators": shift.operators, "paying": shift.paying},
    ).first()
    return row is not None


def account_counts(connection: Any, account_id: str) -> Any:
    """The account's counts and limits, as committed now."""
    a = _accounts.c
    return connection.execute(
        sa.select(a.operators_used, a.paying_active, a.operators_limit, a.seats_limit).where(
            a.id == account_id
        )
    ).one()


@functools.cache
def _insert_user(dialect: str) -> Any:
    # Built once per engine; the columns come with each execution's parameters.
    return json_dialect(dialect).insert(_users).on_conflict_do_nothing().returning(_users.c.id)


def _update_user(renamed: bool) -> Any:
    """The versioned UPDATE of a user (its columns come with the parameters); a new userName
    (``renamed``) must be free: checked in the same statement, so a refusal leaves the
    transaction usable (a unique-index violation aborts it on PostgreSQL)."""
    u = _users.c
    statement = (
        sa.update(_users)
        .where(u.id == sa.bindparam("b_id"), u.account_id == sa.bindparam("b_account"),
               USER_VISIBLE, u.version == sa.bindparam("b_version"))
        .values(version=u.version + 1)
        .returning(u.version, u.created_at)
    )
    if renamed:
        other = _users.alias("other")
        statement = statement.where(~sa.exists().where(
            other.c.account_id == sa.bindparam("b_account"),
            other.c.user_name_key == sa.bindparam("b_key"), other.c.id != sa.bindparam("b_id")))
    return statement


_UPDATE_USER = {renamed: _update_user(renamed) for renamed in (False, True)}


class Records:
    """The user and group rows of one account."""

    def __init__(self, scope: AccountScope, clock: Callable[[], dt.datetime]) -> None:
        self.scope = scope
        self.clock = clock

    # --- users ---------------------------------------------------------------------------

    def insert_user(
        self, fields: dict[str, Any], emails: Sequence[dict[str, Any]], *, user_id: str
    ) -> Written:
        """A new user (RFC 7644 §3.3): version 1; a userName the account already has is a 409,
        decided by the unique index, so two concurrent creates of one name give one user."""
        now = self.clock()
        row = self.scope.run(_insert_user(self.scope.dialect), {
            "id": user_id, "account_id": self.scope.account, "created_at": now,
            "modified_at": now, "version": 1, **fields,
        }).first()
        if row is None:
            raise UniquenessException(detail="userName is already taken")
        self._insert_emails(user_id, emails)
        return Written(user_id, 1, now, now)

    def insert_users(
        self, rows: Sequence[tuple[str, dict[str, Any], Sequence[dict[str, Any]]]]
    ) -> list[Written] | None:
        """Many new users (a Bulk full sync) in two statements; None, having written nothing,
        when one breaks a unique index (a concurrent writer took a userName since it was
        checked): the caller then creates them one by one."""
        now = self.clock()
        account = self.scope.account
        try:
            with self.scope.session.begin_nested():
                self.scope.run(
                    sa.insert(_users),
                    [
                        {"id": user_id, "account_id": account, "created_at": now,
                         "modified_at": now, "version": 1, **fields}
                        for user_id, fields, _ in rows
                    ],
                )
                email_rows = [
                    {"user_id": user_id, "account_id": account, **email}
                    for user_id, _, emails in rows
                    for email in emails
                ]
                if email_rows:
                    self.scope.run(sa.insert(_emails), email_rows)
        except IntegrityError:
            return None
        return [Written(user_id, 1, now, now) for user_id, _, _ in rows]

    def update_user(
        self,
        user_id: str,
        fields: dict[str, Any],
        emails: Sequence[dict[str, Any]] | None,
        *,
        version: int,
        renamed: bool,
    ) -> Written:
        """Write a user's columns if the row is still at ``version`` (RFC 7644 §3.14), in the
        statement that writes; ``emails`` (when not None) replace its email rows. A new
        userName (``renamed``) must be free in the account (RFC 7643 §4.1.1)."""
        now = self.clock()
        key = fields["user_name_key"] if renamed else None
        try:
            row = self.scope.run(_UPDATE_USER[key is not None], {
                **fields, "modified_at": now, "b_id": user_id, "b_account": self.scope.account,
                "b_version": version, "b_key": key,
            }).first()
        except IntegrityError as exc:  # the same name, written by a concurrent request
            raise UniquenessException(detail="userName is already taken") from exc
        if row is None:
            self._refused("User", user_id, key)
        if emails is not None:
            self.scope.run(sa.delete(_emails).where(_emails.c.user_id == user_id,
                                                    _emails.c.account_id == self.scope.account))
            self._insert_emails(user_id, emails)
        return Written(user_id, row.version, row.created_at, now)

    def anonymise_user(self, user_id: str, *, version: int) -> Written:
        """Delete a user still at ``version``: the row stays, erased, with status ``deleted``
        (invisible to SCIM, its userName free again); its email rows go."""
        now = self.clock()
        u = _users.c
        cleared = dict.fromkeys(("user_name", "user_name_key", "external_id", "display_name",
                                 "display_name_key", "email", "password_hash"))
        row = self.scope.run(
            sa.update(_users)
            .where(u.id == user_id, u.account_id == self.scope.account, USER_VISIBLE,
                   u.version == version)
            .values(**cleared, status="deleted", deleted_at=now, modified_at=now, data={},
                    search={}, version=u.version + 1)
            .returning(u.version, u.created_at)
        ).first()
        if row is None:
            self._conflict_or_missing("User", user_id)
        self.scope.run(sa.delete(_emails).where(_emails.c.user_id == user_id,
                                                _emails.c.account_id == self.scope.account))
        return Written(user_id, row.version, row.created_at, now)

    def lock(self, kind: str, resource_id: str, *, version: int) -> None:
        """Hold a row still at ``version`` until the transaction ends (PostgreSQL), for a write
        that the domain makes through the ORM (a user's deletion)."""
        table = self.scope.table(kind)
        row = self.scope.run(
            sa.select(table.id)
            .where(table.id == resource_id, self.scope.visible(kind), table.version == version)
            .with_for_update()
        ).first()
        if row is None:
            self._conflict_or_missing(kind, resource_id)

    def _insert_emails(self, user_id: str, emails: Sequence[dict[str, Any]]) -> None:
        if emails:
            account = self.scope.account
            self.scope.run(
                sa.insert(_emails),
                [{"user_id": user_id, "account_id": account, **email} for email in emails],
            )

    def _taken(self, kind: str, key: str | None, resource_id: str) -> Any:
        """Whether another row of the account holds this unique key (userName, displayName):
        checked in the UPDATE that writes it, so a refusal leaves the transaction usable (a
        unique-index violation aborts it on PostgreSQL)."""
        table = self.scope.table(kind)
        other = table.__table__.alias("other")
        column = other.c.user_name_key if kind == "User" else other.c.display_name_key
        return sa.exists().where(other.c.account_id == self.scope.account, column == key,
                                 other.c.id != resource_id)

    def _refused(self, kind: str, resource_id: str, key: str | None) -> None:
        """Why a versioned write matched no row: a unique key taken, or the row moved on or
        is gone."""
        if key is not None and self.scope.run(
            sa.select(self._taken(kind, key, resource_id))
        ).scalar():
            name = "userName" if kind == "User" else "displayName"
            raise UniquenessException(detail=f"{name} is already taken")
        self._conflict_or_missing(kind, resource_id)

    def _conflict_or_missing(self, kind: str, resource_id: str) -> None:
        """After a versioned write matched no row: the row moved on, or it is gone."""
        table = self.scope.table(kind)
        there = self.scope.run(
            sa.select(table.id).where(table.id == resource_id, self.scope.visible(kind))
        ).first()
        if there is None:
            raise NotFoundException(detail=f"{kind} {resource_id!r} not found")
        raise VersionConflict

    # --- groups --------------------------------------------------------------------------

    def insert_group(self, fields: dict[str, Any], *, group_id: str) -> Written:
        """A new group; a displayName the account already has is a 409 (unique index)."""
        now = self.clock()
        row = self.scope.run(
            self.scope.json.insert(_groups)
            .values(id=group_id, account_id=self.scope.account, created_at=now, modified_at=now,
                    version=1, **fields)
            .on_conflict_do_nothing()
            .returning(_groups.c.id)
        ).first()
        if row is None:
            raise UniquenessException(detail="displayName is already taken")
        return Written(group_id, 1, now, now)

    def update_group(
        self, group_id: str, fields: dict[str, Any] | None, *, version: int | None,
        renamed: bool,
    ) -> Written:
        """Move a group to its next version if it is still at ``version`` (None: whatever
        version it is at), writing ``fields`` (None: only the version moves, for a change of
        its members); a new displayName (``renamed``) must be free in the account."""
        now = self.clock()
        g = _groups.c
        statement = (
            sa.update(_groups)
            .where(g.id == group_id, g.account_id == self.scope.account)
            .values(**(fields or {}), version=g.version + 1, modified_at=now)
            .returning(g.version, g.created_at)
        )
        if version is not None:
            statement = statement.where(g.version == version)
        key = fields["display_name_key"] if fields is not None and renamed else None
        if key is not None:
            statement = statement.where(~self._taken("Group", key, group_id))
        try:
            row = self.scope.run(statement).first()
        except IntegrityError as exc:
            raise UniquenessException(detail="displayName is already taken") from exc
        if row is None:
            self._refused("Group", group_id, key)
        return Written(group_id, row.version, row.created_at, now)

    def delete_group(self, group_id: str, *, version: int) -> None:
        """Delete a group still at ``version``; its memberships go with it (foreign key)."""
        g = _groups.c
        self.scope.run(
            sa.delete(m.GroupMember).where(m.GroupMember.group_id == group_id,
                                          m.GroupMember.account_id == self.scope.account)
        )
        deleted = self.scope.run(
            sa.delete(_groups)
            .where(g.id == group_id, g.account_id == self.scope.account, g.version == version)
            .returning(g.id)
        ).first()
        if deleted is None:
            self._conflict_or_missing("Group", group_id)

    # --- the account's counts ------------------------------------------------------------

    def shift_counts(self, shift: CountShift) -> bool:
        return shift_counts(self.scope.connection, self.scope.account, shift)


def rewrite_user_document(
    session: Session, row: m.User, data: dict[str, Any], *, now: dt.datetime
) -> None:
    """Store a new SCIM document for an existing user (an ORM row of the domain's) and
    re-derive everything kept beside it (search document, userName/displayName keys, email
    column and ``user_emails`` rows), exactly as a SCIM PUT would; the status and the password
    stay the domain's."""
    provider = default_provider()
    user_type = next(rt for rt in provider.resource_types if rt.name == "User")
    model: Any = provider.model_for(user_type)
    document = {k: v for k, v in data.items() if k not in ("id", "meta")}
    with provider:
        resource = model.model_validate(document)
    fields, emails = user_fields(resource, current_status=row.status)
    fields.pop("status")
    fields.pop("password_hash")
    if fields["user_name_key"] != row.user_name_key and fields["user_name_key"] is not None:
        with session.no_autoflush:
            taken = session.execute(
                sa.select(m.User.id).where(
                    m.User.account_id == row.account_id,
                    m.User.user_name_key == fields["user_name_key"],
                    m.User.id != row.id,
                ).limit(1)
            ).first()
        if taken is not None:
            raise UniquenessException(detail="userName is already taken")
    for name, value in fields.items():
        setattr(row, name, value)
    row.version = (row.version or 0) + 1
    row.modified_at = now
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise UniquenessException(detail="a unique value is already taken") from exc
    session.execute(sa.delete(m.UserEmail).where(m.UserEmail.user_id == row.id,
                                                 m.UserEmail.account_id == row.account_id))
    if emails:
        session.execute(sa.insert(m.UserEmail),
                        [{"user_id": row.id, "account_id": row.account_id, **e} for e in emails])
