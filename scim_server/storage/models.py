"""Typed SQLAlchemy 2.0 models of the core store: accounts, users, groups, memberships, credentials.

Every row carries its ``account_id`` and every query filters on it: the account is the
isolation boundary. SCIM payloads are kept as JSON (``data``) beside a normalised copy
(``search``) whose strings are comparison keys, so that filters compile to SQL with the same
case rules as the SCIM models; the attributes identity providers look up have their own
indexed columns.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    column,
    event,
    inspect,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, binary), JSON text elsewhere.
JsonDoc = JSON().with_variant(JSONB(), "postgresql")


def new_id() -> str:
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on both engines (SQLite drops the zone: it is put back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DescNullsLast(ColumnElement[Any]):
    """An index column in ``ORDER BY <name> DESC NULLS LAST`` order, on both engines.

    PostgreSQL needs the ``NULLS LAST`` (its DESC puts NULLs first); SQLite refuses it in an
    index and needs none: NULLs sort lowest there, so DESC already puts them last and its
    planner serves ``DESC NULLS LAST`` from a DESC index."""

    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]

    def __init__(self, name: str) -> None:
        self.element: ColumnElement[Any] = column(name)


@compiles(DescNullsLast)
def _desc_nulls_last(element: DescNullsLast, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.element, **kw)} DESC NULLS LAST"


@compiles(DescNullsLast, "sqlite")
def _desc_nulls_last_sqlite(element: DescNullsLast, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.element, **kw)} DESC"


class Plan(Base):
    """A named plan: the limits an account on it gets unless the operator sets its own."""

    __tablename__ = "plans"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    seats_limit: Mapped[int] = mapped_column(Integer)
    operators_limit: Mapped[int] = mapped_column(Integer)


class Account(Base):
    """A customer account (tenant): its users, groups, plan, domains and tokens."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The account's own email domains (lower case), e.g. ["example.com"].
    domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    guest_allowlist: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    guest_denylist: Mapped[list[str]] = mapped_column(JSON, default=list)
    plan: Mapped[str] = mapped_column(String(50), default="standard")
    seats_limit: Mapped[int] = mapped_column(Integer, default=1000)
    operators_limit: Mapped[int] = mapped_column(Integer, default=100000)
    # Derived counts kept by the before_flush hook below, so that the seat and operator rules
    # read one row instead of counting every user on each write (O(N) per create otherwise).
    operators_used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    paying_active: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # The position of the account's last event (storage.events): moved in the transaction
    # that writes the events, under this row's lock, so positions grow in commit order.
    event_position: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                                default=0, server_default="0")
    # Requests per second and burst of each of the account's credentials, set by the
    # operator; None: the server's defaults (SCIM_RATE_LIMIT_PER_SECOND, _BURST); 0/s: none.
    rate_limit_per_second: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate_limit_burst: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Set by the account's Admins: the name their console shows (else ``name``, the
    # operator's), and the type SCIM gives a user created without one (Member or Viewer).
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    default_user_type: Mapped[str] = mapped_column(String(20), default="Member",
                                                   server_default="Member")
    # "active" or "suspended" (by the operator: every token and sign-in refused, nothing lost).
    status: Mapped[str] = mapped_column(String(20), default="active", server_default="active")
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # "No activity since <date>" is shown from this date for users without activity.
    activity_tracking_since: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    """A user of an account. Deleted users stay as anonymised rows (status ``deleted``)."""

    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("account_id", "user_name_key", name="uq_users_account_user_name"),
        Index("ix_users_account_external_id", "account_id", "external_id"),
        Index("ix_users_account_display_name_key", "account_id", "display_name_key"),
        Index("ix_users_account_status", "account_id", "status", "user_type"),
        Index("ix_users_account_last_activity", "account_id", "last_activity_at", "id"),
        Index("ix_users_account_created", "account_id", "created_at", "id"),
        # SCIM pages (RFC 7644 §3.4.2.4) walk one account's visible users in id order.
        Index("ix_users_account_visible", "account_id", "id",
              postgresql_where=text("status <> 'deleted'"), sqlite_where=text("status <> 'deleted'")),
        # The hub's most recently active users: one account's active users in the card's order
        # (last activity, newest first, never-active last, then id), and their count, index-only.
        Index(
            "ix_users_account_active",
            "account_id",
            DescNullsLast("last_activity_at"),
            "id",
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # userName as sent, and its comparison key (NFC, lower case): NULL once deleted.
    user_name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    user_name_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    display_name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    display_name_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    # The primary (or first) email, lower case, for the domain rules and the admin search.
    email: Mapped[str | None] = mapped_column(String(400), nullable=True, index=True)
    # active_history: the hook that keeps the account's counts needs the value a change replaces.
    user_type: Mapped[str] = mapped_column(String(20), default="Member", active_history=True)
    # active | inactive | pending | deleted
    status: Mapped[str] = mapped_column(String(20), default="active", active_history=True)
    password_hash: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # The admin UI's sessions of this user: each cookie carries the epoch it was signed in
    # at, and signing out moves it on, so that a copied cookie dies with the sign-out.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # The SCIM payload as the client sent it (no id, no meta, no password, no groups); JSON
    # text on both engines (not JSONB), so its keys come back in the order they were written.
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The same payload with every string replaced by its comparison key, for filters.
    search: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class UserEmail(Base):
    """One email of a user, so that ``emails[type eq "work"].value eq`` is an index lookup."""

    __tablename__ = "user_emails"
    __table_args__ = (Index("ix_user_emails_account_value", "account_id", "value_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    value_key: Mapped[str] = mapped_column(String(400))
    type_key: Mapped[str | None] = mapped_column(String(100), nullable=True)
    primary: Mapped[bool] = mapped_column(Boolean, default=False)


class Group(Base):
    """A group of an account. Its members are rows of ``group_members``, never a list in ``data``."""

    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("account_id", "display_name_key", name="uq_groups_account_display_name"),
        Index("ix_groups_account_external_id", "account_id", "external_id"),
        Index("ix_groups_account_created", "account_id", "created_at", "id"),
        Index("ix_groups_account_id", "account_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    display_name: Mapped[str | None] = mapped_column(String(400), nullable=True)
    display_name_key: Mapped[str | None] = mapped_column(String(400), nullable=True)
    external_id: Mapped[str | None] = mapped_column(String(400), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # as User.data
    search: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


class GroupMember(Base):
    """One member of a group: a user or a nested group of the same account."""

    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_members_member", "member_id", "group_id"),)

    group_id: Mapped[str] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    # "User" or "Group"
    member_type: Mapped[str] = mapped_column(String(10), default="User")
    display: Mapped[str | None] = mapped_column(String(400), nullable=True)


class Credential(Base):
    """A bearer credential of a user: a SCIM token or an admin API token.

    Only the SHA-256 of the secret is kept; ``prefix`` (the first characters) lets admins tell
    tokens apart. ``kind`` is ``scim`` or ``api``.
    """

    __tablename__ = "credentials"
    __table_args__ = (Index("ix_credentials_account_user", "account_id", "user_id", "kind"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    prefix: Mapped[str] = mapped_column(String(20))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A SCIM token is a connection of an identity provider; the Admin's choice of its profile
    # (okta, entra, ...), None: the one the request log detected.
    idp_profile: Mapped[str | None] = mapped_column(String(20), nullable=True)


# --- the account's derived counts -------------------------------------------------------------

PAYING_TYPES = ("Admin", "Member")


def contribution(status: str | None, user_type: str | None) -> tuple[int, int]:
    """(operators, paying active) that one user adds to its account's counts."""
    status = status or "active"  # the column defaults, when the row is not yet inserted
    user_type = user_type or "Member"
    return int(status != "deleted"), int(status == "active" and user_type in PAYING_TYPES)


def _before_and_after(user: User) -> tuple[tuple[int, int], tuple[int, int]] | None:
    state = inspect(user)
    status, user_type = state.attrs.status.history, state.attrs.user_type.history
    if not status.has_changes() and not user_type.has_changes():
        return None

    def old(history: Any, current: Any) -> Any:
        return history.deleted[0] if history.deleted else current

    return (
        contribution(old(status, user.status), old(user_type, user.user_type)),
        contribution(user.status, user.user_type),
    )


@event.listens_for(Session, "before_flush")
def _keep_account_counts(session: Session, _context: Any, _instances: Any) -> None:
    """Apply to ``accounts.operators_used`` / ``paying_active`` what the flush changes.

    Runs for every ORM write of a user (SCIM storage, domain, admin doors, tests' factories),
    inside the writer's transaction, so the counts commit or roll back with the rows."""
    deltas: dict[str, list[int]] = {}

    def add(account_id: str, sign: int, amounts: tuple[int, int]) -> None:
        delta = deltas.setdefault(account_id, [0, 0])
        delta[0] += sign * amounts[0]
        delta[1] += sign * amounts[1]

    for obj in session.new:
        if isinstance(obj, User):
            add(obj.account_id, 1, contribution(obj.status, obj.user_type))
    for obj in session.dirty:
        if isinstance(obj, User) and (change := _before_and_after(obj)) is not None:
            add(obj.account_id, -1, change[0])
            add(obj.account_id, 1, change[1])
    for obj in session.deleted:
        if isinstance(obj, User):
            history = inspect(obj).attrs
            before = contribution(
                history.status.history.deleted[0] if history.status.history.deleted else obj.status,
                history.user_type.history.deleted[0]
                if history.user_type.history.deleted else obj.user_type,
            )
            add(obj.account_id, -1, before)
    connection = None
    for account_id, (operators, paying) in deltas.items():
        if operators or paying:
            connection = connection or session.connection()
            connection.execute(
                update(Account)
                .where(Account.id == account_id)
                .values(
                    operators_used=Account.operators_used + operators,
                    paying_active=Account.paying_active + paying,
                )
            )
