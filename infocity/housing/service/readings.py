"""Meter readings: one row per (meter, period), written by an upsert on that unique pair,
so a resubmission while the window is open replaces the earlier value and two
submissions at once cannot both insert. Every rule is checked before anything is
written. Reminders go once per apartment and period."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core import outbox
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.errors import AppError, InvalidFields
from infocity.core.i18n import format_day
from infocity.core.settings import get_settings
from infocity.core.sql import upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.housing import errors, rules
from infocity.housing.models import Apartment, ApartmentLink, Meter, MeterReading, ReadingReminder
from infocity.housing.schemas import ReadingCreate, ReadingRead, ReadingsCreate, WindowRead
from infocity.housing.service.base import READINGS, _visible_apartment, _window


def readings_window(*, now: datetime | None = None) -> WindowRead:
    """The readings window open now, or the next one to open."""
    return _window(now or utcnow())


def submit_reading(
    actor: Principal | None,
    data: ReadingCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ReadingRead:
    """Submit a meter's reading for the month whose window is open.

    Refused outside the window, for a meter past its verification date and below the
    previous month's reading; a consumption above norm x residents x factor needs
    ``confirm``. Resubmitting in the same window replaces the month's reading.
    """
    actor = authorize(actor, Action.HOUSING_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        meter = session.get(Meter, data.meter_id)
        if meter is None:
            raise errors.MeterNotFound()
        apartment = _visible_apartment(session, actor, meter.apartment_id)
        window = _open_window_or_refuse(now)
        _check_reading(session, apartment, meter, data, window, city_date(now))
        result = _save_reading(session, actor, meter, data.value, window, now)
        record_service_use(session, "meter_readings", actor.user_id, person_id=actor.person_id)
        uow.commit()
        return result


def submit_readings(
    actor: Principal | None,
    apartment_id: int,
    data: ReadingsCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[ReadingRead]:
    """Submit the readings of several meters of one apartment at once (one form).

    All or none: each reading is checked as ``submit_reading`` checks it, and if any is
    refused nothing is saved and ``InvalidFields`` names every refused one (field
    ``value-<meter id>``; a reading that needs confirming keeps its code
    ``reading_needs_confirmation``), so the citizen corrects them together."""
    actor = authorize(actor, Action.HOUSING_OWN)
    now = now or utcnow()
    today = city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        apartment = _visible_apartment(session, actor, apartment_id)
        window = _open_window_or_refuse(now)
        meters = {
            m.id: m
            for m in session.scalars(select(Meter).where(Meter.apartment_id == apartment.id))
        }
        refused: list[AppError] = []
        for reading in data.readings:
            meter = meters.get(reading.meter_id)
            try:
                if meter is None:
                    raise errors.MeterNotFound()
                _check_reading(session, apartment, meter, reading, window, today)
            except AppError as exc:
                exc.field = f"value-{reading.meter_id}"
                refused.append(exc)
        if refused:
            raise InvalidFields(refused)
        results = [
            _save_reading(session, actor, meters[r.meter_id], r.value, window, now)
            for r in data.readings
        ]
        record_service_use(session, "meter_readings", actor.user_id, person_id=actor.person_id)
        uow.commit()
        return results


def _open_window_or_refuse(now: datetime) -> rules.Window:
    settings = get_settings()
    window = rules.open_window(
        city_date(now), settings.readings_window_start_day, settings.readings_window_end_day
    )
    if window is None:
        upcoming = _window(now)
        raise errors.ReadingsWindowClosed(
            first=settings.readings_window_start_day,
            last=settings.readings_window_end_day,
            opens=format_day(upcoming.first_day),
        )
    return window


def _check_reading(
    session: Session,
    apartment: Apartment,
    meter: Meter,
    data: ReadingCreate,
    window: rules.Window,
    today: date,
) -> None:
    """Refuse a reading the meter cannot take (see ``submit_reading``)."""
    if meter.verification_due < today:
        raise errors.MeterVerificationOverdue(
            serial=meter.serial,
            due=format_day(meter.verification_due),
        )
    previous = session.scalar(
        select(MeterReading.value)
        .where(MeterReading.meter_id == meter.id, MeterReading.period < window.period)
        .order_by(MeterReading.period.desc())
        .limit(1)
    )
    rules.check_reading(
        data.value,
        meter.initial_value if previous is None else previous,
        limit=rules.consumption_limit(
            meter.kind, apartment.residents, get_settings().readings_confirm_factor
        ),
        confirmed=data.confirm,
        capacity=rules.meter_capacity(meter.kind),
    )


def _save_reading(
    session: Session,
    actor: Principal,
    meter: Meter,
    value: Decimal,
    window: rules.Window,
    now: datetime,
) -> ReadingRead:
    # One row per meter and month: a resubmission in the open window replaces it.
    row = session.execute(
        upsert_insert(session)(MeterReading)
        .values(
            meter_id=meter.id,
            apartment_id=meter.apartment_id,
            period=window.period,
            value=value,
            submitted_by_user_id=actor.user_id,
            submitted_at=now,
        )
        .on_conflict_do_update(
            index_elements=["meter_id", "period"],
            set_={"value": value, "submitted_by_user_id": actor.user_id, "submitted_at": now},
        )
        .returning(*READINGS.c)
    ).one()
    return ReadingRead.model_validate(row, from_attributes=True)


REMINDER_BATCH = 1000  # apartments reminded in one transaction


def send_reading_reminders(
    *, now: datetime | None = None, batch: int = REMINDER_BATCH, uow: UnitOfWork | None = None
) -> int:
    """Remind the citizens who linked an apartment with meters that the month's readings
    window is open (the periodic job): once per apartment and period, by the unique
    (apartment, period) of ``ReadingReminder``; an apartment whose readings for the
    period already came is left alone. Handles at most ``batch`` apartments and returns
    how many it reminded (0 outside the window)."""
    now = now or utcnow()
    settings = get_settings()
    window = rules.open_window(
        city_date(now), settings.readings_window_start_day, settings.readings_window_end_day
    )
    if window is None:
        return 0
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        due = list(
            session.scalars(
                select(Apartment.id)
                .where(
                    select(Meter.id).where(Meter.apartment_id == Apartment.id).exists(),
                    ~select(ReadingReminder.id)
                    .where(
                        ReadingReminder.apartment_id == Apartment.id,
                        ReadingReminder.period == window.period,
                    )
                    .exists(),
                    ~select(MeterReading.id)
                    .where(
                        MeterReading.apartment_id == Apartment.id,
                        MeterReading.period == window.period,
                    )
                    .exists(),
                )
                .order_by(Apartment.id)
                .limit(batch)
            )
        )
        if not due:
            return 0
        # Claimed by the insert: another worker's run at the same moment claims none twice.
        claimed = set(
            session.scalars(
                upsert_insert(session)(ReadingReminder)
                .values([{"apartment_id": a, "period": window.period, "sent_at": now} for a in due])
                .on_conflict_do_nothing(index_elements=["apartment_id", "period"])
                .returning(ReadingReminder.apartment_id)
            )
        )
        rows = session.execute(
            select(ApartmentLink.user_id, Apartment.id, Apartment.address, Apartment.number)
            .join(Apartment, Apartment.id == ApartmentLink.apartment_id)
            .where(Apartment.id.in_(claimed))
            .order_by(Apartment.id, ApartmentLink.user_id)
        )
        for user_id, apartment_id, address, number in rows:
            outbox.notify(
                session,
                accounts.recipient_for_user(session, user_id),
                kind="housing_reading_reminder",
                template="housing/messages/reading_reminder.txt",
                context={
                    "address": f"{address}, {number}",
                    # Written in the recipient's language by the template's filters.
                    "month": window.period,
                    "last_day": window.last_day,
                },
                link=f"/housing/apartments/{apartment_id}",
            )
        uow.commit()
        return len(claimed)
