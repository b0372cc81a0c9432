"""What a polyclinic's kiosk shows an identified patient (the kiosk checked the identity)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from infocity.accounts import service as accounts
from infocity.core import audit
from infocity.core.auth import SYSTEM, Principal
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import errors, service
from infocity.health.reads.base import (
    _appointment_details,
    _attachment_views,
    _booking_home,
    _one_appointment,
    _own_doctor,
    _pick_slots,
    _referral_views,
    _slot_choice,
    _slot_details,
    _suspensions,
)
from infocity.health.reads.shapes import (
    AppointmentView,
    AttachmentView,
    BookingConfirmation,
    BookingHome,
    PatientOption,
    ReferralView,
    SlotChoice,
)
from infocity.health.schemas import AppointmentDetailsRead, IdentifiedSlotFilter, PatientIdentity


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


def client_slots(
    client: service.FhirClientAccess,
    person_id: int,
    specialty_code: str,
    referral_id: int | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SlotChoice:
    """Free times a client system offers the patient it names (FHIR's ``$find``): the
    kiosk's, read from the patient's polyclinic and referrals, so the reading is audited
    as finding the patient by policy is (the entry and the reading commit together)."""
    uow = uow or UnitOfWork()
    with uow:
        choice = kiosk_slots(person_id, specialty_code, referral_id, now=now, uow=uow)
        audit.record(
            uow.session,
            SYSTEM,
            "health.fhir.find",
            subject_person_id=person_id,
            detail=f"client {client.client_id} ({client.name}), {specialty_code}",
        )
        uow.commit()
        return choice


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


# --- The same, for a patient who names their OMS policy and date of birth (the JSON API):
# each call identifies anew, counted towards the kiosk's limits, before anything is read.


def _identified(data: PatientIdentity, ip: str | None) -> int:
    return service.identify_patient(data.oms_policy, data.birth_date, ip=ip)


def identified_home(
    data: PatientIdentity, *, ip: str | None = None, now: datetime | None = None
) -> BookingHome:
    """What the patient named by policy and birth date may book."""
    return kiosk_home(_identified(data, ip), now=now)


def identified_slots(
    data: IdentifiedSlotFilter, *, ip: str | None = None, now: datetime | None = None
) -> SlotChoice:
    """Free times the patient named by policy and birth date may book."""
    return kiosk_slots(_identified(data, ip), data.specialty_code, data.referral_id, now=now)


def identified_referrals(
    data: PatientIdentity,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[ReferralView]:
    """The referrals of the patient named by policy and birth date."""
    person_id = _identified(data, ip)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        return _referral_views(uow, [_kiosk_patient(uow, person_id)], now)


def identified_attachments(
    data: PatientIdentity, *, ip: str | None = None, uow: UnitOfWork | None = None
) -> list[AttachmentView]:
    """The polyclinics the patient named by policy and birth date is attached to."""
    person_id = _identified(data, ip)
    uow = uow or UnitOfWork()
    with uow:
        return _attachment_views(uow, [_kiosk_patient(uow, person_id)])


def identified_appointments(
    data: PatientIdentity,
    *,
    ip: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AppointmentDetailsRead]:
    """The appointments of the patient named by policy and birth date, latest first,
    with the clinic's address, the room and the doctor."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        found = service.list_identified_appointments(data, ip=ip, now=now, uow=uow)
        return _appointment_details(uow, found, now)


def patient_appointments(
    actor: Principal | None,
    person_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AppointmentDetailsRead]:
    """A patient's appointments with where to go, for the city's own systems."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        found = service.list_patient_appointments(actor, person_id, now=now, uow=uow)
        return _appointment_details(uow, found, now)
