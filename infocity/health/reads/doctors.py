"""What a doctor reads: their own day, the referrals they issued and the home visits
assigned to them (audited)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, Role, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import rules, service
from infocity.health.models import HomeVisitRequest, Practitioner, Referral
from infocity.health.reads.base import (
    APPOINTMENTS,
    MY_LIMIT,
    OCCUPYING,
    _appointments,
    _audit_patients,
    _Clinics,
    _day_bounds,
    _specialties,
    _staff_clinics,
)
from infocity.health.reads.shapes import (
    ClinicInfo,
    DoctorAppointment,
    DoctorSchedule,
    HomeVisitView,
    ReferralView,
)
from infocity.health.rules import Move
from infocity.health.schemas import SpecialtyRead

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
        marked_today = _marked_today(session, [a.id for a in appointments], now)
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
            appointments=[
                DoctorAppointment(a, births.get(a.person_id), a.id in marked_today)
                for a in appointments
            ],
            specialties=sorted(specialties.values(), key=lambda s: s.name),
            clinics=[
                ClinicInfo(c.id, c.name, c.name_en, c.address)
                for c in service.list_clinics(uow=uow)
            ],
            referrals=_issued_referrals(uow, actor, specialties, now),
            home_visits=_assigned_home_visits(uow, actor, [p.id for p in posts]),
        )
        uow.commit()
        return result


def _marked_today(session: Session, appointment_ids: list[int], now: datetime) -> set[int]:
    """Of these appointments, those marked attended or missed on today's city date."""
    if not appointment_ids:
        return set()
    start, end = _day_bounds(city_date(now))
    return set(
        session.scalars(
            select(APPOINTMENTS.c.id).where(
                APPOINTMENTS.c.id.in_(appointment_ids),
                APPOINTMENTS.c.status.in_(rules.expected(Move.APPOINTMENT_UNDO_OUTCOME)),
                APPOINTMENTS.c.outcome_at >= start,
                APPOINTMENTS.c.outcome_at < end,
            )
        )
    )


def _issued_referrals(
    uow: UnitOfWork, actor: Principal, specialties: dict[int, SpecialtyRead], now: datetime
) -> list[ReferralView]:
    """The referrals the doctor issued, newest first (each patient shown is audited)."""
    session = uow.session
    rows = session.execute(
        select(Referral)
        .where(Referral.issued_by_user_id == actor.user_id)
        .order_by(Referral.issued_at.desc(), Referral.id.desc())
        .limit(MY_LIMIT)
    ).scalars().all()  # fmt: skip
    names = accounts.person_names(session, (r.person_id for r in rows))
    clinics = _Clinics(uow)
    for r in rows:
        _audit_patients(
            session,
            actor,
            "health.doctor.referrals",
            [r.person_id],
            r.clinic_id,
            f"referral {r.id}",
        )
    return [
        ReferralView(
            id=r.id,
            person_id=r.person_id,
            patient_name=names.get(r.person_id, ""),
            specialty=specialties[r.specialty_id],
            target_clinic=clinics.get(r.target_clinic_id) if r.target_clinic_id else None,
            issued_at=r.issued_at,
            valid_until=r.valid_until,
            status=r.status,
            usable=r.status == rules.ReferralStatus.ACTIVE and r.valid_until > now,
        )
        for r in rows
    ]


def _assigned_home_visits(
    uow: UnitOfWork, actor: Principal, post_ids: list[int]
) -> list[HomeVisitView]:
    """The open home visits assigned to the doctor's posts, oldest first (audited)."""
    if not post_ids:
        return []
    session = uow.session
    visits = session.scalars(
        select(HomeVisitRequest)
        .where(
            HomeVisitRequest.practitioner_id.in_(post_ids),
            HomeVisitRequest.status.in_(service.OPEN_HOME_VISITS),
        )
        .order_by(HomeVisitRequest.created_at, HomeVisitRequest.id)
        .limit(MY_LIMIT)
    ).all()
    names = accounts.person_names(session, (v.person_id for v in visits))
    doctors = {
        row.id: row.name
        for row in session.execute(
            select(Practitioner.id, Practitioner.name).where(Practitioner.id.in_(post_ids))
        )
    }
    clinics = _Clinics(uow)
    views = []
    for v in visits:
        _audit_patients(
            session, actor, "health.doctor.home_visits", [v.person_id], v.clinic_id, f"visit {v.id}"
        )
        views.append(
            HomeVisitView(
                id=v.id,
                person_id=v.person_id,
                patient_name=names.get(v.person_id, ""),
                address=v.address,
                reason=v.reason,
                contact_phone=v.contact_phone,
                status=v.status,
                doctor=doctors.get(v.practitioner_id) if v.practitioner_id else None,
                clinic=clinics.get(v.clinic_id),
                created_at=v.created_at,
                updated_at=v.updated_at,
            )
        )
    return views
