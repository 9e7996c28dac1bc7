"""The On duty page: who is on duty now, the account's duty schedules, and a schedule's
editor (time zone, weekly windows, dated exceptions).

Reads and writes go through ``scim_server.hub.duty``, the service the admin API's duty
operations call, so the checks and the audit are the same at both doors. Removing a window,
an exception or a whole schedule is confirmed first, on a page that works without JavaScript.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, g, redirect, render_template, request, url_for

from admin_ui import blueprint
from admin_ui.common import (
    actor,
    find_user_by_email,
    flash_done,
    flash_refusal,
    looks_like_email,
    user_label,
)
from admin_ui.i18n import gettext, zone_choices
from admin_ui.security import current
from scim_server.domain.errors import DomainError, InvalidInput, NotFound
from scim_server.hub import duty
from scim_server.storage.hub_tables import EXCEPTION_KINDS, DutyException, DutyWindow
from scim_server.storage.models import User, utcnow

PAGE = 50
Part = TypeVar("Part", DutyWindow, DutyException)
WEEKDAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _offset() -> int:
    try:
        return max(0, min(int(request.args.get("offset") or 0), 10_000_000))
    except ValueError:
        return 0


def _holder_or_404(user_id: str) -> User:
    user = g.db.get(User, user_id) if len(user_id) <= 32 else None
    # Another account's user is "not found", exactly like an id that does not exist.
    if user is None or user.account_id != current().account.id or user.status == "deleted":
        abort(404)
    return user


@blueprint.get("/duty")
def duty_page() -> Any:
    account = current().account
    offset = _offset()
    now = utcnow()
    total, schedules = duty.list_schedules(g.db, account, limit=PAGE, offset=offset)
    return render_template("admin/duty.html", on_duty=duty.on_duty_at(g.db, account, now),
                           now=now, schedules=schedules, total=total, offset=offset, size=PAGE,
                           zones=zone_choices(), shown_targets=["new-schedule"])


@blueprint.post("/duty")
def duty_create() -> Any:
    email = (request.form.get("email") or "").strip()
    zone = (request.form.get("time_zone") or "").strip()[:64]
    user = find_user_by_email(email) if looks_like_email(email) else None
    if user is None:
        flash_refusal(InvalidInput(gettext("No user with that email.")), target="new-schedule")
        return redirect(url_for("admin_ui.duty_page"))
    account = current().account
    try:
        existing = duty.get_schedule(g.db, account, user.id)
        if existing.time_zone is not None:
            raise InvalidInput(gettext("%(name)s already has a duty schedule.",
                                       name=user_label(user)))
        duty.set_schedule(g.db, account, user.id, time_zone=zone, windows=[], actor=actor())
    except DomainError as exc:
        flash_refusal(exc, target="new-schedule")
        return redirect(url_for("admin_ui.duty_page"))
    flash_done(gettext("A duty schedule was created for %(name)s: add its windows.",
                       name=user_label(user)), target="schedule")
    return redirect(url_for("admin_ui.duty_schedule", user_id=user.id))


@blueprint.get("/duty/<user_id>")
def duty_schedule(user_id: str) -> Any:
    user = _holder_or_404(user_id)
    view = duty.get_schedule(g.db, current().account, user_id)
    if view.time_zone is None:
        abort(404)
    return render_template("admin/duty_schedule.html", holder=user, label=user_label(user),
                           view=view, zones=zone_choices(), weekdays=WEEKDAY_LABELS,
                           kinds=EXCEPTION_KINDS, shown_targets=["schedule", "windows",
                                                                 "exceptions"])


def _back(user_id: str) -> Any:
    return redirect(url_for("admin_ui.duty_schedule", user_id=user_id))


def _edit(user_id: str, target: str, done: str, change: Callable[[], object]) -> Any:
    """One change in the schedule's editor: a refusal (a bad field too) shows in the section of
    its form, a success as a notice there; either way the editor comes back."""
    try:
        change()
    except DomainError as exc:
        flash_refusal(exc, target=target)
    else:
        flash_done(done, target=target)
    return _back(user_id)


def _time(name: str, *, required: bool) -> dt.time | None:
    raw = (request.form.get(name) or "").strip()
    if not raw and not required:
        return None
    try:
        return dt.time.fromisoformat(raw[:8])
    except ValueError:
        raise InvalidInput(gettext("Enter a time as HH:MM."), field=name) from None


@blueprint.post("/duty/<user_id>/zone")
def duty_zone(user_id: str) -> Any:
    _holder_or_404(user_id)
    account = current().account
    view = duty.get_schedule(g.db, account, user_id)
    if view.time_zone is None:
        abort(404)
    windows = [duty.WindowSpec(w.weekday, w.start_time, w.end_time) for w in view.windows]
    return _edit(user_id, "schedule", gettext("The time zone was changed."), lambda: (
        duty.set_schedule(g.db, account, user_id, windows=windows, actor=actor(),
                          time_zone=(request.form.get("time_zone") or "").strip()[:64])))


@blueprint.post("/duty/<user_id>/windows")
def duty_add_window(user_id: str) -> Any:
    _holder_or_404(user_id)

    def add() -> None:
        day = int(request.form.get("weekday") or "-1")
        if not 0 <= day <= 6:
            raise InvalidInput(gettext("Choose a day of the week."), field="weekday")
        spec = duty.WindowSpec(day, _time("start", required=True),  # type: ignore[arg-type]
                               _time("end", required=True))  # type: ignore[arg-type]
        duty.add_window(g.db, current().account, user_id, spec, actor=actor())

    return _edit(user_id, "windows", gettext("The window was added."), add)


@blueprint.post("/duty/<user_id>/exceptions")
def duty_add_exception(user_id: str) -> Any:
    _holder_or_404(user_id)

    def add() -> None:
        try:
            on_date = dt.date.fromisoformat((request.form.get("date") or "").strip()[:10])
        except ValueError:
            raise InvalidInput(gettext("Enter a date."), field="date") from None
        kind = request.form.get("kind") or ""
        if kind not in EXCEPTION_KINDS:
            raise InvalidInput(gettext("Choose off or on duty."), field="kind")
        note = (request.form.get("note") or "").strip()[:200] or None
        spec = duty.ExceptionSpec(on_date, kind, _time("start", required=False),
                                  _time("end", required=False), note)
        duty.add_exception(g.db, current().account, user_id, spec, actor=actor())

    return _edit(user_id, "exceptions", gettext("The exception was added."), add)


# --- removals, confirmed first --------------------------------------------------------------

def _part_or_404(model: type[Part], user_id: str, part_id: str) -> Part:
    """A window or an exception of this user's schedule in this account, else 404."""
    row = g.db.get(model, part_id) if len(part_id) <= 32 else None
    if row is None or row.user_id != user_id or row.account_id != current().account.id:
        abort(404)
    return row


