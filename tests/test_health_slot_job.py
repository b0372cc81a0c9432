"""The hourly slot job (``health.materialise_slots``): it plans each practitioner's days
once, as they enter the booking horizon, in a few statements for all of them; changes of
schedule inside the horizon get their slots from the staff's action at once."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import func, select, update

from infocity.core.auth import SYSTEM
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Appointment, Practitioner, Slot, Specialty
from infocity.health.schemas import BookingCreate, ScheduleExceptionCreate, ScheduleRuleCreate
from tests.health_builders import (
    attach,
    get_slot,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)
from tests.support.statements import statements_of


def horizon_end(now: datetime) -> datetime:
    with UnitOfWork() as uow:
        horizon = uow.session.scalar(select(func.max(Specialty.horizon_days))) or 0
    return city_date(now) + timedelta(days=horizon + 1)  # type: ignore[return-value]


def works_on(practitioner_id: int, weekday: int, now: datetime) -> None:
    """09:00-10:00 every ``weekday`` from today on (4 times of 15 minutes)."""
    service.set_schedule_rule(
        SYSTEM,
        ScheduleRuleCreate(
            practitioner_id=practitioner_id,
            weekday=weekday,
            start_time=time(9, 0),
            end_time=time(10, 0),
            slot_minutes=15,
            valid_from=city_date(now),
        ),
        now=now,
    )


def slots_on(practitioner_id: int, day: object) -> int:
    with UnitOfWork() as uow:
        starts = uow.session.scalars(
            select(Slot.starts_at).where(Slot.practitioner_id == practitioner_id)
        )
        return sum(1 for s in starts if city_date(s) == day)


def test_the_job_plans_everyone_in_a_few_statements_and_then_nothing(database: str) -> None:
    now = utcnow()
    clinic = make_clinic()
    doctors = [make_practitioner(clinic.id, "therapist") for _ in range(6)]
    for d in doctors:
        for weekday in range(7):
            works_on(d.id, weekday, now)
    # The first run plans the whole horizon of all six (their slots are there already:
    # setting a schedule plans it at once) in a few statements, not several per doctor.
    added, first = statements_of(lambda: service.materialise_horizon(now=now))
    assert added == 0
    assert len(first) <= 10
    # The next run within the day has nothing to plan and reads only who is due.
    added, again = statements_of(lambda: service.materialise_horizon(now=now))
    assert added == 0
    assert len(again) <= 3


def test_each_day_entering_the_horizon_gets_its_slots_once(database: str) -> None:
    now = utcnow()
    clinic = make_clinic()
    doctor = make_practitioner(clinic.id, "therapist")
    last = horizon_end(now)
    # Works only on the weekday two days after today's horizon: the day after it enters
    # the horizon with no slots, and must not stop the job planning the next.
    works_on(doctor.id, (last + timedelta(days=2)).weekday(), now)
    assert service.materialise_horizon(now=now) == 0
    assert slots_on(doctor.id, last + timedelta(days=2)) == 0
    tomorrow = now + timedelta(days=1)
    assert service.materialise_horizon(now=tomorrow) == 0  # a day off entered
    after = now + timedelta(days=2)
    assert service.materialise_horizon(now=after) == 4
    assert slots_on(doctor.id, last + timedelta(days=2)) == 4
    assert service.materialise_horizon(now=after) == 0


def test_a_change_inside_the_horizon_gets_its_slots_from_the_change(database: str) -> None:
    now = utcnow()
    clinic = make_clinic()
    doctor = make_practitioner(clinic.id, "therapist")
    service.materialise_horizon(now=now)  # the job has planned the whole horizon
    in_a_week = city_date(now) + timedelta(days=7)
    works_on(doctor.id, in_a_week.weekday(), now)
    assert slots_on(doctor.id, in_a_week) == 4
    in_ten_days = in_a_week + timedelta(days=3)
    service.add_schedule_exception(
        SYSTEM,
        ScheduleExceptionCreate(
            practitioner_id=doctor.id,
            kind="extra_hours",
            date_from=in_ten_days,
            date_to=in_ten_days,
            start_time=time(15, 0),
            end_time=time(16, 0),
        ),
        now=now,
    )
    assert slots_on(doctor.id, in_ten_days) == 4
    # The job neither adds nor takes anything on days it had planned.
    assert service.materialise_horizon(now=now) == 0
    assert slots_on(doctor.id, in_a_week) == 4
    assert slots_on(doctor.id, in_ten_days) == 4


def test_planning_a_booked_day_again_never_frees_its_slot(database: str) -> None:
    clinic = make_clinic()
    doctor = make_practitioner(clinic.id, "therapist")
    slot_ids = make_slots(doctor.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    booked = service.book_slot(patient.principal, BookingCreate(slot_id=slot_ids[0]))
    # As after the migration that brought in slots_until: the job plans it all again.
    with UnitOfWork() as uow:
        uow.session.execute(update(Practitioner).values(slots_until=None))
        uow.commit()
    assert service.materialise_horizon() == 0
    assert get_slot(slot_ids[0]).status == "booked"
    with UnitOfWork() as uow:
        appointment = uow.session.get(Appointment, booked.id)
        assert appointment is not None
        assert appointment.status == "booked"
