"""The helpers every service shares: the city's calendar, the SQL helpers and the form kit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update

from infocity.core import clock
from infocity.core.db import get_engine, utcnow
from infocity.core.errors import AppError, InvalidFields, InvalidInput
from infocity.core.i18n import use_locale
from infocity.core.sql import dml, upsert_insert
from infocity.web.forms import FormErrors, filled, notice

PROBE = Table(
    "shared_helpers_probe",
    MetaData(),
    Column("key", String(20), primary_key=True),
    Column("count", Integer, nullable=False),
)


@pytest.mark.parametrize(
    ("instant", "city_day"),
    [
        # Moscow is UTC+3: its midnight is 21:00 UTC the day before.
        (datetime(2026, 11, 30, 20, 59, 59, tzinfo=UTC), date(2026, 11, 30)),
        (datetime(2026, 11, 30, 21, 0, 1, tzinfo=UTC), date(2026, 12, 1)),
    ],
)
def test_the_city_date_turns_at_the_city_s_midnight_not_at_utc_s(
    instant: datetime, city_day: date
) -> None:
    assert clock.city_date(instant) == city_day


def test_today_in_the_city_is_the_city_date_of_now() -> None:
    before = clock.city_date(utcnow())
    today = clock.city_today()
    # The clock may pass the city's midnight between the two reads.
    assert today in (before, before + timedelta(days=1))


def test_an_upsert_counts_on_either_database_and_dml_keeps_the_row_count(database: str) -> None:
    engine = get_engine()
    PROBE.create(engine)
    try:
        with engine.begin() as connection:
            for _ in range(3):
                connection.execute(
                    upsert_insert(connection)(PROBE)
                    .values(key="anna", count=1)
                    .on_conflict_do_update(
                        index_elements=["key"], set_={"count": PROBE.c.count + 1}
                    )
                )
            assert connection.execute(select(PROBE.c.count)).scalar_one() == 3
            changed = dml(connection, update(PROBE).where(PROBE.c.key == "sergey").values(count=0))
            assert changed.rowcount == 0
            changed = dml(connection, update(PROBE).where(PROBE.c.key == "anna").values(count=0))
            assert changed.rowcount == 1
    finally:
        PROBE.drop(engine)


def test_a_form_refused_at_several_fields_marks_each_field_on_the_form() -> None:
    refused = InvalidFields(
        [
            InvalidInput("bad_phone", "Enter the phone number.", field="phone"),
            InvalidInput("bad_token", "The page has expired.", field="token"),
        ]
    )
    with use_locale("en"):
        errors = FormErrors.of(refused, ("phone", "email"))
    assert errors.fields == {"phone": "Enter the phone number."}
    # The field not on the form is told at the top, after the pointer to the marks.
    assert errors.form == "Please correct the marked fields. The page has expired."


def test_one_refusal_is_said_at_the_top_even_when_its_field_is_not_on_the_form() -> None:
    refused = AppError("taken", "The time is taken.", field="slot_id")
    with use_locale("en"):
        errors = FormErrors.of(refused)
    assert errors.fields == {}
    assert errors.form == "The time is taken."


def test_blank_fields_are_not_given_and_unknown_notices_are_not_shown() -> None:
    assert filled({"name": "  Anna ", "phone": "  ", "other": "x"}, ("name", "phone")) == {
        "name": "Anna"
    }
    notices = {"saved": "Saved."}
    with use_locale("en"):
        assert notice(notices, "saved") == "Saved."
    assert notice(notices, "<script>") is None
    assert notice(notices, None) is None
