"""JSON routes of medical appointments (thin: parse, call one service function, answer).

Booking refusals are 409 with one of the codes ``slot_taken``, ``slot_in_past``,
``slot_not_released``, ``slot_held``, ``slot_blocked``, ``not_attached``,
``age_not_served``, ``birth_date_required``, ``referral_required``, ``referral_expired``,
``referral_used``, ``referral_mismatch``, ``active_limit_reached``; unknown things are 404
(``slot_not_found``, ``patient_not_found``, ``referral_not_found``, ...). Self-booking
of a patient suspended for no-shows is ``409 booking_suspended``; a time held for a
waiting-list entry is ``409 slot_held`` to everyone else.
"""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Path, Query, Request, Response

from infocity.core.i18n import current_locale
from infocity.core.schemas import MAX_ID
from infocity.core.settings import Settings
from infocity.health import reads, service
from infocity.health.api import citizens
from infocity.health.schemas import (
    AffectedAppointmentRead,
    AnonymousBookingCreate,
    AppointmentDetailsRead,
    AppointmentRead,
    AttachmentRead,
    BookingCreate,
    BookingStatusRead,
    CityDate,
    ClinicRead,
    DistrictUpdate,
    FhirClientCreate,
    FhirClientIssued,
    HoldAccept,
    HomeVisitCreate,
    HomeVisitRead,
    HomeVisitUpdate,
    OutcomeCreate,
    ReferralCreate,
    ReferralRead,
    RegistryBookingCreate,
    RescheduleCreate,
    ScheduleChangeRead,
    ScheduleExceptionCreate,
    ScheduleExceptionRead,
    ScheduleRuleCreate,
    ScheduleRuleRead,
    ScheduleRuleUpdate,
    SlotFilter,
    SlotRead,
    SpecialtyRead,
    SpecialtyUpdate,
    WaitlistEntryCreate,
    WaitlistEntryRead,
)
from infocity.web.deps import CurrentUser, LoggedIn, client_ip, logged_in, run_booking
from infocity.web.errors import error_responses
from infocity.web.group_commit import GroupCommit

