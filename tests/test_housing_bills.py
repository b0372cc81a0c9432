"""Monthly bills: tariff x consumption, the norm where no reading came, idempotent
generation, debt, the PDF, the periodic job, and payments imported from a bank's CSV."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import Forbidden, InvalidInput, NotFound
from infocity.core.i18n import use_locale
from infocity.housing import rules, service
from infocity.housing.models import Bill, Payment
from infocity.housing.pdf import bill_pdf
from infocity.housing.schemas import ReadingCreate
from infocity.housing.service import PaymentFileRefused
from tests.builders import count_rows, make_citizen, make_staff
from tests.housing_builders import (
    PRICES,
    make_apartment,
    make_meter,
    make_operator,
    resident,
    set_prices,
)

MARCH = date(2026, 3, 1)
IN_MARCH_WINDOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
IN_APRIL_WINDOW = datetime(2026, 4, 20, 9, 0, tzinfo=UTC)


def test_bill_arithmetic_unit() -> None:
    lines = {
        line.service: line
        for line in rules.bill_lines(
            {"cold_water": Decimal("3.5"), "hot_water": None}, 2, dict(PRICES)
        )
    }
    assert lines["cold_water"].basis == "meter"
    assert lines["cold_water"].amount == Decimal("175.00")  # 3.5 m³ x 50
    assert lines["hot_water"].basis == "norm"
    assert lines["hot_water"].quantity == Decimal("9.490")  # 4.745 x 2 residents
    assert lines["hot_water"].amount == Decimal("2372.50")  # 9.49 x 250
    assert lines["water_disposal"].quantity == Decimal("12.990")
    assert lines["water_disposal"].basis == "norm"
    assert lines["electricity_day"].quantity == Decimal("140.000")
    assert lines["electricity_night"].amount == Decimal("180.00")  # 60 kWh x 3
    assert rules.parse_amount("1 234,50") == Decimal("1234.50")
    for bad in ("0", "-5", "12.345", "abc"):
        with pytest.raises((ValueError, ArithmeticError)):
            rules.parse_amount(bad)


def test_bills_charge_readings_and_the_norm(database: str) -> None:
    set_prices()
    operator = make_operator()
    apartment = make_apartment(operator, residents=3)
    cold = make_meter(apartment.id, "cold_water", initial_value=Decimal("100"))
    hot = make_meter(apartment.id, "hot_water", initial_value=Decimal("40"))
    citizen = resident(apartment)
    for meter, value in ((cold.id, "107.25"), (hot.id, "44")):
        service.submit_reading(
            citizen.principal,
            ReadingCreate(meter_id=meter, value=Decimal(value)),
            now=IN_MARCH_WINDOW,
        )
    run = service.generate_bills(SYSTEM, MARCH)
    assert (run.created, run.already_present) == (1, 0)
    again = service.generate_bills(SYSTEM, date(2026, 3, 17))
    assert (again.created, again.already_present) == (0, 1)
    assert count_rows(Bill) == 1

    overview = service.get_apartment_overview(citizen.principal, apartment.id, now=IN_APRIL_WINDOW)
    bill = service.get_bill(citizen.principal, overview.bills[0].id)
    lines = {line.service: line for line in bill.lines}
    assert lines["cold_water"].quantity == Decimal("7.25")
    assert lines["cold_water"].amount == Decimal("362.50")  # 7.25 x 50
    assert lines["hot_water"].amount == Decimal("1000.00")  # 4 x 250
    assert lines["water_disposal"].quantity == Decimal("11.25")
    assert lines["water_disposal"].amount == Decimal("450.00")
    # No electricity meters: 3 residents x norm.
    assert lines["electricity_day"].basis == "norm"
    assert lines["electricity_day"].amount == Decimal("1575.00")  # 210 kWh x 7.50
    assert lines["electricity_night"].amount == Decimal("270.00")  # 90 kWh x 3
    assert bill.total == Decimal("3657.50")
    assert bill.debt_before == 0
    assert bill.to_pay == Decimal("3657.50")
    assert overview.debt == Decimal("3657.50")

    # April: no reading for cold water -> the norm; May's reading then counts from March's
    # reading with April's norm deducted.
    service.generate_bills(SYSTEM, date(2026, 4, 1))
    april = service.get_apartment_overview(citizen.principal, apartment.id, now=IN_APRIL_WINDOW)
    april_bill = service.get_bill(citizen.principal, april.bills[0].id)
    april_cold = next(line for line in april_bill.lines if line.service == "cold_water")
    assert april_cold.basis == "norm"
    assert april_cold.quantity == Decimal("20.805")  # 6.935 x 3
    assert april_bill.debt_before == Decimal("3657.50")
    service.submit_reading(
        citizen.principal,
        ReadingCreate(meter_id=cold.id, value=Decimal("140")),
        now=datetime(2026, 5, 20, 9, 0, tzinfo=UTC),
    )
    service.generate_bills(SYSTEM, date(2026, 5, 1))
    may = service.get_apartment_overview(citizen.principal, apartment.id, now=IN_APRIL_WINDOW)
    may_bill = service.get_bill(citizen.principal, may.bills[0].id)
    may_cold = next(line for line in may_bill.lines if line.service == "cold_water")
    assert may_cold.basis == "meter"
    assert may_cold.quantity == Decimal("11.945")  # 140 - 107.25 - 20.805


def test_missing_tariff_refuses_the_run(database: str) -> None:
    make_apartment(make_operator())
    with pytest.raises(InvalidInput) as refused:
        service.generate_bills(SYSTEM, MARCH)
    assert refused.value.code == "tariff_missing"
    assert count_rows(Bill) == 0


def test_who_may_bill(database: str) -> None:
    set_prices()
    operator, other = make_operator(), make_operator()
    make_apartment(operator)
    make_apartment(other)
    staff = make_staff(Role.HOUSING_OPERATOR, operator)
    assert service.generate_bills(staff.principal, MARCH, operator_id=operator).created == 1
    with pytest.raises(Forbidden):
        service.generate_bills(staff.principal, MARCH, operator_id=other)
    with pytest.raises(Forbidden):
        service.generate_bills(staff.principal, MARCH)  # the whole city: city-wide only
    admin = make_staff(Role.CITY_ADMIN)
    assert service.generate_bills(admin.principal, MARCH).created == 1


def test_bill_of_another_apartment_is_not_found(database: str) -> None:
    set_prices()
    apartment = make_apartment(make_operator())
    service.generate_bills(SYSTEM, MARCH)
    owner = resident(apartment)
    bill_id = service.get_apartment_overview(owner.principal, apartment.id).bills[0].id
    with pytest.raises(NotFound):
        service.get_bill(make_citizen().principal, bill_id)


def test_pdf_starts_with_pdf_and_names_the_payer_code(database: str) -> None:
    set_prices()
    apartment = make_apartment(make_operator("ГБУ «Жилищник района Арбат»"))
    service.generate_bills(SYSTEM, MARCH)
    owner = resident(apartment)
    bill = service.get_bill(
        owner.principal, service.get_apartment_overview(owner.principal, apartment.id).bills[0].id
    )
    with use_locale("ru"):
        document = bill_pdf(bill)
    assert document.startswith(b"%PDF")
    assert apartment.payer_code.encode() in document


def test_rendering_a_pdf_logs_nothing_at_info(
    database: str, caplog: pytest.LogCaptureFixture
) -> None:
    set_prices()
    apartment = make_apartment(make_operator())
    service.generate_bills(SYSTEM, MARCH)
    owner = resident(apartment)
    bill = service.get_bill(
        owner.principal, service.get_apartment_overview(owner.principal, apartment.id).bills[0].id
    )
    with caplog.at_level(logging.INFO), use_locale("ru"):
        assert bill_pdf(bill).startswith(b"%PDF")
    # The font library's subsetting chatter (some twenty lines a bill) is kept out.
    assert [(r.name, r.getMessage()) for r in caplog.records] == []


@pytest.mark.calendar
def test_the_job_bills_the_last_closed_month_once(database: str) -> None:
    set_prices()
    make_apartment(make_operator())
    # On 4 April March's window has closed: March is billed; 3 April it was still open.
    assert service.generate_last_month_bills(
        now=datetime(2026, 4, 2, 9, tzinfo=UTC)
    ).period == date(2026, 2, 1)
    run = service.generate_last_month_bills(now=datetime(2026, 4, 4, 9, tzinfo=UTC))
    assert (run.period, run.created) == (MARCH, 1)
    assert service.generate_last_month_bills(now=datetime(2026, 4, 5, 9, tzinfo=UTC)).created == 0


# --- Payments --------------------------------------------------------------------------------


def test_import_is_idempotent_and_reduces_the_debt(database: str) -> None:
    set_prices()
    apartment = make_apartment(make_operator())
    service.generate_bills(SYSTEM, MARCH)
    owner = resident(apartment)
    debt = service.get_apartment_overview(owner.principal, apartment.id).debt
    text = (
        "payment_id,payer_code,amount,paid_on\n"
        f"B-1,{apartment.payer_code},1000.00,2026-04-05\n"
        f'B-2,{apartment.payer_code},"500,50",2026-04-06\n'
    )
    result = service.import_payments(SYSTEM, text)
    assert (result.imported, result.already_imported) == (2, 0)
    again = service.import_payments(SYSTEM, text)
    assert (again.imported, again.already_imported) == (0, 2)
    assert count_rows(Payment) == 2
    overview = service.get_apartment_overview(owner.principal, apartment.id)
    assert overview.debt == debt - Decimal("1500.50")
    assert [p.external_id for p in overview.payments] == ["B-2", "B-1"]


def test_bad_rows_are_reported_and_nothing_is_imported(database: str) -> None:
    apartment = make_apartment(make_operator())
    service.import_payments(
        SYSTEM, f"payment_id,payer_code,amount,paid_on\nOLD,{apartment.payer_code},10,2026-04-01\n"
    )
    text = (
        "payment_id,payer_code,amount,paid_on\n"
        f"A-1,{apartment.payer_code},100.00,2026-04-05\n"  # fine
        f"A-2,{apartment.payer_code},-3,2026-04-05\n"  # line 3: negative
        "A-3,9999999999,10.00,2026-04-05\n"  # line 4: unknown payer code
        f"A-4,{apartment.payer_code},10.00,05.04.2026\n"  # line 5: date format
        f"A-1,{apartment.payer_code},100.00,2026-04-05\n"  # line 6: repeats line 2
        f"OLD,{apartment.payer_code},99,2026-04-01\n"  # line 7: imported with other data
    )
    with pytest.raises(PaymentFileRefused) as refused:
        service.import_payments(SYSTEM, text)
    assert [line for line, _ in refused.value.rows] == [3, 4, 5, 6, 7]
    assert "amount" in refused.value.rows[0][1]
    assert "9999999999" in refused.value.rows[1][1]
    assert count_rows(Payment) == 1  # only the earlier file's payment
    with pytest.raises(PaymentFileRefused) as no_header:
        service.import_payments(SYSTEM, "id;code;sum\n1;2;3\n")
    assert no_header.value.rows[0][0] == 1


def test_an_apartment_that_cannot_be_billed_does_not_stop_the_others(database: str) -> None:
    from infocity.core.db import utcnow
    from infocity.core.jobs import REGISTRY
    from infocity.core.settings import get_settings
    from infocity.core.uow import UnitOfWork
    from infocity.housing import jobs
    from infocity.housing.models import MeterReading

    settings = get_settings()
    # The month the job bills today, whatever today is.
    period = rules.last_closed_period(
        utcnow().astimezone(settings.city_tz).date(),
        settings.readings_window_start_day,
        settings.readings_window_end_day,
    )
    set_prices()
    broken = make_apartment(make_operator())
    for _ in range(2):  # two apartments of other operators, nothing wrong with them
        make_apartment(make_operator())
    hot = make_meter(broken.id, "hot_water")
    # A reading no meter shows, stored before readings were checked against the meter.
    with UnitOfWork() as uow:
        uow.session.add(
            MeterReading(
                meter_id=hot.id,
                apartment_id=broken.id,
                period=period,
                value=Decimal("999999999.999"),
                submitted_at=IN_MARCH_WINDOW,
            )
        )
        uow.commit()
    run = service.generate_bills(SYSTEM, period)
    assert run.created == 2
    assert [(f.apartment_id, f.operator_id) for f in run.failed] == [
        (broken.id, broken.operator_id)
    ]
    assert count_rows(Bill) == 2
    # The periodic job bills the others and fails naming the apartment, so its run's
    # record says what was left unbilled.
    assert REGISTRY["housing.generate_bills"].func is jobs.generate_bills
    other = make_apartment(make_operator())
    with pytest.raises(jobs.ApartmentsNotBilled, match=f"apartment {broken.id}:"):
        jobs.generate_bills()
    assert count_rows(Bill) == 3  # the apartment added since was billed by the job
    assert other.id not in {f.apartment_id for f in run.failed}


def _yesterday() -> str:
    from datetime import timedelta

    from infocity.core.db import utcnow

    return (utcnow().date() - timedelta(days=1)).isoformat()


def test_every_kind_of_bad_row_is_reported_by_line() -> None:
    from datetime import timedelta

    today = date(2026, 5, 10)
    text = (
        "payment_id,payer_code,amount,paid_on\n"
        "A-1,1234567890,99999999999.99,2026-05-01\n"  # 2: more than a bill column holds
        "A\x00-2,1234567890,10.00,2026-05-01\n"  # 3: NUL
        "A-3,1234567890,10.00,9999-12-31\n"  # 4: far future
        "A-4,1234567890,10.00,0001-01-01\n"  # 5: far past
        "A-5,1234567890,1e4,20260501\n"  # 6: exponent, compact date
        "A-6,1234567890,10.00\n"  # 7: a field missing
        "A-7,1234567890,10.00,2026-05-11\n"  # fine: a bank a day ahead
        "A-8,1234567890,9999999999.99,2000-01-01\n"  # fine: the limits themselves
    )
    rows, errors = rules.parse_payments(text, today=today)
    assert [r.external_id for r in rows] == ["A-7", "A-8"]
    assert [line for line, _ in errors] == [2, 3, 4, 5, 6, 7]
    assert "at most 9999999999.99" in errors[0][1]
    assert "control characters" in errors[1][1]
    assert "between 2000-01-01 and 2026-05-11" in errors[2][1]
    assert "between" in errors[3][1]
    assert "amount" in errors[4][1]
    assert "paid_on" in errors[4][1]
    tomorrow_but_one = (today + timedelta(days=2)).isoformat()
    _, late = rules.parse_payments(
        text.splitlines()[0] + f"\nX,1234567890,1,{tomorrow_but_one}\n", today=today
    )
    assert late[0][0] == 2


def test_a_windows_1251_file_is_read_and_other_bytes_are_refused(database: str) -> None:
    apartment = make_apartment(make_operator())
    text = (
        f"payment_id,payer_code,amount,paid_on\nПлатёж-1,{apartment.payer_code},10,{_yesterday()}\n"
    )
    result = service.import_payments(SYSTEM, text.encode("cp1251"))
    assert result.imported == 1
    assert (
        service.get_apartment_overview(resident(apartment).principal, apartment.id)
        .payments[0]
        .external_id
        == "Платёж-1"
    )
    with pytest.raises(PaymentFileRefused) as refused:
        service.import_payments(SYSTEM, b"payment_id,payer_code,amount,paid_on\n\x98\xff,1,1,1\n")
    assert refused.value.rows == [(1, "the file is neither UTF-8 nor Windows-1251 text")]


def test_a_file_above_the_parameter_limit_imports_all_or_nothing(database: str) -> None:
    apartment = make_apartment(make_operator())
    paid_on = _yesterday()
    lines = [f"P-{n},{apartment.payer_code},1.50,{paid_on}" for n in range(70_000)]
    header = "payment_id,payer_code,amount,paid_on"
    bad = [
        *lines[:50_000],
        f"P-bad,{apartment.payer_code},99999999999.99,{paid_on}",
        *lines[50_000:],
    ]
    with pytest.raises(PaymentFileRefused) as refused:
        service.import_payments(SYSTEM, "\n".join([header, *bad, "Q-1,0000000000,1,2026-05-01"]))
    assert [line for line, _ in refused.value.rows] == [50_002, 70_003]
    assert "0000000000" in refused.value.rows[1][1]
    assert count_rows(Payment) == 0
    result = service.import_payments(SYSTEM, "\n".join([header, *lines]))
    assert (result.imported, result.already_imported) == (70_000, 0)
    again = service.import_payments(SYSTEM, "\n".join([header, *lines[:10]]))
    assert (again.imported, again.already_imported) == (0, 10)
    with pytest.raises(PaymentFileRefused) as changed:
        service.import_payments(SYSTEM, "\n".join([header, lines[5].replace("1.50", "2.00")]))
    assert changed.value.rows == [(2, "payment P-5 was imported with other data")]
