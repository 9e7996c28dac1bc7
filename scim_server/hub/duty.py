"""Duty schedules: weekly on-duty windows in a user's time zone, dated exceptions, and who is on
duty at a given instant.

Windows are wall-clock times of the schedule's IANA zone, so "09:00-17:00 Europe/Paris" means
09:00 local before and after a daylight-saving change (07:00 UTC in summer, 08:00 UTC in
winter). An instant is turned into the user's local date and time with :mod:`zoneinfo` and
compared there: a window that falls in the spring-forward gap simply never matches for the
missing hour, and the repeated autumn hour matches both times it happens.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor, Clock
from scim_server.domain.audit import record_audit
from scim_server.domain.errors import InvalidInput, NotFound
from scim_server.storage.hub_tables import EXCEPTION_KINDS, DutyException, DutySchedule, DutyWindow
from scim_server.storage.models import Account, User, utcnow

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Enough for several shifts a day; a cap keeps one schedule from becoming a table scan.
MAX_WINDOWS = 56
MAX_EXCEPTIONS = 400
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class WindowSpec:
    weekday: int  # 0 = Monday
    start: dt.time
    end: dt.time


@dataclass(frozen=True)
class ExceptionSpec:
    on_date: dt.date
    kind: str  # off | on
    start: dt.time | None = None
    end: dt.time | None = None
    note: str | None = None


@dataclass(frozen=True)
class ScheduleView:
    user_id: str
    time_zone: str | None
    windows: list[DutyWindow]
    exceptions: list[DutyException]


@dataclass(frozen=True)
class OnDutyEntry:
    user_id: str
    display_name: str | None
    user_type: str
    time_zone: str
    local_time: dt.datetime


# -- the rule ------------------------------------------------------------------------------------


def covers(
    anchor: dt.date, start: dt.time | None, end: dt.time | None, day: dt.date, time: dt.time
) -> bool:
    """Does the span starting on local date ``anchor`` contain local ``day``/``time``?

    No times: the whole of ``anchor``. ``end <= start``: the span runs into the next day
    (equal times make it 24 hours long).
    """
    if start is None or end is None:
        return day == anchor
    if end > start:
        return day == anchor and start <= time < end
    return (day == anchor and time >= start) or (day == anchor + ONE_DAY and time < end)


def is_on_duty(
    windows: Iterable[WindowSpec], exceptions: Iterable[ExceptionSpec], local: dt.datetime
) -> bool:
    """The rule for one user at a local (wall-clock) date and time.

    On duty when a weekly window covers the moment and no ``off`` exception does, or when an
    ``on`` exception covers it (the dated, more specific statement wins).
    """
    day, time = local.date(), local.time().replace(tzinfo=None)
    exceptions = list(exceptions)
    if any(
        e.kind == "on" and covers(e.on_date, e.start, e.end, day, time) for e in exceptions
    ):
        return True
    # A window anchored yesterday may still be running if it crosses midnight.
    weekly = any(
        covers(anchor, w.start, w.end, day, time)
        for w in windows
        for anchor in (day, day - ONE_DAY)
        if anchor.weekday() == w.weekday
    )
    if not weekly:
        return False
    return not any(
        e.kind == "off" and covers(e.on_date, e.start, e.end, day, time) for e in exceptions
    )


# -- validation ----------------------------------------------------------------------------------


# Files of some zoneinfo directories that are not zones of the IANA database: "localtime" is
# the server's own zone, which would make a schedule mean different things per deployment.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _NOT_ZONES


@functools.lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def check_time_zone(name: str) -> str:
    # Only names of the IANA database: ZoneInfo alone would also accept other files of the
    # zoneinfo directory, and raises different errors for malformed keys.
    if not isinstance(name, str) or name not in _zone_names():
        raise InvalidInput(
            "%(name)r is not an IANA time zone name (for example Europe/Paris)", "time_zone",
            params={"name": name},
        )
    return name


def _check_exception(spec: ExceptionSpec) -> None:
    if spec.kind not in EXCEPTION_KINDS:
        raise InvalidInput("kind must be one of off, on", "kind")
    if (spec.start is None) != (spec.end is None):
        raise InvalidInput("give both start and end, or neither", "start")
    if spec.kind == "on" and spec.start is None:
        raise InvalidInput("an 'on' exception needs a start and an end", "start")
    if spec.note is not None and len(spec.note) > 200:
        raise InvalidInput("note is longer than 200 characters", "note")


def _check_window(spec: WindowSpec) -> None:
    if not 0 <= spec.weekday <= 6:
        raise InvalidInput("weekday must be monday to sunday", "weekday")


def _naive(t: dt.time | None) -> dt.time | None:
    # Times are wall-clock times of the schedule's zone: a zone on the time itself is dropped.
    return None if t is None else t.replace(tzinfo=None, microsecond=0)


# -- schedules -----------------------------------------------------------------------------------


def _user(session: Session, account: Account, user_id: str) -> User:
    user = session.get(User, user_id) if isinstance(user_id, str) and len(user_id) <= 32 else None
    if user is None or user.account_id != account.id or user.status == "deleted":
        raise NotFound("no user %(id)s", {"id": user_id})
    return user


def get_schedule(session: Session, account: Account, user_id: str) -> ScheduleView:
    """The user's schedule; a user without one gets an empty view (never on duty)."""
    _user(session, account, user_id)
    schedule = session.get(DutySchedule, user_id)
    if schedule is None:
        return ScheduleView(user_id, None, [], [])
    windows = session.scalars(
        select(DutyWindow)
        .where(DutyWindow.user_id == user_id)
        .order_by(DutyWindow.weekday, DutyWindow.start_time, DutyWindow.id)
    ).all()
    exceptions = session.scalars(
        select(DutyException)
        .where(DutyException.user_id == user_id)
        .order_by(DutyException.on_date, DutyException.start_time, DutyException.id)
    ).all()
    return ScheduleView(user_id, schedule.time_zone, list(windows), list(exceptions))


