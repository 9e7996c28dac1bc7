"""SQL tables of the user-management hub: duty schedules and resource permissions.

Same ``Base`` (naming convention, migration history) as the core store; every row carries
``account_id`` so that each query can filter on the isolation boundary without a join.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from scim_server.storage.models import Base, UTCDateTime, new_id, utcnow

PERMISSION_LEVELS = ("view", "edit", "admin")
EXCEPTION_KINDS = ("off", "on")


class DutySchedule(Base):
    """A user's duty schedule: the IANA time zone its windows and exceptions are written in.

    One per user. Without a row the user is never on duty.
    """

    __tablename__ = "duty_schedules"
    __table_args__ = (Index("ix_duty_schedules_account", "account_id", "user_id"),)

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    time_zone: Mapped[str] = mapped_column(String(64))
    modified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DutyWindow(Base):
    """A weekly on-duty window, in local wall-clock time of the schedule's zone.

    ``weekday`` is ISO minus one (0 = Monday). ``end_time <= start_time`` means the window ends
    on the next day (22:00-06:00 crosses midnight; equal times mean 24 hours).
    """

    __tablename__ = "duty_windows"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        Index("ix_duty_windows_account_weekday", "account_id", "weekday"),
        Index("ix_duty_windows_user", "user_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(
        ForeignKey("duty_schedules.user_id", ondelete="CASCADE")
    )
    weekday: Mapped[int] = mapped_column(SmallInteger)
    start_time: Mapped[dt.time] = mapped_column(Time())
    end_time: Mapped[dt.time] = mapped_column(Time())


class DutyException(Base):
    """A dated exception to the weekly windows, on a local date of the schedule's zone.

    ``off`` without times: the whole date is off; ``off`` with times: off in that span;
    ``on`` (times required): on duty in that span even outside the weekly windows. An ``on``
    exception wins over an ``off`` one, being the more specific statement. Spans follow the
    same midnight rule as :class:`DutyWindow`.
    """

    __tablename__ = "duty_exceptions"
    __table_args__ = (
        CheckConstraint("kind IN ('off', 'on')", name="kind"),
        CheckConstraint(
            "(start_time IS NULL AND end_time IS NULL AND kind = 'off')"
            " OR (start_time IS NOT NULL AND end_time IS NOT NULL)",
            name="times",
        ),
        Index("ix_duty_exceptions_account_date", "account_id", "on_date"),
        Index("ix_duty_exceptions_user", "user_id", "on_date"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(
        ForeignKey("duty_schedules.user_id", ondelete="CASCADE")
    )
    on_date: Mapped[dt.date] = mapped_column(Date())
    kind: Mapped[str] = mapped_column(String(3))
    start_time: Mapped[dt.time | None] = mapped_column(Time(), nullable=True)
    end_time: Mapped[dt.time | None] = mapped_column(Time(), nullable=True)
    note: Mapped[str | None] = mapped_column(String(200), nullable=True)


class ResourcePermission(Base):
    """A permission on a resource granted to exactly one user or one group.

    At most one grant per (resource, principal): granting again changes the level. A user's
    effective level is the highest of their own grant and their groups' (nested groups count).
    """

    __tablename__ = "resource_permissions"
    __table_args__ = (
        CheckConstraint("level IN ('view', 'edit', 'admin')", name="level"),
        CheckConstraint("(user_id IS NULL) <> (group_id IS NULL)", name="one_principal"),
        # NULLs are distinct in both engines, so each constraint only bites on its own kind.
        UniqueConstraint("resource_id", "user_id", name="uq_resource_permissions_user"),
        UniqueConstraint("resource_id", "group_id", name="uq_resource_permissions_group"),
        Index("ix_resource_permissions_account", "account_id", "resource_id"),
        Index("ix_resource_permissions_user", "user_id"),
        Index("ix_resource_permissions_group", "group_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    group_id: Mapped[str | None] = mapped_column(
        ForeignKey("groups.id", ondelete="CASCADE"), nullable=True
    )
    level: Mapped[str] = mapped_column(String(5))
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    granted_by_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
