"""Health test data, made through the real service functions."""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from infocity.accounts import service as accounts
from infocity.accounts.schemas import ChildCreate, PersonRead, ProfileUpdate
from infocity.core.auth import SYSTEM
from infocity.core.clock import city_today as city_today  # the builders offer it to tests
from infocity.core.models import OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import (
    Appointment,
    AppointmentReminder,
    BookingQuota,
    BookingStanding,
    HomeVisitRequest,
    Referral,
    ScheduleRule,
    Slot,
    WaitlistEntry,
    WaitlistOffer,
)
from infocity.health.schemas import (
    AttachmentCreate,
    ClinicCreate,
    ClinicRead,
    PractitionerCreate,
    PractitionerRead,
    ReferralCreate,
    ReferralRead,
    ScheduleRuleCreate,
)
from tests.builders import Account, make_citizen, make_organisation, make_staff

_numbers = itertools.count(1)


def make_policy() -> str:
    """A 16-digit OMS policy number, different each time."""
    return f"99{next(_numbers):014d}"


def make_clinic(kind: str = "adult", parent_clinic_id: int | None = None) -> ClinicRead:
    """A polyclinic (organisation + health profile); the specialties are seeded."""
    service.seed_specialties()
    organisation = make_organisation("clinic")
    return service.create_clinic(
        ClinicCreate(
            organisation_id=organisation.id, clinic_kind=kind, parent_clinic_id=parent_clinic_id
        ),
        actor=SYSTEM,
    )


def make_practitioner(
    clinic_id: int,
    specialty: str = "therapist",
    *,
    user_id: int | None = None,
    district: int | None = None,
) -> PractitionerRead:
    return service.add_practitioner(
        PractitionerCreate(
            clinic_id=clinic_id,
            specialty_code=specialty,
            name=f"Врач {next(_numbers)}",
            room=str(100 + next(_numbers) % 300),
            user_id=user_id,
            district=district,
        ),
        actor=SYSTEM,
    )


def make_slots(
    practitioner_id: int,
    day: date | None = None,
    start: time = time(9, 0),
    end: time = time(10, 0),
    *,
    slot_minutes: int | None = None,
) -> list[int]:
    """Slot ids of one working day (default tomorrow, city date), earliest first."""
    day = day or city_today() + timedelta(days=1)
    service.set_schedule_rule(
        SYSTEM,
        ScheduleRuleCreate(
            practitioner_id=practitioner_id,
            weekday=day.weekday(),
            start_time=start,
            end_time=end,
            slot_minutes=slot_minutes,
            valid_from=day,
            valid_to=day,
        ),
    )
    service.materialise_slots(day)
    with UnitOfWork() as uow:
        day_start = datetime.combine(day, time(0), tzinfo=get_settings().city_tz)
        return list(
            uow.session.scalars(
                select(Slot.id)
                .where(
                    Slot.practitioner_id == practitioner_id,
                    Slot.starts_at >= day_start,
                    Slot.starts_at < day_start + timedelta(days=1),
                )
                .order_by(Slot.starts_at)
            )
        )


def work_every_day(practitioner_id: int, first: date, last: date, *, until: time) -> None:
    """The practitioner works from 09:00 to ``until`` every day from ``first`` to ``last``,
    in 15-minute times (made by ``service.materialise_slots``, which the caller runs once
    for all its practitioners)."""
    for weekday in range(7):
        service.set_schedule_rule(
            SYSTEM,
            ScheduleRuleCreate(
                practitioner_id=practitioner_id,
                weekday=weekday,
                start_time=time(9, 0),
                end_time=until,
                slot_minutes=15,
                valid_from=first,
                valid_to=last,
            ),
        )


def get_slot(slot_id: int) -> Slot:
    with UnitOfWork() as uow:
        slot = uow.session.get(Slot, slot_id)
        assert slot is not None
        uow.session.expunge(slot)
        return slot


def make_patient(birth_date: date = date(1980, 5, 17), *, oms_policy: str | None = None) -> Account:
    """A citizen with a date of birth and an OMS policy in their profile."""
    account = make_citizen()
    accounts.update_profile(
        account.principal,
        ProfileUpdate(birth_date=birth_date, oms_policy=oms_policy or make_policy()),
    )
    return account


def make_child(guardian: Account, birth_date: date = date(2018, 2, 3)) -> PersonRead:
    return accounts.add_child(
        guardian.principal,
        ChildCreate(
            last_name="Иванов",
            first_name="Пётр",
            birth_date=birth_date,
            oms_policy=make_policy(),
        ),
    )


def attach(
    person_id: int, clinic_id: int, *, now: datetime | None = None, district: int | None = None
) -> None:
    service.attach_patient(
        SYSTEM,
        AttachmentCreate(person_id=person_id, clinic_id=clinic_id, district=district),
        now=now,
    )


def make_doctor(clinic_id: int) -> Account:
    return make_staff("doctor", clinic_id)


def make_referral(
    person_id: int,
    clinic_id: int,
    specialty: str = "cardiologist",
    *,
    valid_days: int = 30,
    target_clinic_id: int | None = None,
    now: datetime | None = None,
) -> ReferralRead:
    doctor = make_doctor(clinic_id)
    return service.issue_referral(
        doctor.principal,
        clinic_id,
        ReferralCreate(
            person_id=person_id,
            specialty_code=specialty,
            valid_days=valid_days,
            target_clinic_id=target_clinic_id,
        ),
        now=now,
    )


def make_world() -> dict[str, Any]:
    """An adult polyclinic; a therapist (with a staff account) working tomorrow
    09:00-10:00 (4 slots); an attached patient."""
    clinic = make_clinic()
    doctor = make_doctor(clinic.id)
    therapist = make_practitioner(clinic.id, "therapist", user_id=doctor.id)
    slots = make_slots(therapist.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    return {
        "clinic": clinic,
        "doctor": doctor,
        "therapist": therapist,
        "slots": slots,
        "patient": patient,
    }


def health_snapshot() -> dict[str, Any]:
    """Everything health's use cases may write, to compare before and after a refusal."""
    with UnitOfWork() as uow:
        s = uow.session

        def rows(*columns: Any) -> list[Any]:
            return list(s.execute(select(*columns).order_by(columns[0])).all())

        return {
            "appointments": rows(Appointment.id, Appointment.status, Appointment.confirmed_at),
            "slots": rows(Slot.id, Slot.status, Slot.held_for_entry_id),
            "referrals": rows(Referral.id, Referral.status, Referral.used_by_appointment_id),
            "entries": rows(WaitlistEntry.id, WaitlistEntry.status, WaitlistEntry.priority),
            "offers": rows(WaitlistOffer.id, WaitlistOffer.outcome),
            "standings": rows(BookingStanding.person_id, BookingStanding.suspended_until),
            "visits": rows(HomeVisitRequest.id, HomeVisitRequest.status),
            "rules": rows(ScheduleRule.id, ScheduleRule.start_time, ScheduleRule.end_time),
            "reminders": rows(AppointmentReminder.appointment_id),
            "quotas": s.scalar(select(func.coalesce(func.sum(BookingQuota.bookings), 0))),
            "outbox": s.scalar(select(func.count()).select_from(OutboxMessage)),
        }
