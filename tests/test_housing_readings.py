"""Linking an apartment and submitting meter readings: the window, the rules, and that
a refusal writes nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from infocity.core.errors import Conflict, InvalidInput, NotFound, RateLimited
from infocity.core.i18n import use_locale
from infocity.housing import errors, rules, service
from infocity.housing.models import ApartmentLink, MeterReading
from infocity.housing.schemas import ApartmentLinkCreate, ReadingCreate
from tests.builders import count_rows, make_citizen
from tests.housing_builders import make_apartment, make_meter, make_operator, resident

# 20 March 2026, noon in Moscow: the window for March (15 March - 3 April) is open.
OPEN = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
# 10 March: between the windows (February's closed on the 3rd, March's opens on the 15th).
CLOSED = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)  # April's window


def submit(citizen, meter_id: int, value: str, *, now: datetime = OPEN, confirm: bool = False):  # type: ignore[no-untyped-def]
    return service.submit_reading(
        citizen.principal,
        ReadingCreate(meter_id=meter_id, value=Decimal(value), confirm=confirm),
        now=now,
    )


# --- The window, unit -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "period"),
    [
        (date(2026, 3, 14), None),
        (date(2026, 3, 15), date(2026, 3, 1)),
        (date(2026, 3, 31), date(2026, 3, 1)),
        (date(2026, 4, 3), date(2026, 3, 1)),
        (date(2026, 4, 4), None),
        (date(2026, 1, 2), date(2025, 12, 1)),
    ],
)
def test_window_from_the_15th_to_the_3rd(today: date, period: date | None) -> None:
    window = rules.open_window(today, 15, 3)
    assert (window.period if window else None) == period


def test_window_within_one_month_and_last_closed_period() -> None:
    assert rules.open_window(date(2026, 3, 22), 20, 25) is not None
    assert rules.open_window(date(2026, 3, 26), 20, 25) is None
    assert rules.last_closed_period(date(2026, 4, 3), 15, 3) == date(2026, 2, 1)
    assert rules.last_closed_period(date(2026, 4, 4), 15, 3) == date(2026, 3, 1)


def test_window_is_judged_on_the_city_calendar() -> None:
    # 14 March 21:30 UTC is already 15 March 00:30 in Moscow.
    assert service.readings_window(now=datetime(2026, 3, 14, 21, 30, tzinfo=UTC)).is_open
    assert not service.readings_window(now=datetime(2026, 3, 14, 20, 30, tzinfo=UTC)).is_open


# --- Linking ------------------------------------------------------------------------------


def test_link_by_payer_code_and_number(database: str) -> None:
    apartment = make_apartment(make_operator(), number="12")
    first, second = make_citizen(), make_citizen()
    for citizen in (first, second):  # several citizens may link one apartment
        linked = service.link_apartment(
            citizen.principal, ApartmentLinkCreate(payer_code=apartment.payer_code, number=" 12 ")
        )
        assert linked.id == apartment.id
        assert [a.id for a in service.list_my_apartments(citizen.principal)] == [apartment.id]
    # Linking again changes nothing.
    service.link_apartment(
        first.principal, ApartmentLinkCreate(payer_code=apartment.payer_code, number="12")
    )
    assert count_rows(ApartmentLink) == 2


def test_wrong_pair_is_refused_and_rate_limited(database: str) -> None:
    apartment = make_apartment(make_operator(), number="12")
    citizen = make_citizen()
    wrong = ApartmentLinkCreate(payer_code=apartment.payer_code, number="13")
    with pytest.raises(InvalidInput) as refused:
        service.link_apartment(citizen.principal, wrong)
    assert refused.value.code == "apartment_not_matched"
    unknown = ApartmentLinkCreate(payer_code="0000000000", number="12")
    with pytest.raises(InvalidInput) as unknown_refused:
        service.link_apartment(citizen.principal, unknown)
    # The same answer for an unknown code: nothing tells which half was wrong.
    assert unknown_refused.value.message == refused.value.message
    for _ in range(8):
        with pytest.raises(InvalidInput):
            service.link_apartment(citizen.principal, wrong)
    right = ApartmentLinkCreate(payer_code=apartment.payer_code, number="12")
    with pytest.raises(RateLimited):
        service.link_apartment(citizen.principal, right)
    assert count_rows(ApartmentLink) == 0
    assert service.list_my_apartments(citizen.principal) == []


def test_another_citizens_apartment_is_not_found(database: str) -> None:
    apartment = make_apartment(make_operator())
    meter = make_meter(apartment.id)
    stranger = make_citizen()
    with pytest.raises(NotFound):
        service.get_apartment_overview(stranger.principal, apartment.id, now=OPEN)
    with pytest.raises(NotFound):
        submit(stranger, meter.id, "5")
    assert count_rows(MeterReading) == 0


# --- Readings -----------------------------------------------------------------------------


def test_reading_in_the_open_window_and_resubmission_replaces_it(database: str) -> None:
    apartment = make_apartment(make_operator(), residents=2)
    meter = make_meter(apartment.id, initial_value=Decimal("100"))
    citizen = resident(apartment)
    first = submit(citizen, meter.id, "105.5")
    assert first.period == date(2026, 3, 1)
    again = submit(citizen, meter.id, "106", now=datetime(2026, 4, 2, 9, 0, tzinfo=UTC))
    assert again.period == date(2026, 3, 1)
    assert again.value == Decimal("106")
    assert count_rows(MeterReading) == 1
    overview = service.get_apartment_overview(citizen.principal, apartment.id, now=OPEN)
    assert [r.value for r in overview.meters[0].readings] == [Decimal("106")]
    assert overview.window.is_open


def test_closed_window_is_refused_and_writes_nothing(database: str) -> None:
    apartment = make_apartment(make_operator())
    meter = make_meter(apartment.id)
    citizen = resident(apartment)
    with pytest.raises(Conflict) as refused:
        submit(citizen, meter.id, "3", now=CLOSED)
    assert refused.value.code == "readings_window_closed"
    assert refused.value.params["opens"] == "15 марта 2026\u202fг."
    assert count_rows(MeterReading) == 0


def test_a_refusal_writes_its_date_in_the_users_language(database: str) -> None:
    apartment = make_apartment(make_operator())
    meter = make_meter(apartment.id)
    overdue = make_meter(apartment.id, verification_due=date(2026, 3, 19))
    citizen = resident(apartment)
    with use_locale("en"):
        with pytest.raises(errors.ReadingsWindowClosed) as closed:
            submit(citizen, meter.id, "3", now=CLOSED)
        with pytest.raises(errors.MeterVerificationOverdue) as unverified:
            submit(citizen, overdue.id, "1")
        assert "The next window opens on March 15, 2026." in closed.value.translated()
        assert "was due for verification on March 19, 2026," in unverified.value.translated()
    with use_locale("ru"):
        with pytest.raises(errors.ReadingsWindowClosed) as closed:
            submit(citizen, meter.id, "3", now=CLOSED)
        assert "С 15 марта 2026\u202fг. начнётся следующий приём." in closed.value.translated()


def test_reading_below_the_last_one_is_refused(database: str) -> None:
    apartment = make_apartment(make_operator())
    meter = make_meter(apartment.id, initial_value=Decimal("10"))
    citizen = resident(apartment)
    with pytest.raises(InvalidInput) as below_initial:
        submit(citizen, meter.id, "9.999")
    assert below_initial.value.code == "reading_below_previous"
    submit(citizen, meter.id, "20")
    with pytest.raises(InvalidInput) as below_march:
        submit(citizen, meter.id, "19", now=LATER)
    assert below_march.value.code == "reading_below_previous"
    assert below_march.value.params == {"value": "19", "previous": "20"}
    assert count_rows(MeterReading) == 1


def test_reading_far_above_the_norm_needs_confirmation(database: str) -> None:
    apartment = make_apartment(make_operator(), residents=2)
    meter = make_meter(apartment.id, "hot_water")
    citizen = resident(apartment)
    # Hot water: norm 4.745 m³ x 2 residents x factor 3 = 28.47 m³ a month.
    submit(citizen, meter.id, "28.47")
    with pytest.raises(Conflict) as refused:
        submit(citizen, meter.id, "57", now=LATER)
    assert refused.value.code == "reading_needs_confirmation"
    assert refused.value.params == {"consumption": "28.53", "limit": "28.47"}
    assert count_rows(MeterReading) == 1
    confirmed = submit(citizen, meter.id, "57", now=LATER, confirm=True)
    assert confirmed.period == date(2026, 4, 1)
    assert count_rows(MeterReading) == 2


def test_meter_past_verification_is_refused_with_the_reason(database: str) -> None:
    apartment = make_apartment(make_operator())
    meter = make_meter(apartment.id, verification_due=date(2026, 3, 19))
    citizen = resident(apartment)
    with pytest.raises(Conflict) as refused:
        submit(citizen, meter.id, "1")
    assert refused.value.code == "meter_verification_overdue"
    assert refused.value.params["due"] == "19 марта 2026\u202fг."
    assert "verified" in refused.value.message
    assert count_rows(MeterReading) == 0
    overview = service.get_apartment_overview(citizen.principal, apartment.id, now=OPEN)
    assert overview.meters[0].overdue


def test_staff_cannot_submit_readings(database: str) -> None:
    from infocity.core.auth import Role
    from infocity.core.errors import Forbidden
    from tests.builders import make_staff

    operator = make_operator()
    apartment = make_apartment(operator)
    meter = make_meter(apartment.id)
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    with pytest.raises(Forbidden):
        submit(staff, meter.id, "1")
    # The operator does see the apartment it serves.
    assert service.get_apartment_overview(staff.principal, apartment.id, now=OPEN).meters


# --- What a reading may be ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("123", "123"),
        ("123.45", "123.45"),
        ("123,45", "123.45"),
        (" 12 345,6 ", "12345.6"),
        ("12\u00a0345", "12345"),
        ("0,001", "0.001"),
    ],
)
def test_a_reading_is_read_as_a_person_types_it(typed: str, value: str) -> None:
    assert ReadingCreate(meter_id=1, value=typed).value == Decimal(value)


@pytest.mark.parametrize(
    "typed",
    [
        "1e4",
        "7_000",
        "١٢٣",
        "１２３",
        "12.3456",
        "-5",
        "+5",
        "1 23",
        "12.",
        ".5",
        "NaN",
        "Infinity",
        "",
    ],
)
def test_a_reading_that_no_person_types_is_refused(typed: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as refused:
        ReadingCreate(meter_id=1, value=typed)
    assert "Enter the number shown on the meter" in str(refused.value)


def test_a_reading_beyond_what_the_meter_shows_is_refused_even_confirmed(database: str) -> None:
    apartment = make_apartment(make_operator())
    hot = make_meter(apartment.id, "hot_water")
    power = make_meter(apartment.id, "electricity_day")
    citizen = resident(apartment)
    for value in ("999999999.999", "100000"):
        with pytest.raises(InvalidInput) as refused:
            submit(citizen, hot.id, value, confirm=True)
        assert refused.value.code == "reading_out_of_range"
        assert refused.value.params["capacity"] == "99999.999"
    assert count_rows(MeterReading) == 0
    assert submit(citizen, hot.id, "99999.999", confirm=True).value == Decimal("99999.999")
    assert submit(citizen, power.id, "999999", confirm=True).value == Decimal("999999")
    with pytest.raises(InvalidInput) as installed:
        make_meter(apartment.id, "cold_water", initial_value=Decimal("123456"))
    assert (installed.value.code, installed.value.field) == (
        "reading_out_of_range",
        "initial_value",
    )