def _summary(view: ScheduleView) -> dict[str, object]:
    return {
        "time_zone": view.time_zone,
        "windows": len(view.windows),
        "exceptions": len(view.exceptions),
    }


def set_schedule(
    session: Session,
    account: Account,
    user_id: str,
    *,
    time_zone: str,
    windows: Sequence[WindowSpec],
    exceptions: Sequence[ExceptionSpec] | None = None,
    actor: Actor,
    clock: Clock = utcnow,
) -> ScheduleView:
    """Replace the user's schedule: its zone and weekly windows, and its exceptions when given
    (``None`` keeps the existing ones)."""
    _user(session, account, user_id)
    check_time_zone(time_zone)
    if len(windows) > MAX_WINDOWS:
        raise InvalidInput("at most %(n)s windows", "windows", params={"n": MAX_WINDOWS})
    for w in windows:
        _check_window(w)
    if exceptions is not None:
        if len(exceptions) > MAX_EXCEPTIONS:
            raise InvalidInput("at most %(n)s exceptions", "exceptions",
                               params={"n": MAX_EXCEPTIONS})
        for e in exceptions:
            _check_exception(e)
    before = get_schedule(session, account, user_id)
    schedule = session.get(DutySchedule, user_id)
    if schedule is None:
        schedule = DutySchedule(user_id=user_id, account_id=account.id)
        session.add(schedule)
    schedule.time_zone = time_zone
    schedule.modified_at = clock()
    session.flush()
    session.execute(delete(DutyWindow).where(DutyWindow.user_id == user_id))
    session.add_all(
        DutyWindow(
            account_id=account.id,
            user_id=user_id,
            weekday=w.weekday,
            start_time=_naive(w.start),
            end_time=_naive(w.end),
        )
        for w in windows
    )
    if exceptions is not None:
        session.execute(delete(DutyException).where(DutyException.user_id == user_id))
        session.add_all(_exception_row(account, user_id, e) for e in exceptions)
    session.flush()
    after = get_schedule(session, account, user_id)
    record_audit(
        session, account, actor=actor, action="duty.set", target_type="user", target_id=user_id,
        before=_summary(before), after=_summary(after), clock=clock,
    )
    return after


def delete_schedule(
    session: Session, account: Account, user_id: str, *, actor: Actor, clock: Clock = utcnow
) -> None:
    _user(session, account, user_id)
    schedule = session.get(DutySchedule, user_id)
    if schedule is None:
        raise NotFound("user %(id)s has no duty schedule", {"id": user_id})
    before = get_schedule(session, account, user_id)
    # Bulk deletes, not the ORM cascade: the windows are not loaded as relationships.
    session.execute(delete(DutyWindow).where(DutyWindow.user_id == user_id))
    session.execute(delete(DutyException).where(DutyException.user_id == user_id))
    session.delete(schedule)
    session.flush()
    record_audit(
        session, account, actor=actor, action="duty.delete", target_type="user",
        target_id=user_id, before=_summary(before), after=None, clock=clock,
    )


