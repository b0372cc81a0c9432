"""What the registrar's desk reads: a clinic's day, a patient's card, free times and moves
for a patient. Every patient shown to staff is recorded in the audit log in the same
transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules, service
from infocity.health.models import Attachment, Clinic, Practitioner
from infocity.health.reads.base import (
    APPOINTMENTS,
    ATTACHED_ELSEWHERE,
    MY_LIMIT,
    OCCUPYING,
    REGISTRY_ROLES,
    SLOTS,
    _appointments,
    _attached_clinic,
    _audit_patients,
    _Clinics,
    _day_bounds,
    _head_clinic,
    _one_appointment,
    _posted_specialties,
    _reschedule_choice,
    _slot_choice,
    _specialties,
    _staff_clinic,
    _suspensions,
    _unsuited,
    _unsuited_for_clinic,
)
from infocity.health.reads.shapes import (
    AppointmentView,
    ClinicDay,
    ClinicInfo,
    DaySlotRow,
    DoctorDay,
    PatientCard,
    PatientOption,
    RegistrySlotChoice,
    RescheduleChoice,
)


def registry_clinic(
    actor: Principal | None, clinic_id: int | None, *, uow: UnitOfWork | None = None
) -> tuple[list[ClinicInfo], ClinicInfo]:
    """The clinics a registrar works in and the one asked for (default: the first)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    uow = uow or UnitOfWork()
    with uow:
        return _staff_clinic(uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id)


