"""What a citizen asks of health: what they may book for their family, free times, their
appointments and tickets, other times for a move."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import select

from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules, service
from infocity.health.reads.base import (
    APPOINTMENTS,
    _appointment_details,
    _appointment_practitioner,
    _appointment_views,
    _attachment_views,
    _booking_home,
    _family,
    _family_patient,
    _one_appointment,
    _own_doctor,
    _pick_slots,
    _referral_views,
    _reschedule_choice,
    _slot_choice,
    _slot_details,
    _suspensions,
)
from infocity.health.reads.shapes import (
    AppointmentView,
    AttachmentView,
    BookingConfirmation,
    BookingHome,
    CalendarEvent,
    MyAppointments,
    ReferralView,
    RescheduleChoice,
    RescheduleConfirmation,
    SlotChoice,
)
from infocity.health.schemas import AppointmentDetailsRead


def booking_home(
    actor: Principal | None,
    patient_id: int | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> BookingHome:
    """The citizen's family, the chosen patient's polyclinic and bookable specialties."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        patients, patient = _family_patient(uow, actor, patient_id)
        home = _booking_home(uow, patients, patient, now)
        suspensions = []
        for member in patients:  # the whole family: a child's suspension is shown too
            status = service.get_booking_status(actor, member.id, now=now, uow=uow)
            suspensions.extend(_suspensions(member, status))
        return replace(home, suspensions=suspensions)


def slot_choice(
    actor: Principal | None,
    patient_id: int | None,
    specialty_code: str,
    referral_id: int | None = None,
    *,
    doctor_id: int | None = None,
    day: date | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SlotChoice:
    """Free times of a specialty for the citizen's patient over the next two weeks, with
    the doctor filter and the day picker narrowed to ``doctor_id`` and ``day``."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _patients, patient = _family_patient(uow, actor, patient_id)
        choice = _slot_choice(uow, patient, specialty_code, referral_id, now)
        own = _own_doctor(uow.session, patient.id, choice.specialty.id)
        return replace(choice, picker=_pick_slots(choice.days, own, doctor_id, day))


def booking_confirmation(
    actor: Principal | None,
    patient_id: int | None,
    slot_id: int,
    referral_id: int | None = None,
    *,
    uow: UnitOfWork | None = None,
) -> BookingConfirmation:
    """What the citizen is about to book: patient, doctor, room, time, address."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    uow = uow or UnitOfWork()
    with uow:
        _patients, patient = _family_patient(uow, actor, patient_id)
        return BookingConfirmation(patient, _slot_details(uow, slot_id), referral_id)


def citizen_ticket(
    actor: Principal | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentView:
    """The ticket of the citizen's (or their child's) appointment; others' are "not found"."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        family = {p.id for p in _family(uow, actor)}
        appointment = _one_appointment(uow, appointment_id, now)
        if appointment.person_id not in family:
            raise errors.AppointmentNotFound()
        return appointment


def my_appointments(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> MyAppointments:
    """The family's appointments (upcoming first, soonest first) and referrals."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        family = {p.id: p for p in _family(uow, actor)}
        # One read of the rows (the service's, latest first), split here: a second query
        # for the upcoming ones could disagree with the first.
        everything = _appointment_views(
            uow, service.list_my_appointments(actor, now=now, uow=uow), now
        )
        upcoming = [a for a in everything if rules.is_upcoming(a.status, a.starts_at, now)]
        upcoming.reverse()
        past = [a for a in everything if a not in upcoming]
        referrals = _referral_views(uow, list(family.values()), now)
        return MyAppointments(upcoming, past, referrals)


def reschedule_choice(
    actor: Principal | None,
    appointment_id: int,
    *,
    doctor_id: int | None = None,
    day: date | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RescheduleChoice:
    """Other free times of the same specialty at the same polyclinic, for a move, narrowed
    to ``doctor_id`` and ``day`` (the current doctor listed first)."""
    appointment = citizen_ticket(actor, appointment_id, now=now, uow=uow)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        choice = _reschedule_choice(uow, appointment, now)
        own = _appointment_practitioner(uow, appointment_id)
        return replace(choice, picker=_pick_slots(choice.days, own, doctor_id, day))


def reschedule_confirmation(
    actor: Principal | None,
    appointment_id: int,
    slot_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> RescheduleConfirmation:
    """The citizen's appointment and the time they chose to move it to, before the move."""
    appointment = citizen_ticket(actor, appointment_id, now=now, uow=uow)
    if not appointment.changeable:
        raise errors.AppointmentNotActive()
    uow = uow or UnitOfWork()
    with uow:
        slot = _slot_details(uow, slot_id)
        if slot.specialty.id != appointment.specialty.id:
            raise errors.SlotNotFound()  # a move keeps the specialist
        return RescheduleConfirmation(appointment, slot)


def calendar_event(
    actor: Principal | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CalendarEvent:
    """The citizen's (or their child's) appointment as a calendar entry."""
    appointment = citizen_ticket(actor, appointment_id, now=now, uow=uow)
    uow = uow or UnitOfWork()
    with uow:
        ends_at = uow.session.scalar(
            select(APPOINTMENTS.c.ends_at).where(APPOINTMENTS.c.id == appointment_id)
        )
        return CalendarEvent(appointment, ends_at or appointment.starts_at)


def my_appointment_details(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> list[AppointmentDetailsRead]:
    """The family's appointments, latest first, each with the clinic's address, the room
    and the doctor (the rows of ``service.list_my_appointments``)."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        return _appointment_details(uow, service.list_my_appointments(actor, now=now, uow=uow), now)


def my_referrals(
    actor: Principal | None,
    patient_id: int | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[ReferralView]:
    """The referrals of the family (or of one of it): open, used, expired, cancelled."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        patients, patient = _family_patient(uow, actor, patient_id)
        return _referral_views(uow, patients if patient_id is None else [patient], now)


def my_attachments(
    actor: Principal | None, patient_id: int | None = None, *, uow: UnitOfWork | None = None
) -> list[AttachmentView]:
    """The polyclinics the family (or one of it) is attached to, and when each may change."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_OWN)
    uow = uow or UnitOfWork()
    with uow:
        patients, patient = _family_patient(uow, actor, patient_id)
        return _attachment_views(uow, patients if patient_id is None else [patient])


def my_appointment(
    actor: Principal | None,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentDetailsRead:
    """One appointment of the family with the clinic's address, the room and the doctor."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        found = service.get_appointment(actor, appointment_id, uow=uow)
        return _appointment_details(uow, [found], now)[0]
