"""The registrar's desk: a clinic's day, finding a patient, booking, cancelling and moving
for them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.errors import AppError, InvalidInput
from infocity.core.i18n import N_
from infocity.health import errors, reads, service
from infocity.health.pages.common import (
    Code,
    Day,
    OptionalId,
    _int_or_none,
    _notice,
    _page,
    _parse_date,
    _reschedule_page,
)
from infocity.health.reads.shapes import AppointmentView, PatientOption
from infocity.health.schemas import DistrictUpdate, RegistryBookingCreate, RescheduleCreate
from infocity.web.deps import safe_next
from infocity.web.forms import (
    Form,
    FormErrors,
    IdPath,
    LoggedIn,
    filled,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False)

CANCEL_REASON_LENGTH = 300  # appointments.cancel_reason


# --- Registry ------------------------------------------------------------------------


def _registry_url(clinic_id: int, person_id: int | None = None, done: str | None = None) -> str:
    base = f"/registry/patients/{person_id}" if person_id else "/registry"
    return f"{base}?clinic={clinic_id}" + (f"&done={done}" if done else "")


@router.get("/registry", response_class=HTMLResponse)
def registry_day(
    request: Request,
    actor: LoggedIn,
    clinic: OptionalId = None,
    day: Day = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    clinic_day = reads.clinic_day(actor, clinic, day)
    return _page(
        request,
        "registry_day.html",
        {"clinic_day": clinic_day, "notice": _notice(done), "errors": FormErrors()},
    )


FIND_FIELDS = ("oms_policy", "last_name", "birth_date")


def _find_page(
    request: Request,
    clinic_id: int | None,
    values: dict[str, str],
    errors: FormErrors | None = None,
    status_code: int = 200,
    matches: list[PatientOption] | None = None,
) -> HTMLResponse:
    return _page(
        request,
        "registry_find.html",
        {
            "clinic_id": clinic_id,
            "values": values,
            "errors": errors or FormErrors(),
            "matches": matches,
        },
        status_code,
    )


@router.get("/registry/patients", response_class=HTMLResponse)
def registry_find_form(
    request: Request, actor: LoggedIn, clinic: OptionalId = None
) -> HTMLResponse:
    _clinics, chosen = reads.registry_clinic(actor, clinic)
    return _find_page(request, chosen.id, {})


@router.post("/registry/patients", response_class=HTMLResponse)
def registry_find(request: Request, actor: LoggedIn, form: Form) -> Response:
    """A look-up shows its result directly: it is a read (audited), not a change. By the
    policy number (and the date of birth, when given), or by surname and date of birth."""
    values = {name: " ".join(form.get(name, "").split())[:40] for name in FIND_FIELDS}
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        birth_date = (
            _parse_date(values["birth_date"], "birth_date") if values["birth_date"] else None
        )
        if values["oms_policy"]:
            card = reads.find_patient(actor, clinic_id, values["oms_policy"], birth_date)
            return _page(
                request,
                "registry_patient.html",
                {"card": card, "notice": None, "errors": FormErrors()},
            )
        if not (values["last_name"] and birth_date):
            raise InvalidInput(
                "required",
                N_("Give the policy number, or the surname and the date of birth."),
                field="oms_policy",
            )
        matches = reads.find_patients_by_name(actor, clinic_id, values["last_name"], birth_date)
        if not matches:
            raise errors.PatientNotFoundByName()
    except AppError as exc:
        reraise_refusal(exc)
        return _find_page(request, clinic_id, values, FormErrors.of(exc, FIND_FIELDS), exc.status)
    if len(matches) == 1:
        query = f"?clinic={clinic_id}" if clinic_id else ""
        return redirect(f"/registry/patients/{matches[0].id}{query}")
    return _find_page(request, clinic_id, values, matches=matches)


@router.get("/registry/patients/{person_id}", response_class=HTMLResponse)
def registry_patient(
    request: Request,
    actor: LoggedIn,
    person_id: IdPath,
    clinic: OptionalId = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    card = reads.patient_card(actor, clinic, person_id)
    return _page(
        request,
        "registry_patient.html",
        {"card": card, "notice": _notice(done), "errors": FormErrors()},
    )


@router.post("/registry/patients/{person_id}/district", response_class=HTMLResponse)
def registry_district(request: Request, actor: LoggedIn, person_id: IdPath, form: Form) -> Response:
    """The patient's district, so that its doctor is offered to them first."""
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        data = DistrictUpdate(clinic_id=clinic_id, district=form.get("district") or None)
        service.set_patient_district(actor, person_id, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        card = reads.patient_card(actor, clinic_id, person_id)
        return _page(
            request,
            "registry_patient.html",
            {"card": card, "notice": None, "errors": FormErrors.of(exc, ("district",))},
            refusal_status(exc),
        )
    return redirect(_registry_url(data.clinic_id, person_id, "district"))


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
    actor: LoggedIn,
    person_id: IdPath,
    specialty: Code,
    clinic: OptionalId = None,
) -> HTMLResponse:
    choice = reads.registry_slots(actor, clinic, person_id, specialty)
    return _registry_slots_page(request, choice)