def clinic_day(
    actor: Principal | None,
    clinic_id: int | None,
    day: date | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ClinicDay:
    """Every doctor's slots of a clinic on a city date, booked ones with the patient's
    name; each patient shown is recorded in the audit log."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    now = now or utcnow()
    day = day or city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        start, end = _day_bounds(day)
        slots = session.execute(
            select(
                SLOTS.c.id,
                SLOTS.c.practitioner_id,
                SLOTS.c.starts_at,
                SLOTS.c.ends_at,
                SLOTS.c.status,
            )
            .where(
                SLOTS.c.clinic_id == clinic.id,
                SLOTS.c.starts_at >= start,
                SLOTS.c.starts_at < end,
            )
            .order_by(SLOTS.c.starts_at, SLOTS.c.id)
        ).all()
        occupied: dict[int, Any] = {}
        for row in session.execute(
            select(
                APPOINTMENTS.c.id,
                APPOINTMENTS.c.slot_id,
                APPOINTMENTS.c.person_id,
                APPOINTMENTS.c.status,
                APPOINTMENTS.c.ticket_number,
            )
            .where(
                APPOINTMENTS.c.clinic_id == clinic.id,
                APPOINTMENTS.c.starts_at >= start,
                APPOINTMENTS.c.starts_at < end,
                APPOINTMENTS.c.status.in_(OCCUPYING),
            )
            .order_by(APPOINTMENTS.c.id)
        ):
            occupied[row.slot_id] = row  # the latest one wins
        names = accounts.person_names(session, (a.person_id for a in occupied.values()))
        practitioners = {
            p.id: p
            for p in session.scalars(
                select(Practitioner)
                .where(Practitioner.clinic_id == clinic.id)
                .order_by(Practitioner.name)
            )
        }
        specialties = _specialties(session)
        rows: dict[int, list[DaySlotRow]] = {pid: [] for pid in practitioners}
        for slot in slots:
            booking = occupied.get(slot.id)
            rows.setdefault(slot.practitioner_id, []).append(
                DaySlotRow(
                    slot_id=slot.id,
                    starts_at=slot.starts_at,
                    ends_at=slot.ends_at,
                    status=slot.status,
                    appointment_id=booking.id if booking else None,
                    appointment_status=booking.status if booking else None,
                    person_id=booking.person_id if booking else None,
                    patient_name=names.get(booking.person_id) if booking else None,
                    ticket_number=booking.ticket_number if booking else None,
                )
            )
        doctors = [
            DoctorDay(p.id, p.name, p.room, specialties[p.specialty_id], rows[p.id])
            for p in practitioners.values()
            if rows.get(p.id) or p.active
        ]
        _audit_patients(
            session, actor, "health.registry.day", names, clinic.id, f"day {day.isoformat()}"
        )
        uow.commit()
        return ClinicDay(clinics, clinic, day, doctors)


def _patient_card(
    uow: UnitOfWork,
    actor: Principal,
    clinic: ClinicInfo,
    person_id: int,
    now: datetime,
    action: str,
) -> PatientCard:
    session = uow.session
    facts = accounts.person_by_id(session, person_id)
    if facts is None:
        raise errors.PatientNotFound()
    name = accounts.person_names(session, [person_id]).get(person_id, facts.first_name)
    patient = PatientOption(person_id, name, facts.birth_date, sex=facts.sex)
    clinics = _Clinics(uow)
    branches = select(Clinic.id).where(Clinic.parent_clinic_id == clinic.id)
    appointments = _appointments(
        uow,
        [
            APPOINTMENTS.c.person_id == person_id,
            APPOINTMENTS.c.status == rules.AppointmentStatus.BOOKED,
            APPOINTMENTS.c.starts_at > now,
            (APPOINTMENTS.c.clinic_id == clinic.id) | APPOINTMENTS.c.clinic_id.in_(branches),
        ],
        now,
        limit=MY_LIMIT,
        newest_first=False,
    )
    today = city_date(now)
    attached = _attached_clinic(session, clinics, patient, today)
    problem = _unsuited_for_clinic(session, patient, clinic.id, today)
    if problem is None and (attached is None or attached.id != _head_clinic(session, clinic.id)):
        problem = ATTACHED_ELSEWHERE
    posted = _posted_specialties(session, clinic.id)
    # Only what the clinic has a doctor for and would see the patient for; a patient of
    # another clinic only by referral; one the clinic does not serve at all, nothing.
    specialties = [
        s
        for s in service.list_specialties(uow=uow)
        if s.id in posted
        and _unsuited(session, patient, s, clinic.id, today) is None
        and (problem is None or (problem == ATTACHED_ELSEWHERE and s.booking_mode == "referral"))
    ]
    specialties.sort(key=lambda s: (s.booking_mode != "direct", s.name))
    head_id = _head_clinic(session, clinic.id)
    attached_here = attached is not None and attached.id == head_id
    _audit_patients(session, actor, action, [person_id], clinic.id, f"clinic {clinic.id}")
    session.flush()  # a look-up by policy just recorded lets the scope check below pass
    # So that the registrar can explain a suspension (and still book); audited too.
    status = service.staff_booking_status(uow, actor, person_id, now)
    suspensions = _suspensions(patient, status)
    return PatientCard(
        clinic=clinic,
        person_id=person_id,
        name=name,
        birth_date=facts.birth_date,
        attached_clinic=attached,
        appointments=appointments,
        specialties=specialties,
        suspension=suspensions[0] if suspensions else None,
        sex=facts.sex,
        problem=problem,
        district=_district(session, person_id, head_id) if attached_here else None,
        districts=service.district_doctors(session, head_id) if attached_here else {},
    )


def _district(session: Session, person_id: int, head_clinic_id: int) -> int | None:
    return session.scalar(
        select(Attachment.district).where(
            Attachment.person_id == person_id,
            Attachment.clinic_id == head_clinic_id,
            Attachment.valid_to.is_(None),
        )
    )


def _check_in_care(uow: UnitOfWork, actor: Principal, clinic: ClinicInfo, person_id: int) -> None:
    # The answer for a patient of another clinic is the one for an id no one has.
    head = _head_clinic(uow.session, clinic.id)
    if not service.in_care_of(uow.session, actor, person_id, [head]):
        raise errors.PatientNotFound()


def find_patient(
    actor: Principal | None,
    clinic_id: int | None,
    oms_policy: str,
    birth_date: date | None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PatientCard:
    """Find a patient by OMS policy (and date of birth, when given) for the registry;
    rate-limited per staff member and audited."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    policy = accounts.normalize_oms_policy(oms_policy)
    service.count_staff_lookup(actor)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        facts = accounts.person_by_policy(uow.session, policy)
        if facts is None or (birth_date is not None and facts.birth_date != birth_date):
            audit.record(
                uow.session,
                actor,
                "health.patient.lookup",
                organisation_id=clinic.id,
                detail="policy: not found",
            )
            uow.commit()
            raise errors.PatientNotFound()
        card = _patient_card(uow, actor, clinic, facts.person_id, now, "health.patient.lookup")
        uow.commit()
        return card


def patient_card(
    actor: Principal | None,
    clinic_id: int | None,
    person_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PatientCard:
    """A patient's upcoming appointments at the clinic, for the registry: only a patient
    of the clinic (``service.in_care_of``), rate-limited like the look-up and audited."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    service.count_staff_lookup(actor)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        _check_in_care(uow, actor, clinic, person_id)
        card = _patient_card(uow, actor, clinic, person_id, now, "health.patient.view")
        uow.commit()
        return card


def registry_slots(
    actor: Principal | None,
    clinic_id: int | None,
    person_id: int,
    specialty_code: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RegistrySlotChoice:
    """Free times at the registrar's clinic for a patient of the clinic (as
    ``patient_card``: rate-limited, audited, the name is shown)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    service.count_staff_lookup(actor)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        _check_in_care(uow, actor, clinic, person_id)
        card = _patient_card(uow, actor, clinic, person_id, now, "health.patient.view")
        patient = PatientOption(card.person_id, card.name, card.birth_date, sex=card.sex)
        choice = _slot_choice(uow, patient, specialty_code, None, now, clinic_id=clinic.id)
        uow.commit()
        return RegistrySlotChoice(card, choice)


def registry_reschedule_choice(
    actor: Principal | None,
    clinic_id: int | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RescheduleChoice:
    """Other free times for a patient's appointment at the clinic (audited)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        appointment = _one_appointment(uow, appointment_id, now)
        if _head_clinic(uow.session, appointment.clinic.id) != _head_clinic(uow.session, clinic.id):
            raise errors.AppointmentNotFound()
        choice = _reschedule_choice(uow, appointment, now)
        _audit_patients(
            uow.session,
            actor,
            "health.patient.view",
            [appointment.person_id],
            clinic.id,
            f"appointment {appointment.id}",
        )
        uow.commit()
        return choice


def find_patients_by_name(
    actor: Principal | None,
    clinic_id: int | None,
    last_name: str,
    birth_date: date,
    *,
    uow: UnitOfWork | None = None,
) -> list[PatientOption]:
    """Patients of the registrar's clinic with this surname born on this date, for a
    desk without the policy at hand; rate-limited like the look-up by policy, and each
    patient shown (or the miss) recorded in the audit log."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    service.count_staff_lookup(actor)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        head = _head_clinic(session, clinic.id)
        # Only the clinic's own patients: the answer for anyone else is "not found".
        found = [
            facts
            for facts in accounts.persons_by_name_and_birth(session, last_name, birth_date)
            if service.in_care_of(session, actor, facts.person_id, [head])
        ]
        names = accounts.person_names(session, (f.person_id for f in found))
        if found:
            _audit_patients(
                session, actor, "health.patient.lookup", names, clinic.id, "surname and birth date"
            )
        else:
            audit.record(
                session,
                actor,
                "health.patient.lookup",
                organisation_id=clinic.id,
                detail="surname and birth date: not found",
            )
        uow.commit()
        return [PatientOption(f.person_id, names[f.person_id], f.birth_date) for f in found]


def registry_appointment(
    actor: Principal | None,
    clinic_id: int | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentView:
    """One appointment at the registrar's clinic, for its ticket or for cancelling it
    (audited)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _clinics, clinic = _staff_clinic(
            uow, actor, Action.APPOINTMENT_BOOK_FOR_ANY, REGISTRY_ROLES, clinic_id
        )
        appointment = _one_appointment(uow, appointment_id, now)
        if _head_clinic(uow.session, appointment.clinic.id) != _head_clinic(uow.session, clinic.id):
            raise errors.AppointmentNotFound()
        _audit_patients(
            uow.session,
            actor,
            "health.patient.view",
            [appointment.person_id],
            clinic.id,
            f"appointment {appointment.id}",
        )
        uow.commit()
        return appointment
