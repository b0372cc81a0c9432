"""What a doctor reads: their own day (audited)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, Role, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Practitioner
from infocity.health.reads.base import (
    APPOINTMENTS,
    MY_LIMIT,
    OCCUPYING,
    _appointments,
    _audit_patients,
    _day_bounds,
    _specialties,
    _staff_clinics,
)
from infocity.health.reads.shapes import ClinicInfo, DoctorAppointment, DoctorSchedule

DOCTOR_ROLES = (Role.DOCTOR,)


def doctor_day(
    actor: Principal | None,
    day: date | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> DoctorSchedule:
    """The doctor's appointments of a city date, in order, with patients' names (audited)."""
    actor = authorize(actor, Action.REFERRAL_ISSUE)
    now = now or utcnow()
    day = day or city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinics = _staff_clinics(uow, actor, DOCTOR_ROLES)
        posts = list(
            session.scalars(
                select(Practitioner)
                .where(Practitioner.user_id == actor.user_id)
                .order_by(Practitioner.id)
            )
        )
        start, end = _day_bounds(day)
        appointments = (
            _appointments(
                uow,
                [
                    APPOINTMENTS.c.practitioner_id.in_([p.id for p in posts]),
                    APPOINTMENTS.c.starts_at >= start,
                    APPOINTMENTS.c.starts_at < end,
                    APPOINTMENTS.c.status.in_(OCCUPYING),
                ],
                now,
                limit=MY_LIMIT,
                newest_first=False,
            )
            if posts
            else []
        )
        births = {
            a.person_id: facts.birth_date
            for a in appointments
            if (facts := accounts.person_by_id(session, a.person_id)) is not None
        }
        for a in appointments:
            _audit_patients(
                session,
                actor,
                "health.doctor.day",
                [a.person_id],
                a.clinic.id,
                f"day {day.isoformat()}",
            )
        specialties = _specialties(session)
        result = DoctorSchedule(
            day=day,
            clinic_ids=[c.id for c in clinics],
            posts=[f"{specialties[p.specialty_id].name}, {p.name}" for p in posts],
            appointments=[DoctorAppointment(a, births.get(a.person_id)) for a in appointments],
            specialties=sorted(specialties.values(), key=lambda s: s.name),
            clinics=[
                ClinicInfo(c.id, c.name, c.name_en, c.address)
                for c in service.list_clinics(uow=uow)
            ],
        )
        uow.commit()
        return result