def _schedule_or_404(session: Session, account: Account, user_id: str) -> DutySchedule:
    _user(session, account, user_id)
    schedule = session.get(DutySchedule, user_id)
    if schedule is None:
        raise NotFound("user %(id)s has no duty schedule; PUT one first", {"id": user_id})
    return schedule


def add_window(
    session: Session, account: Account, user_id: str, spec: WindowSpec, *, actor: Actor,
    clock: Clock = utcnow,
) -> DutyWindow:
    _schedule_or_404(session, account, user_id)
    _check_window(spec)
    count = session.scalar(
        select(func.count()).select_from(DutyWindow).where(DutyWindow.user_id == user_id)
    )
    if (count or 0) >= MAX_WINDOWS:
        raise InvalidInput("at most %(n)s windows", "windows", params={"n": MAX_WINDOWS})
    row = DutyWindow(
        account_id=account.id, user_id=user_id, weekday=spec.weekday,
        start_time=_naive(spec.start), end_time=_naive(spec.end),
    )
    session.add(row)
    session.flush()
    record_audit(
        session, account, actor=actor, action="duty.window_add", target_type="user",
        target_id=user_id, before=None,
        after={"window": row.id, "weekday": WEEKDAYS[spec.weekday],
               "start": row.start_time.isoformat(), "end": row.end_time.isoformat()},
        clock=clock,
    )
    return row


def remove_window(
    session: Session, account: Account, user_id: str, window_id: str, *, actor: Actor,
    clock: Clock = utcnow,
) -> None:
    _schedule_or_404(session, account, user_id)
    row = session.get(DutyWindow, window_id) if len(window_id) <= 32 else None
    if row is None or row.user_id != user_id or row.account_id != account.id:
        raise NotFound("no window %(id)s in this schedule", {"id": window_id})
    session.delete(row)
    session.flush()
    record_audit(
        session, account, actor=actor, action="duty.window_remove", target_type="user",
        target_id=user_id, before={"window": window_id}, after=None, clock=clock,
    )


def _exception_row(account: Account, user_id: str, spec: ExceptionSpec) -> DutyException:
    return DutyException(
        account_id=account.id, user_id=user_id, on_date=spec.on_date, kind=spec.kind,
        start_time=_naive(spec.start), end_time=_naive(spec.end), note=spec.note,
    )


def add_exception(
    session: Session, account: Account, user_id: str, spec: ExceptionSpec, *, actor: Actor,
    clock: Clock = utcnow,
) -> DutyException:
    _schedule_or_404(session, account, user_id)
    _check_exception(spec)
    count = session.scalar(
        select(func.count()).select_from(DutyException).where(DutyException.user_id == user_id)
    )
    if (count or 0) >= MAX_EXCEPTIONS:
        raise InvalidInput("at most %(n)s exceptions", "exceptions",
                               params={"n": MAX_EXCEPTIONS})
    row = _exception_row(account, user_id, spec)
    session.add(row)
    session.flush()
    record_audit(
        session, account, actor=actor, action="duty.exception_add", target_type="user",
        target_id=user_id, before=None,
        after={"exception": row.id, "on_date": spec.on_date.isoformat(), "kind": spec.kind},
        clock=clock,
    )
    return row


def remove_exception(
    session: Session, account: Account, user_id: str, exception_id: str, *, actor: Actor,
    clock: Clock = utcnow,
) -> None:
    _schedule_or_404(session, account, user_id)
    row = session.get(DutyException, exception_id) if len(exception_id) <= 32 else None
    if row is None or row.user_id != user_id or row.account_id != account.id:
        raise NotFound("no exception %(id)s in this schedule", {"id": exception_id})
    session.delete(row)
    session.flush()
    record_audit(
        session, account, actor=actor, action="duty.exception_remove", target_type="user",
        target_id=user_id, before={"exception": exception_id}, after=None, clock=clock,
    )


# -- who is on duty ------------------------------------------------------------------------------