@router.post("/registry/patients/{person_id}/book", response_class=HTMLResponse)
def registry_book(request: Request, actor: LoggedIn, person_id: IdPath, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        data = RegistryBookingCreate(patient_id=person_id, **filled(form, ["slot_id"]))
    except ValidationError as exc:
        raise InvalidInput("invalid_input", N_("Some fields are filled in incorrectly.")) from exc
    try:
        appointment = service.book_for_patient(actor, data)
    except AppError as exc:
        reraise_refusal(exc)
        choice = reads.registry_slots(actor, clinic_id, person_id, form.get("specialty", "")[:40])
        return _registry_slots_page(request, choice, FormErrors.of(exc), exc.status)
    clinic = clinic_id or appointment.clinic_id
    return redirect(f"/registry/appointments/{appointment.id}/ticket?clinic={clinic}")


@router.get("/registry/appointments/{appointment_id}/ticket", response_class=HTMLResponse)
def registry_ticket(
    request: Request, actor: LoggedIn, appointment_id: IdPath, clinic: OptionalId = None
) -> HTMLResponse:
    """The ticket the desk prints and hands over after booking."""
    appointment = reads.registry_appointment(actor, clinic, appointment_id)
    return _page(
        request,
        "registry_ticket.html",
        {"appointment": appointment, "clinic_id": clinic or appointment.clinic.id},
    )


def _cancel_page(
    request: Request,
    appointment: AppointmentView,
    back: str,
    *,
    reason: str = "",
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "registry_cancel.html",
        {
            "appointment": appointment,
            "back": back,
            "reason": reason,
            "errors": errors or FormErrors(),
        },
        status_code,
    )


@router.get("/registry/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def registry_cancel_form(
    request: Request,
    actor: LoggedIn,
    appointment_id: IdPath,
    clinic: OptionalId = None,
    next: Annotated[str | None, Query(max_length=500)] = None,
) -> HTMLResponse:
    """Ask before cancelling, and why: the reason is told to the patient."""
    appointment = reads.registry_appointment(actor, clinic, appointment_id)
    return _cancel_page(request, appointment, safe_next(next, "/registry"))


@router.post("/registry/appointments/{appointment_id}/cancel", response_class=HTMLResponse)
def registry_cancel(
    request: Request, actor: LoggedIn, appointment_id: IdPath, form: Form
) -> Response:
    back = safe_next(form.get("next"), "/registry")
    reason = " ".join(form.get("reason", "").split())
    try:
        if not reason:
            raise InvalidInput(
                "required",
                N_("Say why the appointment is cancelled: the patient is told."),
                field="reason",
            )
        if len(reason) > CANCEL_REASON_LENGTH:
            raise InvalidInput(
                "too_long",
                N_("At most %(n)s characters."),
                field="reason",
                n=CANCEL_REASON_LENGTH,
            )
        service.cancel_appointment(actor, appointment_id, reason=reason)
    except AppError as exc:
        reraise_refusal(exc)
        if exc.field == "reason":
            appointment = reads.registry_appointment(
                actor, _int_or_none(form.get("clinic_id")), appointment_id
            )
            return _cancel_page(
                request,
                appointment,
                back,
                reason=reason,
                errors=FormErrors.of(exc, ["reason"]),
                status_code=exc.status,
            )
        return _page(
            request,
            "registry_refused.html",
            {"errors": FormErrors.of(exc), "back": back},
            exc.status,
        )
    return redirect(back + ("&" if "?" in back else "?") + "done=cancelled")


@router.get("/registry/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def registry_reschedule_form(
    request: Request, actor: LoggedIn, appointment_id: IdPath, clinic: OptionalId = None
) -> HTMLResponse:
    choice = reads.registry_reschedule_choice(actor, clinic, appointment_id)
    return _reschedule_page(
        request,
        choice,
        f"/registry/appointments/{appointment_id}/reschedule",
        hidden={"clinic_id": choice.appointment.clinic.id if clinic is None else clinic},
    )


@router.post("/registry/appointments/{appointment_id}/reschedule", response_class=HTMLResponse)
def registry_reschedule(
    request: Request, actor: LoggedIn, appointment_id: IdPath, form: Form
) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        new = service.reschedule_appointment(
            actor, appointment_id, RescheduleCreate(**filled(form, ["slot_id"]))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        choice = reads.registry_reschedule_choice(actor, clinic_id, appointment_id)
        return _reschedule_page(
            request,
            choice,
            f"/registry/appointments/{appointment_id}/reschedule",
            FormErrors.of(exc),
            refusal_status(exc),
            hidden={"clinic_id": clinic_id or ""},
        )
    return redirect(_registry_url(clinic_id or new.clinic_id, new.person_id, "moved"))
