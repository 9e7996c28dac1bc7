"""The on-duty rule (windows across midnight, exceptions, daylight-saving changes) and the
schedule services' validation."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from scim_server.domain.actors import Actor
from scim_server.domain.errors import InvalidInput, NotFound
from scim_server.hub import duty
from scim_server.hub.duty import ExceptionSpec, WindowSpec, is_on_duty, on_duty_at
from tests.domain.factories import make_account, make_user
from tests.hub.world import NOW, World, t

PARIS = ZoneInfo("Europe/Paris")
MON, TUE, SUN = 0, 1, 6
NIGHT = [WindowSpec(SUN, t(22), t(6))]  # Sunday 22:00 to Monday 06:00
ACTOR = Actor(door="api", client="tests")


def local(y: int, m: int, d: int, h: int, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, mi, tzinfo=PARIS)


# -- the rule, in local time ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (local(2025, 3, 23, 21, 59), False),  # Sunday, before the window
        (local(2025, 3, 23, 22, 0), True),  # start is inclusive
        (local(2025, 3, 24, 0, 0), True),  # midnight, now Monday
        (local(2025, 3, 24, 5, 59), True),
        (local(2025, 3, 24, 6, 0), False),  # end is exclusive
        (local(2025, 3, 24, 22, 30), False),  # Monday night: the window is Sunday's
    ],
)
def test_a_window_across_midnight(when: dt.datetime, expected: bool) -> None:
    assert is_on_duty(NIGHT, [], when) is expected


def test_equal_start_and_end_is_a_whole_day() -> None:
    day = [WindowSpec(MON, t(8), t(8))]
    assert is_on_duty(day, [], local(2025, 3, 24, 8))
    assert is_on_duty(day, [], local(2025, 3, 25, 7, 59))
    assert not is_on_duty(day, [], local(2025, 3, 25, 8))


def test_off_exceptions_win_over_windows_and_on_exceptions_over_both() -> None:
    office = [WindowSpec(MON, t(9), t(17))]
    monday = dt.date(2025, 3, 24)
    whole_day_off = [ExceptionSpec(monday, "off")]
    assert not is_on_duty(office, whole_day_off, local(2025, 3, 24, 10))
    lunch_off = [ExceptionSpec(monday, "off", t(12), t(13))]
    assert not is_on_duty(office, lunch_off, local(2025, 3, 24, 12, 30))
    assert is_on_duty(office, lunch_off, local(2025, 3, 24, 13))
    # A dated "on" span both extends the day and overrides an "off" for the same moment.
    late = [ExceptionSpec(monday, "off"), ExceptionSpec(monday, "on", t(20), t(2))]
    assert not is_on_duty(office, late, local(2025, 3, 24, 10))
    assert is_on_duty(office, late, local(2025, 3, 24, 21))
    assert is_on_duty(office, late, local(2025, 3, 25, 1, 59))  # the "on" span crosses midnight


def test_an_off_day_cuts_the_tail_of_the_previous_nights_window() -> None:
    monday_off = [ExceptionSpec(dt.date(2025, 3, 24), "off")]
    assert is_on_duty(NIGHT, monday_off, local(2025, 3, 23, 23))
    assert not is_on_duty(NIGHT, monday_off, local(2025, 3, 24, 1))


# -- daylight saving, from instants ---------------------------------------------------------------


def _on(session: Session, account_name: str, instant: dt.datetime) -> list[str]:
    from sqlalchemy import select

    from scim_server.storage.models import Account

    account = session.scalars(select(Account).where(Account.name == account_name)).one()
    return sorted(e.display_name or "" for e in on_duty_at(session, account, instant))


def test_on_duty_in_the_hand_counted_account(session: Session, world: World) -> None:
    entries = on_duty_at(session, world.account, NOW)
    assert [e.display_name for e in entries] == ["Alice", "Bob", "Erin"]
    alice = entries[0]
    # 07:30 UTC is 09:30 in Paris the day after the spring change (it would be 08:30 in CET).
    assert (alice.time_zone, alice.local_time.hour, alice.local_time.minute) == (
        "Europe/Paris", 9, 30,
    )


@pytest.fixture
def paris_office(session: Session) -> str:
    """A Paris user on duty Monday to Sunday 09:00-17:00, and another on 02:00-03:00 Sundays."""
    account = make_account(session, "paris")
    office = make_user(session, account, "office")
    duty.set_schedule(session, account, office.id, time_zone="Europe/Paris",
                      windows=[WindowSpec(d, t(9), t(17)) for d in range(7)], actor=ACTOR)
    gap = make_user(session, account, "gap")
    duty.set_schedule(session, account, gap.id, time_zone="Europe/Paris",
                      windows=[WindowSpec(SUN, t(2), t(3))], actor=ACTOR)
    session.commit()
    return "paris"


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        # Winter (CET, +01:00): 09:00 local is 08:00 UTC.
        (dt.datetime(2025, 3, 28, 7, 59, tzinfo=dt.UTC), []),
        (dt.datetime(2025, 3, 28, 8, 0, tzinfo=dt.UTC), ["Office"]),
        # Summer (CEST, +02:00) from Sunday 30 March: 09:00 local is 07:00 UTC.
        (dt.datetime(2025, 3, 31, 7, 0, tzinfo=dt.UTC), ["Office"]),
        (dt.datetime(2025, 3, 31, 14, 59, tzinfo=dt.UTC), ["Office"]),
        (dt.datetime(2025, 3, 31, 15, 0, tzinfo=dt.UTC), []),
        # 02:00-03:00 does not exist on the day of the change: nobody is in the gap window.
        (dt.datetime(2025, 3, 30, 0, 59, tzinfo=dt.UTC), []),  # 01:59 CET
        (dt.datetime(2025, 3, 30, 1, 0, tzinfo=dt.UTC), []),  # 03:00 CEST
        # A week earlier it is an ordinary hour: 02:30 CET is 01:30 UTC.
        (dt.datetime(2025, 3, 23, 1, 30, tzinfo=dt.UTC), ["Gap"]),
        # Autumn: 02:00-03:00 happens twice on Sunday 26 October, and both count.
        (dt.datetime(2025, 10, 26, 0, 30, tzinfo=dt.UTC), ["Gap"]),  # 02:30 CEST
        (dt.datetime(2025, 10, 26, 1, 30, tzinfo=dt.UTC), ["Gap"]),  # 02:30 CET
    ],
)
def test_daylight_saving_changes(
    session: Session, paris_office: str, instant: dt.datetime, expected: list[str]
) -> None:
    assert _on(session, paris_office, instant) == expected


def test_an_instant_without_offset_is_refused(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput):
        on_duty_at(session, world.account, dt.datetime(2025, 3, 31, 7, 30))


# -- schedule services ---------------------------------------------------------------------------


def test_set_and_read_a_schedule(session: Session, world: World) -> None:
    gina = world.users["gina"]
    view = duty.set_schedule(
        session, world.account, gina.id, time_zone="Asia/Kolkata",
        windows=[WindowSpec(TUE, t(23), t(7))],
        exceptions=[ExceptionSpec(dt.date(2025, 4, 1), "off")], actor=ACTOR,
    )
    assert view.time_zone == "Asia/Kolkata"
    assert [(w.weekday, w.start_time, w.end_time) for w in view.windows] == [(TUE, t(23), t(7))]
    # Setting the windows again without exceptions keeps the exceptions.
    view = duty.set_schedule(session, world.account, gina.id, time_zone="UTC", windows=[],
                             actor=ACTOR)
    assert (view.time_zone, view.windows, len(view.exceptions)) == ("UTC", [], 1)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "../../etc/passwd", "", "localtime", "+02:00"])
def test_unknown_time_zones_are_refused(session: Session, world: World, zone: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        duty.set_schedule(session, world.account, world.users["gina"].id, time_zone=zone,
                          windows=[], actor=ACTOR)
    assert excinfo.value.field == "time_zone"


def test_another_accounts_user_is_not_found(session: Session, world: World) -> None:
    stranger = make_user(session, world.other, "intruder")
    with pytest.raises(NotFound):
        duty.get_schedule(session, world.account, stranger.id)
    with pytest.raises(NotFound):
        duty.set_schedule(session, world.account, stranger.id, time_zone="UTC", windows=[],
                          actor=ACTOR)


def test_a_deleted_user_has_no_schedule(session: Session, world: World) -> None:
    with pytest.raises(NotFound):
        duty.get_schedule(session, world.account, world.users["hank"].id)


def test_an_on_exception_needs_times(session: Session, world: World) -> None:
    with pytest.raises(InvalidInput):
        duty.add_exception(session, world.account, world.users["alice"].id,
                           ExceptionSpec(dt.date(2025, 4, 1), "on"), actor=ACTOR)