router = APIRouter(prefix="/health", tags=["health"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
Token = Annotated[str, Query(min_length=1, max_length=500, description="From the reminder")]
BOOKING_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.get("/specialties", response_model=list[SpecialtyRead], summary="The specialties")
def list_specialties() -> list[SpecialtyRead]:
    return service.list_specialties()


@router.patch(
    "/specialties/{specialty_id}",
    response_model=SpecialtyRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Tune a specialty: slot length, booking mode, horizon, release time, limit "
    "(city administrators)",
)
def update_specialty(
    specialty_id: IdPath, data: SpecialtyUpdate, actor: CurrentUser
) -> SpecialtyRead:
    return service.update_specialty(logged_in(actor), specialty_id, data)


@router.post(
    "/fhir-clients",
    status_code=201,
    response_model=FhirClientIssued,
    responses=error_responses(401, 403, 422),
    summary="Register a client system of the FHIR API with its scopes (city administrators)",
)
def register_fhir_client(data: FhirClientCreate, actor: LoggedIn) -> FhirClientIssued:
    return service.register_fhir_client(actor, data)


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
    specialty_id: Annotated[int, Query(ge=1, le=MAX_ID)],
    clinic_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    practitioner_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Only this doctor's times")
    ] = None,
    date_from: Annotated[CityDate | None, Query()] = None,
    date_to: Annotated[CityDate | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[SlotRead]:
    search = SlotFilter(
        specialty_id=specialty_id,
        clinic_id=clinic_id,
        practitioner_id=practitioner_id,
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
async def book(data: BookingCreate, actor: CurrentUser, request: Request) -> AppointmentRead:
    return await run_booking(request, lambda: service.book_slot(actor, data))


@router.post(
    "/kiosk/appointments",
    status_code=201,
    response_model=AppointmentRead,
    responses=error_responses(404, 409, 422, 429),
    summary="Book by OMS policy and date of birth (kiosk, call centre)",
)
async def book_by_policy(data: AnonymousBookingCreate, request: Request) -> Response:
    ip = client_ip(request)
    together: KioskBookings | None = getattr(request.app.state, "kiosk_bookings", None)
    if together is None:
        booked = await run_booking(request, lambda: service.book_by_policy(data, ip=ip))
    else:
        booked = await together.submit(service.KioskBooking(data, ip, current_locale()))
    # The answer written here: handed the model, FastAPI would validate it again before
    # writing the same JSON (the release rush's busiest route; the document still
    # describes it as ``AppointmentRead``).
    return Response(booked.model_dump_json(), status_code=201, media_type="application/json")


KioskBookings = GroupCommit[service.KioskBooking, AppointmentRead]


def kiosk_group_commit(settings: Settings) -> KioskBookings | None:
    """This process's collector of kiosk bookings (group commit), or None where each is
    booked alone (no window set, or a database that books one at a time). Its batches
    run in threads of their own, ``booking_batch_lanes`` at once."""
    if settings.booking_batch_window_ms <= 0 or not service.books_in_batches():
        return None
    return GroupCommit(
        service.book_many_by_policy,
        window=settings.booking_batch_window_ms / 1000,
        size=settings.booking_batch_size,
        lanes=settings.booking_batch_lanes,
        limiter=anyio.CapacityLimiter(settings.booking_batch_lanes),
    )


@router.post(
    "/registry/appointments",
    status_code=201,
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Book a time for any patient (clinic registrars)",
)
async def book_for_patient(
    data: RegistryBookingCreate, actor: CurrentUser, request: Request
) -> AppointmentRead:
    return await run_booking(request, lambda: service.book_for_patient(actor, data))


@router.put(
    "/registry/patients/{person_id}/district",
    response_model=AttachmentRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Record a patient's district, whose doctor they are offered first (registrars)",
)
def set_patient_district(
    person_id: IdPath, data: DistrictUpdate, actor: CurrentUser
) -> AttachmentRead:
    return service.set_patient_district(actor, person_id, data)


@router.get(
    "/appointments",
    response_model=list[AppointmentDetailsRead],
    responses=error_responses(401, 403),
    summary="Your and your children's appointments, latest first, with where to go",
)
def my_appointments(actor: CurrentUser) -> list[AppointmentDetailsRead]:
    return reads.my_appointment_details(actor)


@router.post(
    "/appointments/{appointment_id}/cancel",
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Cancel an appointment before it starts (logged in, or a reminder's token)",
)
def cancel(
    appointment_id: IdPath,
    actor: CurrentUser,
    token: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
) -> AppointmentRead:
    if token is not None:
        return service.cancel_by_link(appointment_id, token)
    return service.cancel_appointment(logged_in(actor), appointment_id)


@router.post(
    "/appointments/{appointment_id}/confirm",
    response_model=AppointmentRead,
    responses=error_responses(404, 409, 422),
    summary="Confirm you will come (a reminder's one-click token)",
)
def confirm(appointment_id: IdPath, token: Token) -> AppointmentRead:
    return service.confirm_by_link(appointment_id, token)


@router.post(
    "/appointments/{appointment_id}/outcome",
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Mark a visit attended or a no-show (the patient's doctor)",
)
def mark_outcome(appointment_id: IdPath, data: OutcomeCreate, actor: LoggedIn) -> AppointmentRead:
    return service.mark_appointment_outcome(actor, appointment_id, data)


@router.get(
    "/booking-status",
    response_model=BookingStatusRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Whether you (or your child) may book online, and if not, why and until when",
)
def booking_status(
    actor: LoggedIn,
    patient_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> BookingStatusRead:
    return service.get_booking_status(actor, patient_id)


# --- Waiting list ------------------------------------------------------------------


@router.post(
    "/waitlist",
    status_code=201,
    response_model=WaitlistEntryRead,
    responses=BOOKING_ERRORS,
    summary="Join the waiting list of a specialty (a free time is held for you)",
)
def join_waitlist(data: WaitlistEntryCreate, actor: LoggedIn) -> WaitlistEntryRead:
    return service.join_waitlist(actor, data)


@router.get(
    "/waitlist",
    response_model=list[WaitlistEntryRead],
    responses=error_responses(401, 403),
    summary="Your and your children's places on waiting lists",
)
def my_waitlist(actor: LoggedIn) -> list[WaitlistEntryRead]:
    return service.list_my_waitlist(actor)


@router.post(
    "/waitlist/{entry_id}/leave",
    response_model=WaitlistEntryRead,
    responses=BOOKING_ERRORS,
    summary="Leave the waiting list",
)
def leave_waitlist(entry_id: IdPath, actor: LoggedIn) -> WaitlistEntryRead:
    return service.leave_waitlist(actor, entry_id)


@router.post(
    "/waitlist/{entry_id}/accept",
    status_code=201,
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Book the time held for your place",
)
def accept_hold(
    entry_id: IdPath, actor: LoggedIn, data: HoldAccept | None = None
) -> AppointmentRead:
    return service.accept_hold(actor, entry_id, data)


@router.post(
    "/waitlist/{entry_id}/decline",
    response_model=WaitlistEntryRead,
    responses=BOOKING_ERRORS,
    summary="Turn down the time held for your place (you keep waiting)",
)
def decline_hold(entry_id: IdPath, actor: LoggedIn) -> WaitlistEntryRead:
    return service.decline_hold(actor, entry_id)


# --- Home visits -------------------------------------------------------------------


@router.post(
    "/home-visits",
    status_code=201,
    response_model=HomeVisitRead,
    responses=BOOKING_ERRORS,
    summary="Ask your polyclinic for a doctor at home (for you or your child)",
)
def request_home_visit(data: HomeVisitCreate, actor: LoggedIn) -> HomeVisitRead:
    return service.request_home_visit(actor, data)


@router.get(
    "/home-visits",
    response_model=list[HomeVisitRead],
    responses=error_responses(401, 403),
    summary="Your and your children's home visit requests",
)
def my_home_visits(actor: LoggedIn) -> list[HomeVisitRead]:
    return service.list_my_home_visits(actor)


@router.post(
    "/home-visits/{visit_id}/cancel",
    response_model=HomeVisitRead,
    responses=BOOKING_ERRORS,
    summary="Withdraw a home visit request",
)
def cancel_home_visit(visit_id: IdPath, actor: LoggedIn) -> HomeVisitRead:
    return service.cancel_home_visit(actor, visit_id)


@router.get(
    "/clinics/{clinic_id}/home-visits",
    response_model=list[HomeVisitRead],
    responses=error_responses(401, 403, 404, 422),
    summary="The clinic's queue of home visit requests (registrars, clinic administrators)",
)
def home_visit_queue(
    clinic_id: IdPath,
    actor: LoggedIn,
    status: Annotated[
        Literal["new", "accepted", "assigned", "done", "cancelled"] | None, Query()
    ] = None,
) -> list[HomeVisitRead]:
    return service.list_home_visit_queue(actor, clinic_id, status=status)


@router.patch(
    "/home-visits/{visit_id}",
    response_model=HomeVisitRead,
    responses=BOOKING_ERRORS,
    summary="Move a home visit request on: accepted, assigned, done or cancelled",
)
def update_home_visit(visit_id: IdPath, data: HomeVisitUpdate, actor: LoggedIn) -> HomeVisitRead:
    return service.update_home_visit(actor, visit_id, data)


@router.post(
    "/appointments/{appointment_id}/reschedule",
    response_model=AppointmentRead,
    responses=BOOKING_ERRORS,
    summary="Move an appointment to another time (all or nothing)",
)
def reschedule(appointment_id: IdPath, data: RescheduleCreate, actor: LoggedIn) -> AppointmentRead:
    return service.reschedule_appointment(actor, appointment_id, data)


@router.post(
    "/clinics/{clinic_id}/referrals",
    status_code=201,
    response_model=ReferralRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Refer a patient to a specialty (doctors of the clinic)",
)
def issue_referral(clinic_id: IdPath, data: ReferralCreate, actor: CurrentUser) -> ReferralRead:
    return service.issue_referral(actor, clinic_id, data)


@router.post(
    "/schedule-rules",
    status_code=201,
    response_model=ScheduleRuleRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Add a weekly working pattern (clinic administrators)",
)
def add_schedule_rule(data: ScheduleRuleCreate, actor: LoggedIn) -> ScheduleRuleRead:
    return service.set_schedule_rule(actor, data)


@router.post(
    "/schedule-exceptions",
    status_code=201,
    response_model=ScheduleExceptionRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Record an absence or extra hours (clinic administrators)",
)
def add_schedule_exception(data: ScheduleExceptionCreate, actor: LoggedIn) -> ScheduleExceptionRead:
    return service.add_schedule_exception(actor, data)


@router.post(
    "/schedule-exceptions/preview",
    response_model=list[AffectedAppointmentRead],
    responses=error_responses(401, 403, 404, 422),
    summary="The appointments an absence would cancel (writes nothing)",
)
def preview_schedule_exception(
    data: ScheduleExceptionCreate, actor: LoggedIn
) -> list[AffectedAppointmentRead]:
    return service.preview_schedule_exception(actor, data)


@router.put(
    "/schedule-rules/{rule_id}",
    response_model=ScheduleChangeRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Change a weekly pattern (appointments it no longer covers are cancelled)",
)
def change_schedule_rule(
    rule_id: IdPath, data: ScheduleRuleUpdate, actor: LoggedIn
) -> ScheduleChangeRead:
    return service.change_schedule_rule(actor, rule_id, data)


@router.delete(
    "/schedule-rules/{rule_id}",
    response_model=ScheduleChangeRead,
    responses=error_responses(401, 403, 404),
    summary="Remove a weekly pattern (its future appointments are cancelled)",
)
def remove_schedule_rule(rule_id: IdPath, actor: LoggedIn) -> ScheduleChangeRead:
    return service.remove_schedule_rule(actor, rule_id)


@router.post(
    "/schedule-rules/{rule_id}/preview",
    response_model=list[AffectedAppointmentRead],
    responses=error_responses(401, 403, 404, 422),
    summary="The appointments a changed weekly pattern would cancel (writes nothing)",
)
def preview_schedule_rule_change(
    rule_id: IdPath, data: ScheduleRuleUpdate, actor: LoggedIn
) -> list[AffectedAppointmentRead]:
    return service.preview_schedule_rule_change(actor, rule_id, data)


@router.post(
    "/schedule-rules/{rule_id}/preview-removal",
    response_model=list[AffectedAppointmentRead],
    responses=error_responses(401, 403, 404),
    summary="The appointments removing a weekly pattern would cancel (writes nothing)",
)
def preview_schedule_rule_removal(
    rule_id: IdPath, actor: LoggedIn
) -> list[AffectedAppointmentRead]:
    return service.preview_schedule_rule_change(actor, rule_id, None)


router.include_router(citizens.router)
