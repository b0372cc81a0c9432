"""HTML pages of medical appointments (thin: parse, call one function, render).

Every page works without JavaScript. Reads come from ``reads``, changes go through
``service.py``; a refused form is shown again with the message, and a change that
succeeded redirects (POST-redirect-GET) so that reloading does not repeat it.

Kiosk pages keep the identified patient only in a short-lived signed cookie
(``KIOSK_COOKIE``, two minutes idle, renewed on every page) that carries the person id and
its expiry, never the policy number or the date of birth; booking then goes through
``service.book_identified_patient``. "Finish" deletes the cookie, so one patient's
session never reaches the next one at the same screen.

Reminder links (``/health/appointments/{id}/confirm?token=`` and ``…/cancel?token=``)
need no login: the signed token is the authority. The page shows the appointment and
one button that posts the token back (with the CSRF token).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.db import utcnow
from infocity.core.errors import AppError, InvalidInput
from infocity.core.i18n import N_, gettext
from infocity.core.schemas import MAX_ID
from infocity.core.settings import get_settings
from infocity.health import reads, service
from infocity.health.schemas import (
    BookingCreate,
    CityDate,
    HomeVisitCreate,
    HomeVisitUpdate,
    IdentifiedBookingCreate,
    OutcomeCreate,
    ReferralCreate,
    RegistryBookingCreate,
    RescheduleCreate,
    ScheduleExceptionCreate,
    ScheduleRuleCreate,
    SpecialtyUpdate,
    WaitlistEntryCreate,
)
from infocity.web.deps import client_ip, csrf_protect, render, safe_next
from infocity.web.forms import (
    CHECK_FIELDS,
    Form,
    FormErrors,
    IdPath,
    LoggedIn,
    filled,
    logged_in,
    notice,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False, dependencies=[Depends(csrf_protect)])

OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Code = Annotated[str, Query(min_length=1, max_length=40, pattern=r"^[a-z0-9_]+$")]
Day = Annotated[CityDate | None, Query()]

KIOSK_COOKIE = "infocity_kiosk"
# A kiosk session left idle this long is over: the next person at the screen must not
# find the last one identified. The page's own timer (static/kiosk.js) returns to the
# start at the same moment.
KIOSK_SECONDS = 120
STATUS_LABELS = {
    "booked": N_("Booked"),
    "cancelled_by_patient": N_("Cancelled"),
    "cancelled_by_clinic": N_("Cancelled by the polyclinic"),
    "rescheduled": N_("Moved to another time"),
    "attended": N_("Attended"),
    "no_show": N_("Did not come"),
    "free": N_("Free"),
    "held": N_("Reserved for the waiting list"),
    "blocked": N_("Closed"),
    # Waiting-list places
    "waiting": N_("Waiting for a time"),
    "holding": N_("A time is kept for you"),
    "left": N_("Left the list"),
    "expired": N_("Closed: the kept time was not answered"),
    # Home visit requests
    "new": N_("Request received"),
    "accepted": N_("Request accepted"),
    "assigned": N_("Doctor assigned"),
    "done": N_("Visit done"),
    "cancelled": N_("Request cancelled"),
}
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)
EXCEPTION_KINDS = {
    "vacation": N_("Vacation"),
    "sick_leave": N_("Sick leave"),
    "holiday": N_("Holiday"),
    "extra_hours": N_("Extra hours"),
}
NOTICES = {
    "booked": N_("You are booked. Here is your ticket."),
    "moved": N_("The appointment has been moved. Here is the new ticket."),
    "cancelled": N_("The appointment has been cancelled."),
    "referred": N_("The referral has been issued."),
    "rule": N_("The weekly schedule has been added."),
    "exception": N_("The exception has been recorded."),
    "marked": N_("The visit has been marked."),
    "joined": N_("You are on the waiting list. We will tell you when a time is kept for you."),
    "held": N_("A time has been found at once and is kept for you: accept it below."),
    "left": N_("You have left the waiting list."),
    "declined": N_("The time has been turned down. You stay on the waiting list."),
    "requested": N_("The request has been sent to the polyclinic."),
    "visit_cancelled": N_("The request has been cancelled."),
    "visit_updated": N_("The request has been updated; the patient is told."),
    "confirmed": N_("Thank you! Your visit is confirmed."),
    "specialty": N_("The specialty has been saved."),
}
BOOKING_MODES = {"direct": N_("Directly"), "referral": N_("By referral")}


# --- Page plumbing -------------------------------------------------------------------


def _notice(key: str | None) -> str | None:
    return notice(NOTICES, key)


def _common() -> dict[str, Any]:
    return {
        "status_labels": STATUS_LABELS,
        "weekdays": WEEKDAYS,
        "kinds": EXCEPTION_KINDS,
        "booking_modes": BOOKING_MODES,
        "kiosk": False,
    }


def _page(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    return render(request, f"health/{template}", {**_common(), **context}, status_code)


# --- Citizen: booking ----------------------------------------------------------------


@router.get("/health", response_class=HTMLResponse)
def booking_home(request: Request, principal: LoggedIn, patient: OptionalId = None) -> Response:
    if principal.kind != "citizen":
        return redirect("/staff")
    home = reads.booking_home(principal, patient)
    return _page(request, "index.html", {"home": home})


@router.get("/health/book", response_class=HTMLResponse)
def choose_slot(
    request: Request,
    principal: LoggedIn,
    specialty: Code,
    patient: OptionalId = None,
    referral: OptionalId = None,
) -> HTMLResponse:
    choice = reads.slot_choice(principal, patient, specialty, referral)
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
    principal: LoggedIn,
    slot: Annotated[int, Query(ge=1, le=MAX_ID)],
    patient: OptionalId = None,
    referral: OptionalId = None,
) -> HTMLResponse:
    return _confirm_page(request, reads.booking_confirmation(principal, patient, slot, referral))


BOOK_FIELDS = ("slot_id", "patient_id", "referral_id")


@router.post("/health/book", response_class=HTMLResponse)
def book(request: Request, principal: LoggedIn, form: Form) -> Response:
    try:
        data = BookingCreate(**filled(form, BOOK_FIELDS), channel="portal")
    except ValidationError as exc:  # no slot to show again: the error page says what
        raise InvalidInput("invalid_input", N_("Some fields are filled in incorrectly.")) from exc
    try:
        appointment = service.book_slot(principal, data)
    except AppError as exc:
        reraise_refusal(exc)
        confirmation = reads.booking_confirmation(
            principal, data.patient_id, data.slot_id, data.referral_id
        )
        return _confirm_page(request, confirmation, FormErrors.of(exc), exc.status)
    return redirect(f"/health/appointments/{appointment.id}?done=booked")


# --- Citizen: appointments and tickets -----------------------------------------------


def _appointments_page(
    request: Request,
    principal: Principal,
    *,
    notice: str | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    mine = reads.my_appointments(principal)
    return _page(
        request,
        "appointments.html",
        {"mine": mine, "notice": notice, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/health/appointments", response_class=HTMLResponse)
def my_appointments(
    request: Request,
    principal: LoggedIn,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return _appointments_page(request, principal, notice=_notice(done))


@router.get("/health/appointments/{appointment_id}", response_class=HTMLResponse)
def ticket(
    request: Request,
    principal: LoggedIn,
    appointment_id: IdPath,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    appointment = reads.citizen_ticket(principal, appointment_id)
    return _page(
        request,
        "ticket.html",
        {"appointment": appointment, "notice": _notice(done), "kiosk": False},
    )


@router.post("/health/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def cancel(request: Request, appointment_id: IdPath, form: Form) -> Response:
    if "token" in form:  # from a reminder's link: the signed token is the authority
        return _link_action(request, appointment_id, "cancel", form["token"])
    principal = logged_in(request)
    try:
        service.cancel_appointment(principal, appointment_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _appointments_page(
            request, principal, errors=FormErrors.of(exc), status_code=exc.status
        )
    return redirect("/health/appointments?done=cancelled")


# --- Citizen: reminder links (no login) ----------------------------------------------

Token = Annotated[str, Query(min_length=1, max_length=500)]
Done = Annotated[str | None, Query(max_length=20)]


def _link_page(
    request: Request,
    linked: reads.LinkedAppointment,
    *,
    notice: str | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "appointment_link.html",
        {"linked": linked, "notice": notice, "errors": errors or FormErrors()},
        status_code,
    )


def _link_action(request: Request, appointment_id: int, action: str, token: str) -> Response:
    token = token.strip()[:500]
    try:
        if action == "confirm":
            service.confirm_by_link(appointment_id, token)
        else:
            service.cancel_by_link(appointment_id, token)
    except AppError as exc:
        if exc.code == "invalid_link":
            raise  # the error page: nothing to show for a link that is not genuine
        linked = reads.appointment_by_link(appointment_id, action, token)
        return _link_page(request, linked, errors=FormErrors.of(exc), status_code=exc.status)
    done = "confirmed" if action == "confirm" else "cancelled"
    query = urlencode({"token": token, "done": done})
    return redirect(f"/health/appointments/{appointment_id}/{action}?{query}")


@router.get("/health/appointments/{appointment_id}/confirm", response_class=HTMLResponse)
def link_confirm_page(
    request: Request, appointment_id: IdPath, token: Token, done: Done = None
) -> HTMLResponse:
    linked = reads.appointment_by_link(appointment_id, "confirm", token)
    return _link_page(request, linked, notice=_notice(done))


@router.post("/health/appointments/{appointment_id}/confirm", response_class=HTMLResponse)
def link_confirm(request: Request, appointment_id: IdPath, form: Form) -> Response:
    return _link_action(request, appointment_id, "confirm", form.get("token", ""))


@router.get("/health/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def link_cancel_page(
    request: Request, appointment_id: IdPath, token: Token, done: Done = None
) -> HTMLResponse:
    linked = reads.appointment_by_link(appointment_id, "cancel", token)
    return _link_page(request, linked, notice=_notice(done))


# --- Citizen: waiting list -----------------------------------------------------------

WAITLIST_FIELDS = (
    "patient_id",
    "specialty_id",
    "clinic_id",
    "referral_id",
    "date_from",
    "date_to",
    "time_from",
    "time_to",
)


def _waitlist_page(
    request: Request,
    principal: Principal,
    patient_id: int | None = None,
    specialty: str | None = None,
    referral_id: int | None = None,
    *,
    notice: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    waitlist = reads.my_waitlist(principal, patient_id, specialty, referral_id)
    return _page(
        request,
        "waitlist.html",
        {
            "waitlist": waitlist,
            "notice": notice,
            "values": values or {},
            "errors": errors or FormErrors(),
        },
        status_code,
    )


@router.get("/health/waitlist", response_class=HTMLResponse)
def waitlist(
    request: Request,
    principal: LoggedIn,
    patient: OptionalId = None,
    specialty: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9_]+$")] = None,
    referral: OptionalId = None,
    done: Done = None,
) -> HTMLResponse:
    return _waitlist_page(request, principal, patient, specialty, referral, notice=_notice(done))


@router.post("/health/waitlist", response_class=HTMLResponse)
def join_waitlist(request: Request, principal: LoggedIn, form: Form) -> Response:
    values = {name: form.get(name, "")[:40] for name in WAITLIST_FIELDS}
    patient_id = _int_or_none(form.get("patient_id"))
    try:
        entry = service.join_waitlist(
            principal, WaitlistEntryCreate(**filled(form, WAITLIST_FIELDS))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _waitlist_page(
            request,
            principal,
            patient_id,
            values=values,
            errors=FormErrors.of(exc, WAITLIST_FIELDS),
            status_code=refusal_status(exc),
        )
    done = "held" if entry.held_slot_id is not None else "joined"
    return redirect(f"/health/waitlist?patient={entry.person_id}&done={done}")


def _waitlist_step(
    request: Request, principal: Principal, step: Callable[[], object], done: str
) -> Response:
    """Leave, decline: one service call, then back to the list (or the list with why not)."""
    try:
        step()
    except AppError as exc:
        reraise_refusal(exc)
        return _waitlist_page(request, principal, errors=FormErrors.of(exc), status_code=exc.status)
    return redirect(f"/health/waitlist?done={done}")


@router.post("/health/waitlist/{entry_id}/leave", response_class=HTMLResponse)
def leave_waitlist(request: Request, principal: LoggedIn, entry_id: IdPath) -> Response:
    return _waitlist_step(
        request, principal, lambda: service.leave_waitlist(principal, entry_id), "left"
    )


@router.post("/health/waitlist/{entry_id}/decline", response_class=HTMLResponse)
def decline_hold(request: Request, principal: LoggedIn, entry_id: IdPath) -> Response:
    return _waitlist_step(
        request, principal, lambda: service.decline_hold(principal, entry_id), "declined"
    )


@router.post("/health/waitlist/{entry_id}/accept", response_class=HTMLResponse)
def accept_hold(request: Request, principal: LoggedIn, entry_id: IdPath) -> Response:
    try:
        appointment = service.accept_hold(principal, entry_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _waitlist_page(request, principal, errors=FormErrors.of(exc), status_code=exc.status)
    return redirect(f"/health/appointments/{appointment.id}?done=booked")


# --- Citizen: home visits ------------------------------------------------------------

HOME_VISIT_FIELDS = ("patient_id", "address", "reason", "contact_phone")


def _home_visits_page(
    request: Request,
    principal: Principal,
    patient_id: int | None = None,
    *,
    notice: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    mine = reads.my_home_visits(principal, patient_id)
    return _page(
        request,
        "home_visits.html",
        {"mine": mine, "notice": notice, "values": values or {}, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/health/home-visits", response_class=HTMLResponse)
def home_visits(
    request: Request, principal: LoggedIn, patient: OptionalId = None, done: Done = None
) -> HTMLResponse:
    return _home_visits_page(request, principal, patient, notice=_notice(done))


@router.post("/health/home-visits", response_class=HTMLResponse)
def request_home_visit(request: Request, principal: LoggedIn, form: Form) -> Response:
    values = {name: form.get(name, "")[:1000] for name in HOME_VISIT_FIELDS}
    patient_id = _int_or_none(form.get("patient_id"))
    try:
        service.request_home_visit(principal, HomeVisitCreate(**filled(form, HOME_VISIT_FIELDS)))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _home_visits_page(
            request,
            principal,
            patient_id,
            values=values,
            errors=FormErrors.of(exc, HOME_VISIT_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect("/health/home-visits?done=requested")


@router.post("/health/home-visits/{visit_id}/cancel", response_class=HTMLResponse)
def cancel_home_visit(request: Request, principal: LoggedIn, visit_id: IdPath) -> Response:
    try:
        service.cancel_home_visit(principal, visit_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _home_visits_page(
            request, principal, errors=FormErrors.of(exc), status_code=exc.status
        )
    return redirect("/health/home-visits?done=visit_cancelled")


def _reschedule_page(
    request: Request,
    choice: reads.RescheduleChoice,
    action: str,
    errors: FormErrors | None = None,
    status_code: int = 200,
    *,
    hidden: dict[str, Any] | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "reschedule.html",
        {
            "choice": choice,
            "action": action,
            "hidden": hidden or {},
            "errors": errors or FormErrors(),
        },
        status_code,
    )


@router.get("/health/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def reschedule_form(request: Request, principal: LoggedIn, appointment_id: IdPath) -> Response:
    choice = reads.reschedule_choice(principal, appointment_id)
    return _reschedule_page(request, choice, f"/health/appointments/{appointment_id}/reschedule")


@router.post("/health/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def reschedule(
    request: Request, principal: LoggedIn, appointment_id: IdPath, form: Form
) -> Response:
    try:
        new = service.reschedule_appointment(
            principal, appointment_id, RescheduleCreate(**filled(form, ["slot_id"]))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        choice = reads.reschedule_choice(principal, appointment_id)
        return _reschedule_page(
            request,
            choice,
            f"/health/appointments/{appointment_id}/reschedule",
            FormErrors.of(exc),
            refusal_status(exc),
        )
    return redirect(f"/health/appointments/{new.id}?done=moved")


# --- Kiosk ---------------------------------------------------------------------------


def _kiosk_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().secret_key, salt="health-kiosk")


def _kiosk_identity(request: Request) -> int | None:
    """The person id the kiosk identified in this session, if the cookie is genuine and
    not expired. The cookie carries nothing else: no policy number, no birth date."""
    raw = request.cookies.get(KIOSK_COOKIE)
    if not raw:
        return None
    try:
        value = _kiosk_serializer().loads(raw, max_age=KIOSK_SECONDS)
    except BadSignature:  # also an expired one (SignatureExpired is a BadSignature)
        return None
    if not isinstance(value, dict):
        return None
    person_id, expires = value.get("p"), value.get("e")
    if not isinstance(person_id, int) or not isinstance(expires, int):
        return None
    if expires <= int(utcnow().timestamp()):
        return None
    return person_id


def _set_kiosk_cookie(response: Response, person_id: int) -> None:
    expires = int(utcnow().timestamp()) + KIOSK_SECONDS
    response.set_cookie(
        KIOSK_COOKIE,
        _kiosk_serializer().dumps({"p": person_id, "e": expires}),
        max_age=KIOSK_SECONDS,
        path="/kiosk",
        httponly=True,
        samesite="strict",
        secure=get_settings().secure_cookies,
    )


def _kiosk_page(
    request: Request,
    person_id: int | None,
    template: str,
    context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:
    response = _page(
        request,
        template,
        {"kiosk": True, "kiosk_idle_seconds": KIOSK_SECONDS, **context},
        status_code,
    )
    if person_id is not None:  # every page renews the idle time
        _set_kiosk_cookie(response, person_id)
    return response


def _to_kiosk_start() -> RedirectResponse:
    return redirect("/kiosk?expired=1")


KIOSK_FIELDS = ("oms_policy", "birth_date")


@router.get("/kiosk", response_class=HTMLResponse)
def kiosk_start(request: Request, expired: bool = False, finished: bool = False) -> Response:
    if _kiosk_identity(request) is not None:
        return redirect("/kiosk/specialties")
    notice = None
    if finished:
        notice = gettext(N_("Thank you! The session is finished."))
    errors = FormErrors(form=gettext(N_("The session has ended. Please identify yourself again.")))
    return _kiosk_page(
        request,
        None,
        "kiosk_start.html",
        {"values": {}, "errors": errors if expired else FormErrors(), "notice": notice},
    )


@router.post("/kiosk", response_class=HTMLResponse)
def kiosk_identify(request: Request, form: Form) -> Response:
    values = {name: form.get(name, "").strip()[:40] for name in KIOSK_FIELDS}
    try:
        required = gettext(N_("This field is required."))
        missing = {name: required for name in KIOSK_FIELDS if not values[name]}
        if missing:
            raise _Missing(missing)
        birth_date = _parse_date(values["birth_date"], "birth_date")
        person_id = service.identify_patient(
            values["oms_policy"], birth_date, ip=client_ip(request)
        )
    except _Missing as exc:
        errors = FormErrors(exc.fields, gettext(CHECK_FIELDS))
        return _kiosk_page(
            request,
            None,
            "kiosk_start.html",
            {"values": values, "errors": errors, "notice": None},
            422,
        )
    except AppError as exc:
        return _kiosk_page(
            request,
            None,
            "kiosk_start.html",
            {"values": values, "errors": FormErrors.of(exc, KIOSK_FIELDS), "notice": None},
            exc.status,
        )
    response = redirect("/kiosk/specialties")
    _set_kiosk_cookie(response, person_id)
    return response


class _Missing(Exception):
    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("missing")
        self.fields = fields


def _parse_date(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            "invalid_date", N_("Enter the date as DD.MM.YYYY."), field=field
        ) from exc


@router.get("/kiosk/specialties", response_class=HTMLResponse)
def kiosk_specialties(request: Request) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    home = reads.kiosk_home(identity)
    return _kiosk_page(request, identity, "index.html", {"home": home})


@router.get("/kiosk/slots", response_class=HTMLResponse)
def kiosk_slots(request: Request, specialty: Code, referral: OptionalId = None) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    choice = reads.kiosk_slots(identity, specialty, referral)
    return _kiosk_page(request, identity, "slots.html", {"choice": choice, "base": "/kiosk"})


@router.get("/kiosk/confirm", response_class=HTMLResponse)
def kiosk_confirm(
    request: Request,
    slot: Annotated[int, Query(ge=1, le=MAX_ID)],
    referral: OptionalId = None,
) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    confirmation = reads.kiosk_confirmation(identity, slot, referral)
    return _kiosk_page(
        request,
        identity,
        "confirm.html",
        {"confirmation": confirmation, "errors": FormErrors()},
    )


@router.post("/kiosk/book", response_class=HTMLResponse)
def kiosk_book(request: Request, form: Form) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    try:
        data = IdentifiedBookingCreate(**filled(form, ("slot_id", "referral_id")))
    except ValidationError as exc:
        raise InvalidInput("invalid_input", N_("Some fields are filled in incorrectly.")) from exc
    try:
        appointment = service.book_identified_patient(identity, data, channel="kiosk")
    except AppError as exc:
        confirmation = reads.kiosk_confirmation(identity, data.slot_id, data.referral_id)
        return _kiosk_page(
            request,
            identity,
            "confirm.html",
            {"confirmation": confirmation, "errors": FormErrors.of(exc)},
            exc.status,
        )
    return redirect(f"/kiosk/tickets/{appointment.id}")


@router.get("/kiosk/tickets/{appointment_id}", response_class=HTMLResponse)
def kiosk_ticket(request: Request, appointment_id: IdPath) -> Response:
    identity = _kiosk_identity(request)
    if identity is None:
        return _to_kiosk_start()
    appointment = reads.kiosk_ticket(identity, appointment_id)
    return _kiosk_page(
        request,
        identity,
        "ticket.html",
        {"appointment": appointment, "notice": _notice("booked")},
    )


@router.post("/kiosk/finish")
def kiosk_finish() -> RedirectResponse:
    response = redirect("/kiosk?finished=1")
    response.delete_cookie(KIOSK_COOKIE, path="/kiosk")
    return response


# --- Registry ------------------------------------------------------------------------


def _registry_url(clinic_id: int, person_id: int | None = None, done: str | None = None) -> str:
    base = f"/registry/patients/{person_id}" if person_id else "/registry"
    return f"{base}?clinic={clinic_id}" + (f"&done={done}" if done else "")


@router.get("/registry", response_class=HTMLResponse)
def registry_day(
    request: Request,
    principal: LoggedIn,
    clinic: OptionalId = None,
    day: Day = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    clinic_day = reads.clinic_day(principal, clinic, day)
    return _page(
        request,
        "registry_day.html",
        {"clinic_day": clinic_day, "notice": _notice(done), "errors": FormErrors()},
    )


FIND_FIELDS = ("oms_policy", "birth_date")


def _find_page(
    request: Request,
    clinic_id: int | None,
    values: dict[str, str],
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "registry_find.html",
        {"clinic_id": clinic_id, "values": values, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/registry/patients", response_class=HTMLResponse)
def registry_find_form(
    request: Request, principal: LoggedIn, clinic: OptionalId = None
) -> HTMLResponse:
    _clinics, chosen = reads.registry_clinic(principal, clinic)
    return _find_page(request, chosen.id, {})


@router.post("/registry/patients", response_class=HTMLResponse)
def registry_find(request: Request, principal: LoggedIn, form: Form) -> Response:
    """A look-up shows its result directly: it is a read (audited), not a change."""
    values = {name: form.get(name, "").strip()[:40] for name in FIND_FIELDS}
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        if not values["oms_policy"]:
            raise InvalidInput("required", N_("This field is required."), field="oms_policy")
        birth_date = (
            _parse_date(values["birth_date"], "birth_date") if values["birth_date"] else None
        )
        card = reads.find_patient(principal, clinic_id, values["oms_policy"], birth_date)
    except AppError as exc:
        reraise_refusal(exc)
        return _find_page(request, clinic_id, values, FormErrors.of(exc, FIND_FIELDS), exc.status)
    return _page(request, "registry_patient.html", {"card": card, "notice": None})


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_ID else None


@router.get("/registry/patients/{person_id}", response_class=HTMLResponse)
def registry_patient(
    request: Request,
    principal: LoggedIn,
    person_id: IdPath,
    clinic: OptionalId = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    card = reads.patient_card(principal, clinic, person_id)
    return _page(request, "registry_patient.html", {"card": card, "notice": _notice(done)})


def _registry_slots_page(
    request: Request,
    choice: reads.RegistrySlotChoice,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "registry_slots.html",
        {"registry": choice, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/registry/patients/{person_id}/book", response_class=HTMLResponse)
def registry_slots(
    request: Request,
    principal: LoggedIn,
    person_id: IdPath,
    specialty: Code,
    clinic: OptionalId = None,
) -> HTMLResponse:
    choice = reads.registry_slots(principal, clinic, person_id, specialty)
    return _registry_slots_page(request, choice)


@router.post("/registry/patients/{person_id}/book", response_class=HTMLResponse)
def registry_book(request: Request, principal: LoggedIn, person_id: IdPath, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        data = RegistryBookingCreate(patient_id=person_id, **filled(form, ["slot_id"]))
    except ValidationError as exc:
        raise InvalidInput("invalid_input", N_("Some fields are filled in incorrectly.")) from exc
    try:
        appointment = service.book_for_patient(principal, data)
    except AppError as exc:
        reraise_refusal(exc)
        choice = reads.registry_slots(
            principal, clinic_id, person_id, form.get("specialty", "")[:40]
        )
        return _registry_slots_page(request, choice, FormErrors.of(exc), exc.status)
    return redirect(_registry_url(clinic_id or appointment.clinic_id, person_id, "booked"))


@router.post("/registry/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def registry_cancel(
    request: Request, principal: LoggedIn, appointment_id: IdPath, form: Form
) -> Response:
    back = safe_next(form.get("next"), "/registry")
    try:
        service.cancel_appointment(principal, appointment_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _page(
            request,
            "registry_refused.html",
            {"errors": FormErrors.of(exc), "back": back},
            exc.status,
        )
    return redirect(back + ("&" if "?" in back else "?") + "done=cancelled")


@router.get("/registry/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def registry_reschedule_form(
    request: Request, principal: LoggedIn, appointment_id: IdPath, clinic: OptionalId = None
) -> HTMLResponse:
    choice = reads.registry_reschedule_choice(principal, clinic, appointment_id)
    return _reschedule_page(
        request,
        choice,
        f"/registry/appointments/{appointment_id}/reschedule",
        hidden={"clinic_id": choice.appointment.clinic.id if clinic is None else clinic},
    )


@router.post("/registry/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def registry_reschedule(
    request: Request, principal: LoggedIn, appointment_id: IdPath, form: Form
) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        new = service.reschedule_appointment(
            principal, appointment_id, RescheduleCreate(**filled(form, ["slot_id"]))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        choice = reads.registry_reschedule_choice(principal, clinic_id, appointment_id)
        return _reschedule_page(
            request,
            choice,
            f"/registry/appointments/{appointment_id}/reschedule",
            FormErrors.of(exc),
            refusal_status(exc),
            hidden={"clinic_id": clinic_id or ""},
        )
    return redirect(_registry_url(clinic_id or new.clinic_id, new.person_id, "moved"))


# --- Registry: home visits -----------------------------------------------------------

VISIT_STATUSES = ("new", "accepted", "assigned", "done", "cancelled")


def _queue_url(clinic_id: int, status: str | None, done: str | None = None) -> str:
    query = {"clinic": clinic_id, "status": status or "", **({"done": done} if done else {})}
    return f"/registry/home-visits?{urlencode(query)}"


def _queue_page(
    request: Request,
    principal: Principal,
    clinic_id: int | None,
    status: str | None,
    *,
    notice: str | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    queue = reads.home_visit_queue(principal, clinic_id, status)
    return _page(
        request,
        "home_visit_queue.html",
        {"queue": queue, "notice": notice, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/registry/home-visits", response_class=HTMLResponse)
def home_visit_queue(
    request: Request,
    principal: LoggedIn,
    clinic: OptionalId = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    done: Done = None,
) -> HTMLResponse:
    shown = status if status in VISIT_STATUSES else None
    return _queue_page(request, principal, clinic, shown, notice=_notice(done))


@router.post("/registry/home-visits/{visit_id}", response_class=HTMLResponse)
def update_home_visit(
    request: Request, principal: LoggedIn, visit_id: IdPath, form: Form
) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    shown = form.get("filter") if form.get("filter") in VISIT_STATUSES else None
    try:
        visit = service.update_home_visit(
            principal, visit_id, HomeVisitUpdate(**filled(form, ("status", "practitioner_id")))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _queue_page(
            request,
            principal,
            clinic_id,
            shown,
            errors=FormErrors.of(exc),
            status_code=refusal_status(exc),
        )
    return redirect(_queue_url(clinic_id or visit.clinic_id, shown, "visit_updated"))


# --- Doctor --------------------------------------------------------------------------

REFERRAL_FIELDS = ("person_id", "specialty_code", "target_clinic_id", "valid_days")


def _doctor_page(
    request: Request,
    principal: Principal,
    day: date | None,
    *,
    notice: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    schedule = reads.doctor_day(principal, day)
    return _page(
        request,
        "doctor.html",
        {
            "schedule": schedule,
            "notice": notice,
            "values": values or {},
            "errors": errors or FormErrors(),
        },
        status_code,
    )


@router.get("/doctor", response_class=HTMLResponse)
def doctor(
    request: Request,
    principal: LoggedIn,
    day: Day = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return _doctor_page(request, principal, day, notice=_notice(done))


@router.post("/doctor/referrals", response_class=HTMLResponse)
def issue_referral(request: Request, principal: LoggedIn, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id")) or 0
    try:
        service.issue_referral(
            principal, clinic_id, ReferralCreate(**filled(form, REFERRAL_FIELDS))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _doctor_page(
            request,
            principal,
            None,
            values={name: form.get(name, "") for name in REFERRAL_FIELDS},
            errors=FormErrors.of(exc, REFERRAL_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect("/doctor?done=referred")


@router.post("/doctor/appointments/{appointment_id}/outcome", response_class=HTMLResponse)
def mark_outcome(
    request: Request, principal: LoggedIn, appointment_id: IdPath, form: Form
) -> Response:
    try:
        service.mark_appointment_outcome(
            principal, appointment_id, OutcomeCreate(**filled(form, ["outcome"]))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _doctor_page(
            request, principal, None, errors=FormErrors.of(exc), status_code=refusal_status(exc)
        )
    return redirect("/doctor?done=marked")


# --- Clinic administration -----------------------------------------------------------

RULE_FIELDS = (
    "practitioner_id",
    "weekday",
    "start_time",
    "end_time",
    "break_start",
    "break_end",
    "slot_minutes",
    "valid_from",
    "valid_to",
)
EXCEPTION_FIELDS = ("practitioner_id", "kind", "date_from", "date_to", "start_time", "end_time")


def _admin_page(
    request: Request,
    principal: Principal,
    clinic_id: int | None,
    *,
    notice: str | None = None,
    form_name: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    preview: list[Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    schedules = reads.clinic_schedules(principal, clinic_id)
    return _page(
        request,
        "clinic_admin.html",
        {
            "schedules": schedules,
            "notice": notice,
            "form_name": form_name,
            "values": values or {},
            "errors": errors or FormErrors(),
            "preview": preview,
        },
        status_code,
    )


@router.get("/clinic-admin", response_class=HTMLResponse)
def clinic_admin(
    request: Request,
    principal: LoggedIn,
    clinic: OptionalId = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return _admin_page(request, principal, clinic, notice=_notice(done))


@router.post("/clinic-admin/rules", response_class=HTMLResponse)
def add_rule(request: Request, principal: LoggedIn, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        service.set_schedule_rule(principal, ScheduleRuleCreate(**filled(form, RULE_FIELDS)))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _admin_page(
            request,
            principal,
            clinic_id,
            form_name="rule",
            values={name: form.get(name, "") for name in RULE_FIELDS},
            errors=FormErrors.of(exc, RULE_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect(f"/clinic-admin?clinic={clinic_id or ''}&done=rule")


@router.post("/clinic-admin/exceptions", response_class=HTMLResponse)
def add_exception(request: Request, principal: LoggedIn, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    values = {name: form.get(name, "") for name in EXCEPTION_FIELDS}
    try:
        data = ScheduleExceptionCreate(**filled(form, EXCEPTION_FIELDS))
        if form.get("step") == "preview":
            affected = service.preview_schedule_exception(principal, data)
            return _admin_page(
                request,
                principal,
                clinic_id,
                form_name="exception",
                values=values,
                preview=affected,
            )
        service.add_schedule_exception(principal, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _admin_page(
            request,
            principal,
            clinic_id,
            form_name="exception",
            values=values,
            errors=FormErrors.of(exc, EXCEPTION_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect(f"/clinic-admin?clinic={clinic_id or ''}&done=exception")


# --- City administration: specialties ------------------------------------------------

SPECIALTY_FIELDS = ("slot_minutes", "booking_mode", "horizon_days", "release_time", "active_limit")


def _specialties_page(
    request: Request,
    principal: Principal,
    *,
    notice: str | None = None,
    edited: int | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    specialties = reads.city_specialties(principal)
    return _page(
        request,
        "admin_specialties.html",
        {
            "specialties": specialties,
            "notice": notice,
            "edited": edited,
            "values": values or {},
            "errors": errors or FormErrors(),
        },
        status_code,
    )


@router.get("/admin/specialties", response_class=HTMLResponse)
def city_specialties(request: Request, principal: LoggedIn, done: Done = None) -> HTMLResponse:
    return _specialties_page(request, principal, notice=_notice(done))


@router.post("/admin/specialties/{specialty_id}", response_class=HTMLResponse)
def update_specialty(
    request: Request, principal: LoggedIn, specialty_id: IdPath, form: Form
) -> Response:
    try:
        service.update_specialty(
            principal, specialty_id, SpecialtyUpdate(**filled(form, SPECIALTY_FIELDS))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _specialties_page(
            request,
            principal,
            edited=specialty_id,
            values={name: form.get(name, "")[:40] for name in SPECIALTY_FIELDS},
            errors=FormErrors.of(exc, SPECIALTY_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect(f"/admin/specialties?done=specialty#specialty-{specialty_id}")
