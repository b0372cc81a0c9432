"""What a polyclinic's kiosk shows an identified patient (the kiosk checked the identity)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from infocity.accounts import service as accounts
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import errors, service
from infocity.health.reads.base import (
    _booking_home,
    _one_appointment,
    _own_doctor,
    _pick_slots,
    _slot_choice,
    _slot_details,
    _suspensions,
)
from infocity.health.reads.shapes import (
    AppointmentView,
    BookingConfirmation,
    BookingHome,
    PatientOption,
    SlotChoice,
)


def _kiosk_patient(uow: UnitOfWork, person_id: int) -> PatientOption:
    facts = accounts.person_by_id(uow.session, person_id)
    if facts is None:
        raise errors.PatientNotFound()
    # A kiosk screen is public: the patient is greeted by first name only.
    return PatientOption(facts.person_id, facts.first_name, facts.birth_date, True, facts.sex)


def kiosk_home(
    person_id: int, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> BookingHome:
    """What an identified kiosk patient may book (the caller checked the identity)."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        patient = _kiosk_patient(uow, person_id)
        home = _booking_home(uow, [patient], patient, now)
        # Shown before the patient picks a time, not as a refusal after confirming.
        status = service.identified_booking_status(person_id, now=now, uow=uow)
        return replace(home, suspensions=_suspensions(patient, status))


def kiosk_slots(
    person_id: int,
    specialty_code: str,
    referral_id: int | None = None,
    *,
    doctor_id: int | None = None,
    day: date | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SlotChoice:
    """Free times for an identified kiosk patient, narrowed to a doctor and a day."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        patient = _kiosk_patient(uow, person_id)
        choice = _slot_choice(uow, patient, specialty_code, referral_id, now)
        own = _own_doctor(uow.session, patient.id, choice.specialty.id)
        return replace(choice, picker=_pick_slots(choice.days, own, doctor_id, day))


def kiosk_confirmation(
    person_id: int, slot_id: int, referral_id: int | None = None, *, uow: UnitOfWork | None = None
) -> BookingConfirmation:
    """What the kiosk patient is about to book."""
    uow = uow or UnitOfWork()
    with uow:
        return BookingConfirmation(
            _kiosk_patient(uow, person_id), _slot_details(uow, slot_id), referral_id
        )


def kiosk_ticket(
    person_id: int,
    appointment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentView:
    """The ticket of the identified patient's appointment; anyone else's is "not found"."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        appointment = _one_appointment(uow, appointment_id, now)
        if appointment.person_id != person_id:
            raise errors.AppointmentNotFound()
        return appointment
