"""A doctor's pages: their day, referrals, home visits and the outcome of a visit."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.errors import AppError
from infocity.health import reads, service
from infocity.health.pages.common import Day, _int_or_none, _notice, _page
from infocity.health.schemas import OutcomeCreate, ReferralCreate
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


# --- Doctor --------------------------------------------------------------------------

REFERRAL_FIELDS = ("person_id", "specialty_code", "target_clinic_id", "valid_days")


def _doctor_page(
    request: Request,
    actor: Principal,
    day: date | None,
    *,
    notice: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    schedule = reads.doctor_day(actor, day)
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
    actor: LoggedIn,
    day: Day = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return _doctor_page(request, actor, day, notice=_notice(done))


@router.post("/doctor/referrals", response_class=HTMLResponse)
def issue_referral(request: Request, actor: LoggedIn, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id")) or 0
    try:
        service.issue_referral(actor, clinic_id, ReferralCreate(**filled(form, REFERRAL_FIELDS)))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _doctor_page(
            request,
            actor,
            None,
            values={name: form.get(name, "") for name in REFERRAL_FIELDS},
            errors=FormErrors.of(exc, REFERRAL_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect("/doctor?done=referred")


@router.post("/doctor/appointments/{appointment_id}/outcome", response_class=HTMLResponse)
def mark_outcome(request: Request, actor: LoggedIn, appointment_id: IdPath, form: Form) -> Response:
    try:
        service.mark_appointment_outcome(
            actor, appointment_id, OutcomeCreate(**filled(form, ["outcome"]))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _doctor_page(
            request, actor, None, errors=FormErrors.of(exc), status_code=refusal_status(exc)
        )
    return redirect("/doctor?done=marked")


@router.post("/doctor/appointments/{appointment_id}/outcome/undo", response_class=HTMLResponse)
def undo_outcome(request: Request, actor: LoggedIn, appointment_id: IdPath) -> Response:
    """Take back a mistaken attended/missed mark made today."""
    try:
        service.undo_appointment_outcome(actor, appointment_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _doctor_page(request, actor, None, errors=FormErrors.of(exc), status_code=exc.status)
    return redirect("/doctor?done=unmarked")
