"""A citizen's waiting-list pages: join, leave, accept or turn down a kept time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.errors import AppError
from infocity.health import reads, service
from infocity.health.pages.common import Done, OptionalId, _int_or_none, _notice, _page
from infocity.health.schemas import WaitlistEntryCreate
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
    actor: Principal,
    patient_id: int | None = None,
    specialty: str | None = None,
    referral_id: int | None = None,
    *,
    notice: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    waitlist = reads.my_waitlist(actor, patient_id, specialty, referral_id)
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
    actor: LoggedIn,
    patient: OptionalId = None,
    specialty: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z0-9_]+$")] = None,
    referral: OptionalId = None,
    done: Done = None,
) -> HTMLResponse:
    return _waitlist_page(request, actor, patient, specialty, referral, notice=_notice(done))


@router.post("/health/waitlist", response_class=HTMLResponse)
def join_waitlist(request: Request, actor: LoggedIn, form: Form) -> Response:
    values = {name: form.get(name, "")[:40] for name in WAITLIST_FIELDS}
    patient_id = _int_or_none(form.get("patient_id"))
    try:
        entry = service.join_waitlist(actor, WaitlistEntryCreate(**filled(form, WAITLIST_FIELDS)))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _waitlist_page(
            request,
            actor,
            patient_id,
            values=values,
            errors=FormErrors.of(exc, WAITLIST_FIELDS),
            status_code=refusal_status(exc),
        )
    done = "held" if entry.held_slot_id is not None else "joined"
    return redirect(f"/health/waitlist?patient={entry.person_id}&done={done}")


def _waitlist_step(
    request: Request, actor: Principal, step: Callable[[], object], done: str
) -> Response:
    """Leave, decline: one service call, then back to the list (or the list with why not)."""
    try:
        step()
    except AppError as exc:
        reraise_refusal(exc)
        return _waitlist_page(request, actor, errors=FormErrors.of(exc), status_code=exc.status)
    return redirect(f"/health/waitlist?done={done}")


@router.post("/health/waitlist/{entry_id}/leave", response_class=HTMLResponse)
def leave_waitlist(request: Request, actor: LoggedIn, entry_id: IdPath) -> Response:
    return _waitlist_step(request, actor, lambda: service.leave_waitlist(actor, entry_id), "left")


@router.post("/health/waitlist/{entry_id}/decline", response_class=HTMLResponse)
def decline_hold(request: Request, actor: LoggedIn, entry_id: IdPath) -> Response:
    return _waitlist_step(request, actor, lambda: service.decline_hold(actor, entry_id), "declined")


@router.post("/health/waitlist/{entry_id}/accept", response_class=HTMLResponse)
def accept_hold(request: Request, actor: LoggedIn, entry_id: IdPath) -> Response:
    try:
        appointment = service.accept_hold(actor, entry_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _waitlist_page(request, actor, errors=FormErrors.of(exc), status_code=exc.status)
    return redirect(f"/health/appointments/{appointment.id}?done=booked")
