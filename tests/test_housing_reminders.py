"""A reminder when the readings window opens: once per apartment and month to every
citizen who linked it, in the citizen's language, however often the job runs."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import NamedTuple

import pytest
from sqlalchemy import select

from infocity.core.i18n import use_locale
from infocity.core.jobs import REGISTRY
from infocity.core.models import OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.housing import jobs, service
from infocity.housing.schemas import ReadingCreate
from tests.builders import make_citizen
from tests.housing_builders import link, make_apartment, make_meter, make_operator


class Message(NamedTuple):
    user_id: int | None
    subject: str
    body: str
    link: str | None


# March's window runs from 15 March to 3 April (the default settings).
BEFORE = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
OPENED = datetime(2026, 3, 15, 6, 0, tzinfo=UTC)
LATER_SAME_WINDOW = datetime(2026, 3, 28, 6, 0, tzinfo=UTC)
APRIL = datetime(2026, 4, 15, 6, 0, tzinfo=UTC)


def _reminders() -> list[Message]:
    """The reminders queued to citizens' inboxes."""
    with UnitOfWork() as uow:
        rows = uow.session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind == "housing_reading_reminder", OutboxMessage.channel == "inbox"
            )
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
        )
        return [Message(r.user_id, r.subject, r.body, r.link) for r in rows]


def test_residents_are_reminded_once_per_window_in_their_language(database: str) -> None:
    operator = make_operator()
    apartment = make_apartment(operator)
    make_meter(apartment.id, "cold_water")
    make_meter(apartment.id, "hot_water")
    anna = make_citizen()
    with use_locale("en"):
        john = make_citizen()
    link(anna, apartment)
    link(john, apartment)
    without_meters = make_apartment(operator)
    link(make_citizen(), without_meters)

    assert service.send_reading_reminders(now=BEFORE) == 0
    assert _reminders() == []
    assert service.send_reading_reminders(now=OPENED) == 1
    reminders = _reminders()
    # A reminder goes to a user: its user_id is set.
    assert sorted(r.user_id for r in reminders) == sorted([anna.user.id, john.user.id])  # type: ignore[type-var]
    by_user = {r.user_id: r for r in reminders}
    assert "Показания счётчиков за март 2026 принимаются" in by_user[anna.user.id].subject
    assert "до 3 апреля 2026\u202fг. включительно." in by_user[anna.user.id].body
    assert "Meter readings for March 2026 are accepted" in by_user[john.user.id].subject
    assert "until April 3, 2026." in by_user[john.user.id].body
    assert by_user[john.user.id].link == f"/housing/apartments/{apartment.id}"

    # The job runs every hour: the same window reminds nobody again.
    assert service.send_reading_reminders(now=OPENED) == 0
    assert service.send_reading_reminders(now=LATER_SAME_WINDOW) == 0
    assert len(_reminders()) == 2
    # The next month's window reminds them again.
    assert service.send_reading_reminders(now=APRIL) == 1
    assert len(_reminders()) == 4


def test_an_apartment_whose_readings_came_is_not_reminded(database: str) -> None:
    apartment = make_apartment(make_operator())
    meter = make_meter(apartment.id, "cold_water")
    anna = make_citizen()
    link(anna, apartment)
    service.submit_reading(
        anna.principal, ReadingCreate(meter_id=meter.id, value=Decimal(3)), now=OPENED
    )
    assert service.send_reading_reminders(now=LATER_SAME_WINDOW) == 0
    assert _reminders() == []


def test_reminders_go_in_batches(database: str) -> None:
    operator = make_operator()
    for _ in range(3):
        apartment = make_apartment(operator)
        make_meter(apartment.id)
        link(make_citizen(), apartment)
    assert service.send_reading_reminders(now=OPENED, batch=2) == 2
    assert service.send_reading_reminders(now=OPENED, batch=2) == 1
    assert service.send_reading_reminders(now=OPENED, batch=2) == 0
    assert len(_reminders()) == 3


def test_the_hourly_job_reminds_every_apartment(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A window from the 15th to the 14th of the next month is open on any real date.
    monkeypatch.setenv("INFOCITY_READINGS_WINDOW_START_DAY", "15")
    monkeypatch.setenv("INFOCITY_READINGS_WINDOW_END_DAY", "14")
    get_settings.cache_clear()
    monkeypatch.setattr(service, "REMINDER_BATCH", 1)
    try:
        assert REGISTRY["housing.reading_reminders"].func is jobs.reading_reminders
        operator = make_operator()
        for _ in range(3):
            apartment = make_apartment(operator)
            make_meter(apartment.id)
            link(make_citizen(), apartment)
        assert jobs.reading_reminders() == 3
        assert jobs.reading_reminders() == 0
        assert len(_reminders()) == 3
    finally:
        get_settings.cache_clear()
