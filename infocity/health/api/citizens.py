"""JSON routes of the citizen API: what this patient may book (specialties, free times by
day with doctors and rooms), their referrals, polyclinics and appointments with where to
go, by a bearer token or by OMS policy and date of birth as at the kiosk (each call by
policy identifies anew and counts towards the kiosk's limits, so these are POSTs: a
policy number never goes into a URL)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from infocity.core.i18n import gettext
from infocity.core.schemas import MAX_ID
from infocity.health import reads, service
from infocity.health.schemas import (
    AppointmentDetailsRead,
    AppointmentRead,
    AttachmentDetailsRead,
    BookingOptionsRead,
    DoctorRead,
    IdentifiedRescheduleCreate,
    IdentifiedSlotFilter,
    PatientIdentity,
    PatientSlotsRead,
    ReferralDetailsRead,
)
from infocity.web.deps import LoggedIn, client_ip
from infocity.web.errors import error_responses

router = APIRouter()

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
PatientId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="You (default) or your child")]
Code = Annotated[str, Query(min_length=1, max_length=40, description="A specialty's code")]
CITIZEN_ERRORS = error_responses(401, 403, 404, 422)
BY_POLICY_ERRORS = error_responses(404, 409, 422, 429)


def _slots(choice: reads.SlotChoice) -> PatientSlotsRead:
    """Free times as the API gives them: every day of the two weeks, the doctors with
    their free count, and why nothing is offered in the user's language."""
    return PatientSlotsRead.model_validate(
        {
            "patient": choice.patient,
            "specialty": choice.specialty,
            "clinic": choice.clinic,
            "referral_id": choice.referral_id,
            "problem": gettext(choice.problem) if choice.problem else None,
            "doctors": choice.picker.doctors if choice.picker else [],
            "days": choice.days,
        }
    )


@router.get(
    "/booking-options",
    response_model=BookingOptionsRead,
    responses=CITIZEN_ERRORS,
    summary="What you (or your child) may book: specialties by age, sex, polyclinic, referral",
)
def booking_options(actor: LoggedIn, patient_id: PatientId = None) -> reads.BookingHome:
    return reads.booking_home(actor, patient_id)


@router.get(
    "/patient-slots",
    response_model=PatientSlotsRead,
    responses=CITIZEN_ERRORS,
    summary="Free times you (or your child) may book in a specialty, by day, with doctors",
)
def patient_slots(
    actor: LoggedIn,
    specialty_code: Code,
    patient_id: PatientId = None,
    referral_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> PatientSlotsRead:
    return _slots(reads.slot_choice(actor, patient_id, specialty_code, referral_id))


@router.get(
    "/referrals",
    response_model=list[ReferralDetailsRead],
    responses=CITIZEN_ERRORS,
    summary="Your and your children's referrals: open, used, expired, cancelled",
)
def my_referrals(actor: LoggedIn, patient_id: PatientId = None) -> list[reads.ReferralView]:
    return reads.my_referrals(actor, patient_id)


@router.get(
    "/attachments",
    response_model=list[AttachmentDetailsRead],
    responses=CITIZEN_ERRORS,
    summary="The polyclinics you and your children are attached to, and when they may change",
)
def my_attachments(actor: LoggedIn, patient_id: PatientId = None) -> list[reads.AttachmentView]:
    return reads.my_attachments(actor, patient_id)


@router.get(
    "/specialties/{specialty_id}/doctors",
    response_model=list[DoctorRead],
    responses=error_responses(422),
    summary="The doctors of a specialty (optionally of one polyclinic)",
)
def specialty_doctors(
    specialty_id: IdPath,
    clinic_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> list[DoctorRead]:
    return service.list_doctors(specialty_id=specialty_id, clinic_id=clinic_id)


# --- By OMS policy and date of birth -------------------------------------------------


@router.post(
    "/kiosk/booking-options",
    response_model=BookingOptionsRead,
    responses=BY_POLICY_ERRORS,
    summary="What the patient named by policy and birth date may book",
)
def booking_options_by_policy(data: PatientIdentity, request: Request) -> reads.BookingHome:
    return reads.identified_home(data, ip=client_ip(request))


@router.post(
    "/kiosk/slots",
    response_model=PatientSlotsRead,
    responses=BY_POLICY_ERRORS,
    summary="Free times the patient named by policy and birth date may book, by day",
)
def slots_by_policy(data: IdentifiedSlotFilter, request: Request) -> PatientSlotsRead:
    return _slots(reads.identified_slots(data, ip=client_ip(request)))


@router.post(
    "/kiosk/referrals",
    response_model=list[ReferralDetailsRead],
    responses=BY_POLICY_ERRORS,
    summary="The referrals of the patient named by policy and birth date",
)
def referrals_by_policy(data: PatientIdentity, request: Request) -> list[reads.ReferralView]:
    return reads.identified_referrals(data, ip=client_ip(request))


@router.post(
    "/kiosk/attachments",
    response_model=list[AttachmentDetailsRead],
    responses=BY_POLICY_ERRORS,
    summary="The polyclinics of the patient named by policy and birth date",
)
def attachments_by_policy(data: PatientIdentity, request: Request) -> list[reads.AttachmentView]:
    return reads.identified_attachments(data, ip=client_ip(request))


@router.post(
    "/kiosk/appointments/list",
    response_model=list[AppointmentDetailsRead],
    responses=BY_POLICY_ERRORS,
    summary="The appointments of the patient named by policy and birth date, latest first",
)
def appointments_by_policy(data: PatientIdentity, request: Request) -> list[AppointmentDetailsRead]:
    return reads.identified_appointments(data, ip=client_ip(request))


@router.post(
    "/kiosk/appointments/{appointment_id}/cancel",
    response_model=AppointmentRead,
    responses=BY_POLICY_ERRORS,
    summary="Cancel an appointment by policy and birth date, before it starts",
)
def cancel_by_policy(
    appointment_id: IdPath, data: PatientIdentity, request: Request
) -> AppointmentRead:
    return service.cancel_by_policy(appointment_id, data, ip=client_ip(request))


@router.post(
    "/kiosk/appointments/{appointment_id}/reschedule",
    response_model=AppointmentRead,
    responses=BY_POLICY_ERRORS,
    summary="Move an appointment to another time by policy and birth date (all or nothing)",
)
def reschedule_by_policy(
    appointment_id: IdPath, data: IdentifiedRescheduleCreate, request: Request
) -> AppointmentRead:
    return service.reschedule_by_policy(appointment_id, data, ip=client_ip(request))
