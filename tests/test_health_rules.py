"""The pure rules of medical appointments: schedules in the city's time, release times,
tickets and who may book what."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infocity.health import errors, rules

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def every_day(start: time, end: time, **kwargs: object) -> list[rules.WeeklyRule]:
    return [
        rules.WeeklyRule(weekday=d, start=start, end=end, valid_from=date(2020, 1, 1), **kwargs)  # type: ignore[arg-type]
        for d in range(7)
    ]


def test_there_are_nineteen_specialties_nine_of_them_direct() -> None:
    assert len(rules.SPECIALTIES) == 19
    assert len({s.code for s in rules.SPECIALTIES}) == 19
    assert sum(s.booking_mode == "direct" for s in rules.SPECIALTIES) == 9


def test_eight_in_the_morning_in_moscow_is_five_utc() -> None:
    planned = rules.plan_slots(
        date(2025, 3, 10), date(2025, 3, 10), every_day(time(8), time(9)), [],
        default_minutes=15, tz=MOSCOW,
    )  # fmt: skip
    assert [p.starts_at for p in planned] == [
        datetime(2025, 3, 10, 5, 0, tzinfo=UTC),
        datetime(2025, 3, 10, 5, 15, tzinfo=UTC),
        datetime(2025, 3, 10, 5, 30, tzinfo=UTC),
        datetime(2025, 3, 10, 5, 45, tzinfo=UTC),
    ]
    assert [p.seq for p in planned] == [1, 2, 3, 4]


def test_berlin_schedule_keeps_its_wall_clock_across_the_march_change() -> None:
    # Clocks go forward on Sunday 30 March 2025 at 02:00 in Berlin.
    planned = rules.plan_slots(
        date(2025, 3, 29), date(2025, 3, 31), every_day(time(8), time(8, 30)), [],
        default_minutes=30, tz=BERLIN,
    )  # fmt: skip
    assert [p.starts_at for p in planned] == [
        datetime(2025, 3, 29, 7, 0, tzinfo=UTC),  # CET, UTC+1
        datetime(2025, 3, 30, 6, 0, tzinfo=UTC),  # CEST, UTC+2
        datetime(2025, 3, 31, 6, 0, tzinfo=UTC),
    ]


def test_wall_clock_times_that_do_not_exist_are_skipped() -> None:
    planned = rules.plan_slots(
        date(2025, 3, 30), date(2025, 3, 30), every_day(time(1, 30), time(3, 30)), [],
        default_minutes=30, tz=BERLIN,
    )  # fmt: skip
    local = [p.starts_at.astimezone(BERLIN).strftime("%H:%M") for p in planned]
    assert local == ["01:30", "03:00"]  # 02:00 and 02:30 never happen that night


def test_the_repeated_hour_of_the_october_change_is_booked_once() -> None:
    planned = rules.plan_slots(
        date(2025, 10, 26), date(2025, 10, 26), every_day(time(1, 30), time(3, 30)), [],
        default_minutes=30, tz=BERLIN,
    )  # fmt: skip
    for earlier, later in itertools.pairwise(planned):
        assert earlier.ends_at <= later.starts_at


def test_breaks_and_absences_take_out_slots_and_extra_hours_add_them() -> None:
    day = date(2025, 6, 2)
    weekly = every_day(time(9), time(11), break_start=time(9, 30), break_end=time(10))
    absence = rules.Override("sick_leave", day, day, time(10, 30), time(11))
    extra = rules.Override("extra_hours", day, day, time(18), time(18, 30))
    intervals = rules.day_intervals(day, weekly, [absence, extra], 30)
    assert intervals == [(time(9), time(9, 30)), (time(10), time(10, 30)), (time(18), time(18, 30))]
    vacation = rules.Override("vacation", day, day + timedelta(days=3))
    assert rules.day_intervals(day, weekly, [vacation], 30) == []


def test_rules_outside_their_validity_give_nothing() -> None:
    rule = rules.WeeklyRule(0, time(9), time(10), valid_from=date(2025, 6, 9))
    assert rules.day_intervals(date(2025, 6, 2), [rule], [], 15) == []  # a Monday before
    assert len(rules.day_intervals(date(2025, 6, 9), [rule], [], 15)) == 4


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(["Europe/Moscow", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    first=st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 12, 31)),
    days=st.integers(min_value=0, max_value=9),
    start_minutes=st.integers(min_value=0, max_value=22 * 60),
    length=st.integers(min_value=15, max_value=12 * 60),
    minutes=st.sampled_from([5, 10, 15, 20, 30, 45]),
)
def test_planned_slots_never_overlap_and_keep_their_wall_clock(
    zone: str, first: date, days: int, start_minutes: int, length: int, minutes: int
) -> None:
    tz = ZoneInfo(zone)
    end_minutes = min(start_minutes + length, 24 * 60 - 1)
    start = time(start_minutes // 60, start_minutes % 60)
    end = time(end_minutes // 60, end_minutes % 60)
    planned = rules.plan_slots(
        first, first + timedelta(days=days), every_day(start, end), [],
        default_minutes=minutes, tz=tz,
    )  # fmt: skip
    for earlier, later in itertools.pairwise(planned):
        assert earlier.ends_at <= later.starts_at
    for slot in planned:
        local = slot.starts_at.astimezone(tz)
        assert local.date() == slot.day
        assert start <= local.time() < end
        assert slot.ends_at - slot.starts_at == timedelta(minutes=minutes)


def test_a_day_opens_at_release_time_horizon_days_before() -> None:
    opens = rules.release_at(date(2025, 3, 24), horizon_days=14, release_time=time(8), tz=MOSCOW)
    assert opens == datetime(2025, 3, 10, 5, 0, tzinfo=UTC)


def test_ticket_numbers_show_day_doctor_and_place_in_the_queue() -> None:
    assert rules.ticket_code(12, date(2025, 3, 14), 7) == "1403-0012-07"


def facts(**changes: object) -> rules.BookingFacts:
    base: dict[str, object] = {
        "booking_mode": "direct",
        "audience": "any",
        "clinic_kind": "adult",
        "attached": True,
        "birth_date": date(1980, 1, 1),
        "slot_day": date(2025, 6, 1),
        "has_referral": False,
    }
    return rules.BookingFacts(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "refusal"),
    [
        ({}, None),
        ({"attached": False}, errors.NotAttached),
        ({"attached": False, "has_referral": True}, None),
        ({"booking_mode": "referral"}, errors.ReferralRequired),
        ({"booking_mode": "referral", "attached": False, "has_referral": True}, None),
        ({"birth_date": None}, errors.BirthDateRequired),
        ({"birth_date": date(2015, 1, 1)}, errors.AgeNotServed),  # a child, adult clinic
        ({"birth_date": date(2015, 1, 1), "clinic_kind": "children"}, None),
        ({"birth_date": date(2015, 1, 1), "clinic_kind": "children", "audience": "adult"},
         errors.AgeNotServed),
        ({"audience": "child"}, errors.AgeNotServed),
        # 18 on the day of the visit: an adult.
        ({"birth_date": date(2007, 6, 1)}, None),
        ({"birth_date": date(2007, 6, 2)}, errors.AgeNotServed),
    ],
)  # fmt: skip
def test_who_may_book(changes: dict[str, object], refusal: type[Exception] | None) -> None:
    if refusal is None:
        rules.check_booking(facts(**changes))
    else:
        with pytest.raises(refusal):
            rules.check_booking(facts(**changes))


def test_why_a_slot_was_not_taken() -> None:
    now = datetime(2025, 6, 1, 9, tzinfo=UTC)
    later, earlier = now + timedelta(hours=1), now - timedelta(hours=1)
    assert rules.why_not_bookable(rules.SlotState("free", earlier, earlier), now) == "slot_in_past"
    assert rules.why_not_bookable(rules.SlotState("booked", later, earlier), now) == "slot_taken"
    assert rules.why_not_bookable(rules.SlotState("held", later, earlier), now) == "slot_held"
    assert rules.why_not_bookable(rules.SlotState("free", later, later), now) == "slot_not_released"
    assert rules.why_not_bookable(rules.SlotState("free", later, earlier), now) is None


def test_attachment_changes_once_a_year() -> None:
    since = datetime(2025, 1, 10, tzinfo=UTC)
    assert rules.next_attachment_change(since) == since + timedelta(days=365)
    assert rules.next_attachment_change(None) is None


def test_schedule_times_are_checked() -> None:
    with pytest.raises(errors.InvalidSchedule):
        rules.check_times(time(10), time(9))
    with pytest.raises(errors.InvalidSchedule):
        rules.check_times(time(9), time(12), time(8), time(9, 30))
    with pytest.raises(errors.InvalidSchedule):
        rules.check_times(time(9), time(12), time(10), None)
    rules.check_times(time(9), time(12), time(10), time(10, 30), 15)