def _window(user_id: str, window_id: str) -> DutyWindow:
    return _part_or_404(DutyWindow, user_id, window_id)


def _exception(user_id: str, exception_id: str) -> DutyException:
    return _part_or_404(DutyException, user_id, exception_id)


def _confirm(user: User, what: str, consequence: str) -> Any:
    return render_template("admin/duty_remove.html", holder=user, label=user_label(user),
                           what=what, consequence=consequence)


def _window_text(row: DutyWindow) -> str:
    return gettext("%(day)s %(start)s–%(end)s", day=gettext(WEEKDAY_LABELS[row.weekday]),
                   start=row.start_time.strftime("%H:%M"), end=row.end_time.strftime("%H:%M"))


@blueprint.get("/duty/<user_id>/windows/<window_id>/remove")
def duty_confirm_remove_window(user_id: str, window_id: str) -> Any:
    user = _holder_or_404(user_id)
    row = _window(user_id, window_id)
    return _confirm(user, gettext("Remove the window %(window)s", window=_window_text(row)),
                    gettext("%(name)s will no longer be on duty in this weekly window.",
                            name=user_label(user)))


@blueprint.post("/duty/<user_id>/windows/<window_id>/remove")
def duty_remove_window(user_id: str, window_id: str) -> Any:
    user = _holder_or_404(user_id)
    text = _window_text(_window(user_id, window_id))
    duty.remove_window(g.db, current().account, user_id, window_id, actor=actor())
    flash_done(gettext("The window %(window)s of %(name)s was removed.", window=text,
                       name=user_label(user)), target="windows")
    return _back(user_id)


@blueprint.get("/duty/<user_id>/exceptions/<exception_id>/remove")
def duty_confirm_remove_exception(user_id: str, exception_id: str) -> Any:
    user = _holder_or_404(user_id)
    row = _exception(user_id, exception_id)
    return _confirm(user, gettext("Remove the exception of %(date)s",
                                  date=row.on_date.isoformat()),
                    gettext("The weekly windows of %(name)s apply again on that date.",
                            name=user_label(user)))


@blueprint.post("/duty/<user_id>/exceptions/<exception_id>/remove")
def duty_remove_exception(user_id: str, exception_id: str) -> Any:
    user = _holder_or_404(user_id)
    row = _exception(user_id, exception_id)
    on_date = row.on_date.isoformat()
    duty.remove_exception(g.db, current().account, user_id, exception_id, actor=actor())
    flash_done(gettext("The exception of %(date)s of %(name)s was removed.", date=on_date,
                       name=user_label(user)), target="exceptions")
    return _back(user_id)


@blueprint.get("/duty/<user_id>/remove")
def duty_confirm_remove_schedule(user_id: str) -> Any:
    user = _holder_or_404(user_id)
    if duty.get_schedule(g.db, current().account, user_id).time_zone is None:
        abort(404)
    return _confirm(user, gettext("Remove the duty schedule of %(name)s", name=user_label(user)),
                    gettext("%(name)s will no longer be on duty at any time; the windows and "
                            "exceptions of the schedule are deleted.", name=user_label(user)))


@blueprint.post("/duty/<user_id>/remove")
def duty_remove_schedule(user_id: str) -> Any:
    user = _holder_or_404(user_id)
    try:
        duty.delete_schedule(g.db, current().account, user_id, actor=actor())
    except NotFound:
        abort(404)
    flash_done(gettext("The duty schedule of %(name)s was removed.", name=user_label(user)),
               target="new-schedule")
    return redirect(url_for("admin_ui.duty_page"))
