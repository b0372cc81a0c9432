"""Home visits: the family's requests and the clinic's queue of them."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.errors import AppError
from infocity.health import reads, rules, service
from infocity.health.pages.common import Done, OptionalId, _int_or_none, _notice, _page
from infocity.health.schemas import HomeVisitCreate, HomeVisitUpdate
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


# --- Citizen: home visits ------------------------------------------------------------

HOME_VISIT_FIELDS = ("patient_id", "address", "reason", "contact_phone")


def _home_visits_page(
    request: Request,
    actor: Principal,
    patient_id: int | None = None,
    *,
    notice: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    mine = reads.my_home_visits(actor, patient_id)
    return _page(
        request,
        "home_visits.html",
        {"mine": mine, "notice": notice, "values": values or {}, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/health/home-visits", response_class=HTMLResponse)
def home_visits(
    request: Request, actor: LoggedIn, patient: OptionalId = None, done: Done = None
) -> HTMLResponse:
    return _home_visits_page(request, actor, patient, notice=_notice(done))


@router.post("/health/home-visits", response_class=HTMLResponse)
def request_home_visit(request: Request, actor: LoggedIn, form: Form) -> Response:
    values = {name: form.get(name, "")[:1000] for name in HOME_VISIT_FIELDS}
    patient_id = _int_or_none(form.get("patient_id"))
    try:
        service.request_home_visit(actor, HomeVisitCreate(**filled(form, HOME_VISIT_FIELDS)))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _home_visits_page(
            request,
            actor,
            patient_id,
            values=values,
            errors=FormErrors.of(exc, HOME_VISIT_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect("/health/home-visits?done=requested")


@router.post("/health/home-visits/{visit_id}/cancel", response_class=HTMLResponse)
def cancel_home_visit(request: Request, actor: LoggedIn, visit_id: IdPath) -> Response:
    try:
        service.cancel_home_visit(actor, visit_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _home_visits_page(request, actor, errors=FormErrors.of(exc), status_code=exc.status)
    return redirect("/health/home-visits?done=visit_cancelled")


# --- Registry: home visits -----------------------------------------------------------

VISIT_STATUSES = tuple(rules.HomeVisitStatus)


def _queue_url(clinic_id: int, status: str | None, done: str | None = None) -> str:
    query = {"clinic": clinic_id, "status": status or "", **({"done": done} if done else {})}
    return f"/registry/home-visits?{urlencode(query)}"


def _queue_page(
    request: Request,
    actor: Principal,
    clinic_id: int | None,
    status: str | None,
    *,
    notice: str | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    queue = reads.home_visit_queue(actor, clinic_id, status)
    return _page(
        request,
        "home_visit_queue.html",
        {"queue": queue, "notice": notice, "errors": errors or FormErrors()},
        status_code,
    )


@router.get("/registry/home-visits", response_class=HTMLResponse)
def home_visit_queue(
    request: Request,
    actor: LoggedIn,
    clinic: OptionalId = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    done: Done = None,
) -> HTMLResponse:
    shown = status if status in VISIT_STATUSES else None
    return _queue_page(request, actor, clinic, shown, notice=_notice(done))


@router.post("/registry/home-visits/{visit_id}", response_class=HTMLResponse)
def update_home_visit(request: Request, actor: LoggedIn, visit_id: IdPath, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    shown = form.get("filter") if form.get("filter") in VISIT_STATUSES else None
    try:
        visit = service.update_home_visit(
            actor, visit_id, HomeVisitUpdate(**filled(form, ("status", "practitioner_id")))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _queue_page(
            request,
            actor,
            clinic_id,
            shown,
            errors=FormErrors.of(exc),
            status_code=refusal_status(exc),
        )
    return redirect(_queue_url(clinic_id or visit.clinic_id, shown, "visit_updated"))
