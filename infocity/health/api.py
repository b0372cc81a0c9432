"""JSON routes of medical appointments (thin: parse, call one service function, answer).

Booking refusals are 409 with one of the codes ``slot_taken``, ``slot_in_past``,
``slot_not_released``, ``slot_held``, ``slot_blocked``, ``not_attached``,
``age_not_served``, ``birth_date_required``, ``referral_required``, ``referral_expired``,
``referral_used``, ``referral_mismatch``, ``active_limit_reached``; unknown things are 404
(``slot_not_found``, ``patient_not_found``, ``referral_not_found``, ...).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from infocity.core.auth import Principal
from infocity.core.errors import Unauthenticated
from infocity.core.i18n import N_
from infocity.health import service
from infocity.health.schemas import (
    AnonymousBookingCreate,
    AppointmentRead,
    AttachmentCreate,
    AttachmentRead,
    BookingCreate,
    CityDate,
    ClinicRead,
    ReferralCreate,
    ReferralRead,
    RegistryBookingCreate,
    RescheduleCreate,
    ScheduleExceptionCreate,
    ScheduleExceptionRead,
    ScheduleRuleCreate,
    ScheduleRuleRead,
    SlotRead,
    SlotSearch,
    SpecialtyRead,
)
from infocity.web.deps import api_principal
from infocity.web.errors import error_responses

router = APIRouter(prefix="/health", tags=["health"])

IdPath = Annotated[int, Path(ge=1, le=2**63 - 1)]
CurrentUser = Annotated[Principal | None, Depends(api_principal)]


def _logged_in(principal: CurrentUser) -> Principal:
    # Service functions read a missing actor as the trusted command line: routes that
    # reach them must have a user.
    if principal is None:
        raise Unauthenticated("login_required", N_("Please log in to continue."))
    return principal


LoggedIn = Annotated[Principal, Depends(_logged_in)]
BOOKING_ERRORS = error_responses(401, 403, 404, 409, 422)


def _ip(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.get("/specialties", response_model=list[SpecialtyRead], summary="The specialties")
def list_specialties() -> list[SpecialtyRead]:
    return service.list_specialties()


@router.get("/clinics", response_model=list[ClinicRead], summary="Polyclinics and branches")
def list_clinics() -> list[ClinicRead]:
    return service.list_clinics()


@router.get(
    "/slots",
    response_model=list[SlotRead],
    responses=error_responses(422),
    summary="Free, bookable times of a specialty, earliest first",
)
def search_slots(
    specialty_id: Annotated[int, Query(ge=1, le=2**63 - 1)],
    clinic_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    date_from: Annotated[CityDate | None, Query()] = None,
    date_to: Annotated[CityDate | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SlotRead]:
    search = SlotSearch(
        specialty_id=specialty_id,
        clinic_id=clinic_id,
        date_from=date_from,
        date_to=date_to,
        limit=limit,
    )
    return service.search_free_slots(search)


@router.post(
    "/appointments",
    status_code=201,
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Book a time for yourself or your child",
)
def book(data: BookingCreate, principal: CurrentUser) -> AppointmentRead:
    return service.book_slot(principal, data)


@router.post(
    "/kiosk/appointments",
    status_code=201,
    response_model=AppointmentRead,
    responses=error_responses(404, 409, 422, 429),
    summary="Book by OMS policy and date of birth (kiosk, call centre)",
)
def book_by_policy(data: AnonymousBookingCreate, request: Request) -> AppointmentRead:
    return service.book_by_policy(data, ip=_ip(request))


@router.post(
    "/registry/appointments",
    status_code=201,
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Book a time for any patient (clinic registrars)",
)
def book_for_patient(data: RegistryBookingCreate, principal: CurrentUser) -> AppointmentRead:
    return service.book_for_patient(principal, data)


@router.get(
    "/appointments",
    response_model=list[AppointmentRead],
    responses=error_responses(401, 403),
    summary="Your and your children's appointments, latest first",
)
def my_appointments(principal: CurrentUser) -> list[AppointmentRead]:
    return service.list_my_appointments(principal)


@router.post(
    "/appointments/{appointment_id}/cancel",
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Cancel an appointment before it starts",
)
def cancel(appointment_id: IdPath, principal: LoggedIn) -> AppointmentRead:
    return service.cancel_appointment(principal, appointment_id)


@router.post(
    "/appointments/{appointment_id}/reschedule",
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Move an appointment to another time (all or nothing)",
)
def reschedule(
    appointment_id: IdPath, data: RescheduleCreate, principal: LoggedIn
) -> AppointmentRead:
    return service.reschedule_appointment(principal, appointment_id, data)


@router.post(
    "/clinics/{clinic_id}/referrals",
    status_code=201,
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Refer a patient to a specialty (doctors of the clinic)",
)
def issue_referral(clinic_id: IdPath, data: ReferralCreate, principal: CurrentUser) -> ReferralRead:
    return service.issue_referral(principal, clinic_id, data)


@router.post(
    "/attachments",
    status_code=201,
    response_model=AttachmentRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Attach yourself, your child or a patient to a polyclinic",
)
def attach(data: AttachmentCreate, principal: LoggedIn) -> AttachmentRead:
    return service.attach_patient(principal, data)


@router.post(
    "/schedule-rules",
    status_code=201,
    response_model=ScheduleRuleRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Add a weekly working pattern (clinic administrators)",
)
def add_schedule_rule(data: ScheduleRuleCreate, principal: LoggedIn) -> ScheduleRuleRead:
    return service.set_schedule_rule(principal, data)


@router.post(
    "/schedule-exceptions",
    status_code=201,
    response_model=ScheduleExceptionRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Record an absence or extra hours (clinic administrators)",
)
def add_schedule_exception(
    data: ScheduleExceptionCreate, principal: LoggedIn
) -> ScheduleExceptionRead:
    return service.add_schedule_exception(principal, data)
