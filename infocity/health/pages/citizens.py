"""A citizen's pages: booking for the family, their appointments and tickets, moving one."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.db import utcnow
from infocity.core.errors import AppError, InvalidInput
from infocity.core.i18n import N_, current_locale
from infocity.core.schemas import MAX_ID
from infocity.core.settings import get_settings
from infocity.health import reads, service
from infocity.health.pages.calendar import appointment_ics
from infocity.health.pages.common import (
    Code,
    Day,
    OptionalId,
    _notice,
    _page,
    _reschedule_page,
)
from infocity.health.pages.links import _link_action
from infocity.health.schemas import BookingCreate, RescheduleCreate
from infocity.web.forms import (
    Form,
    FormErrors,
    IdPath,
    LoggedIn,
    filled,
    logged_in,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False)


# --- Citizen: booking ----------------------------------------------------------------


@router.get("/health", response_class=HTMLResponse)
def booking_home(request: Request, actor: LoggedIn, patient: OptionalId = None) -> Response:
    if actor.kind != "citizen":
        return redirect("/staff")
    home = reads.booking_home(actor, patient)
    return _page(request, "index.html", {"home": home})


@router.get("/health/book", response_class=HTMLResponse)
def choose_slot(
    request: Request,
    actor: LoggedIn,
    specialty: Code,
    patient: OptionalId = None,
    referral: OptionalId = None,
    doctor: OptionalId = None,
    day: Day = None,
) -> HTMLResponse:
    choice = reads.slot_choice(actor, patient, specialty, referral, doctor_id=doctor, day=day)
    return _page(request, "slots.html", {"choice": choice, "base": "/health"})


def _confirm_page(
    request: Request,
    confirmation: reads.BookingConfirmation,
    errors: FormErrors | None = None,
    status_code: int = 200,
    *,
    kiosk: bool = False,
) -> HTMLResponse:
    return _page(
        request,
        "confirm.html",
        {"confirmation": confirmation, "errors": errors or FormErrors(), "kiosk": kiosk},
        status_code,
    )


@router.get("/health/book/confirm", response_class=HTMLResponse)
def confirm(
    request: Request,
    actor: LoggedIn,
    slot: Annotated[int, Query(ge=1, le=MAX_ID)],
    patient: OptionalId = None,
    referral: OptionalId = None,
) -> HTMLResponse:
    return _confirm_page(request, reads.booking_confirmation(actor, patient, slot, referral))


BOOK_FIELDS = ("slot_id", "patient_id", "referral_id")


@router.post("/health/book", response_class=HTMLResponse)
def book(request: Request, actor: LoggedIn, form: Form) -> Response:
    try:
        data = BookingCreate(**filled(form, BOOK_FIELDS), channel="portal")
    except ValidationError as exc:  # no slot to show again: the error page says what
        raise InvalidInput("invalid_input", N_("Some fields are filled in incorrectly.")) from exc
    try:
        appointment = service.book_slot(actor, data)
    except AppError as exc:
        reraise_refusal(exc)
        confirmation = reads.booking_confirmation(
            actor, data.patient_id, data.slot_id, data.referral_id
        )
        return _confirm_page(request, confirmation, FormErrors.of(exc), exc.status)
    return redirect(f"/health/appointments/{appointment.id}?done=booked")


# --- Citizen: appointments and tickets -----------------------------------------------


def _appointments_page(
    request: Request,
    actor: Principal,
    *,
    notice: str | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    mine = reads.my_appointments(actor)
    return _page(
        request,
        "appointments.html",
        {"mine": mine, "notice": notice, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/health/appointments", response_class=HTMLResponse)
def my_appointments(
    request: Request,
    actor: LoggedIn,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return _appointments_page(request, actor, notice=_notice(done))


@router.get("/health/appointments/{appointment_id}", response_class=HTMLResponse)
def ticket(
    request: Request,
    actor: LoggedIn,
    appointment_id: IdPath,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    appointment = reads.citizen_ticket(actor, appointment_id)
    return _page(
        request,
        "ticket.html",
        {"appointment": appointment, "notice": _notice(done), "kiosk": False},
    )


@router.get("/health/appointments/{appointment_id}/calendar.ics")
def calendar_file(request: Request, actor: LoggedIn, appointment_id: IdPath) -> Response:
    event = reads.calendar_event(actor, appointment_id)
    a = event.appointment
    english = current_locale() == "en"
    ics = appointment_ics(
        event,
        specialty=a.specialty.name_en if english else a.specialty.name,
        clinic=(a.clinic.name_en or a.clinic.name) if english else a.clinic.name,
        host=urlsplit(get_settings().base_url).hostname or "infocity",
        now=utcnow(),
    )
    return Response(
        ics,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="appointment-{a.ticket_number}.ics"',
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/health/appointments/{appointment_id}/cancellation", response_class=HTMLResponse)
def cancel_confirmation(request: Request, actor: LoggedIn, appointment_id: IdPath) -> Response:
    appointment = reads.citizen_ticket(actor, appointment_id)
    return _page(
        request, "cancel_confirm.html", {"appointment": appointment, "errors": FormErrors()}
    )


@router.post("/health/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel(request: Request, appointment_id: IdPath, form: Form) -> Response:
    if "token" in form:  # from a reminder's link: the signed token is the authority
        return _link_action(request, appointment_id, "cancel", form["token"])
    actor = logged_in(request)
    try:
        service.cancel_appointment(actor, appointment_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _appointments_page(request, actor, errors=FormErrors.of(exc), status_code=exc.status)
    return redirect("/health/appointments?done=cancelled")


# --- Citizen: moving an appointment ----------------------------------------------


@router.get("/health/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def reschedule_form(
    request: Request,
    actor: LoggedIn,
    appointment_id: IdPath,
    doctor: OptionalId = None,
    day: Day = None,
) -> Response:
    choice = reads.reschedule_choice(actor, appointment_id, doctor_id=doctor, day=day)
    return _reschedule_page(request, choice, f"/health/appointments/{appointment_id}/reschedule")


def _reschedule_confirm_page(
    request: Request,
    move: reads.RescheduleConfirmation,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "reschedule_confirm.html",
        {"move": move, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/health/appointments/{appointment_id}/reschedule/confirm", response_class=HTMLResponse)
def reschedule_confirm(
    request: Request,
    actor: LoggedIn,
    appointment_id: IdPath,
    slot: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> Response:
    move = reads.reschedule_confirmation(actor, appointment_id, slot)
    return _reschedule_confirm_page(request, move)


@router.post("/health/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def reschedule(request: Request, actor: LoggedIn, appointment_id: IdPath, form: Form) -> Response:
    try:
        new = service.reschedule_appointment(
            actor, appointment_id, RescheduleCreate(**filled(form, ["slot_id"]))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        choice = reads.reschedule_choice(actor, appointment_id)
        return _reschedule_page(
            request,
            choice,
            f"/health/appointments/{appointment_id}/reschedule",
            FormErrors.of(exc),
            refusal_status(exc),
        )
    return redirect(f"/health/appointments/{new.id}?done=moved")