def on_duty_at(session: Session, account: Account, instant: dt.datetime) -> list[OnDutyEntry]:
    """Active users on duty at ``instant`` (an aware datetime), by display name.

    Two queries whatever the account's size, each bounded to the rows that can matter: a
    local date is within a day of the UTC date in every zone (offsets span -12h..+14h), and a
    window anchored on the day before may still run, so only those weekdays and dates are read.
    The rule itself is then applied per schedule row in Python, where zoneinfo lives.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidInput("the instant needs a time zone offset", "at")
    utc_day = instant.astimezone(dt.UTC).date()
    days = [utc_day + dt.timedelta(days=n) for n in (-2, -1, 0, 1)]
    weekdays = sorted({d.weekday() for d in days})
    active = (User.id == DutySchedule.user_id) & (User.status == "active")

    windows: dict[str, list[WindowSpec]] = defaultdict(list)
    exceptions: dict[str, list[ExceptionSpec]] = defaultdict(list)
    who: dict[str, tuple[str, str | None, str]] = {}
    for user_id, tz, name, user_type, weekday, start, end in session.execute(
        select(
            DutyWindow.user_id, DutySchedule.time_zone, User.display_name, User.user_type,
            DutyWindow.weekday, DutyWindow.start_time, DutyWindow.end_time,
        )
        .join(DutySchedule, DutySchedule.user_id == DutyWindow.user_id)
        .join(User, active)
        .where(DutyWindow.account_id == account.id, DutyWindow.weekday.in_(weekdays))
    ):
        who[user_id] = (tz, name, user_type)
        windows[user_id].append(WindowSpec(weekday, start, end))
    for user_id, tz, name, user_type, on_date, kind, e_start, e_end in session.execute(
        select(
            DutyException.user_id, DutySchedule.time_zone, User.display_name, User.user_type,
            DutyException.on_date, DutyException.kind, DutyException.start_time,
            DutyException.end_time,
        )
        .join(DutySchedule, DutySchedule.user_id == DutyException.user_id)
        .join(User, active)
        .where(
            DutyException.account_id == account.id,
            DutyException.on_date.between(days[0], days[-1]),
        )
    ):
        who[user_id] = (tz, name, user_type)
        exceptions[user_id].append(ExceptionSpec(on_date, kind, e_start, e_end))

    entries = []
    for user_id, (tz, name, user_type) in who.items():
        try:
            local = instant.astimezone(zone(tz))
        except (ZoneInfoNotFoundError, ValueError):
            # A zone dropped from a newer tz database: such a schedule cannot be evaluated.
            continue
        if is_on_duty(windows.get(user_id, ()), exceptions.get(user_id, ()), local):
            entries.append(OnDutyEntry(user_id, name, user_type, tz, local))
    entries.sort(key=lambda e: ((e.display_name or "").casefold(), e.user_id))
    return entries


@dataclass(frozen=True)
class ScheduleBrief:
    user_id: str
    display_name: str | None
    email: str | None
    time_zone: str
    windows: int
    exceptions: int


def list_schedules(session: Session, account: Account, *, limit: int = 50,
                   offset: int = 0) -> tuple[int, list[ScheduleBrief]]:
    """(total, one page) of the account's duty schedules by holder name, with the number of
    windows and exceptions of each (one grouped query per table, bounded to the page)."""
    mine = (DutySchedule.account_id == account.id, User.id == DutySchedule.user_id,
            User.status != "deleted")
    total = int(session.scalar(select(func.count()).select_from(DutySchedule).join(
        User, User.id == DutySchedule.user_id).where(*mine)) or 0)
    rows = session.execute(
        select(DutySchedule.user_id, User.display_name, User.email, DutySchedule.time_zone)
        .join(User, User.id == DutySchedule.user_id)
        .where(*mine)
        .order_by(User.display_name_key, User.id)
        .limit(limit).offset(offset)
    ).all()
    ids = [r[0] for r in rows]
    counts: dict[type, dict[str, int]] = {}
    for table in (DutyWindow, DutyException):
        counts[table] = dict(session.execute(  # type: ignore[arg-type]
            select(table.user_id, func.count()).where(table.user_id.in_(ids))
            .group_by(table.user_id)
        ).all()) if ids else {}
    return total, [
        ScheduleBrief(uid, name, email, tz, counts[DutyWindow].get(uid, 0),
                      counts[DutyException].get(uid, 0))
        for uid, name, email, tz in rows
    ]
