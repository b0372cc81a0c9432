"""The city administrators' page of specialties."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.errors import AppError
from infocity.health import reads, service
from infocity.health.pages.common import Done, _notice, _page
from infocity.health.schemas import SpecialtyUpdate
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


# --- City administration: specialties ------------------------------------------------

SPECIALTY_FIELDS = ("slot_minutes", "booking_mode", "horizon_days", "release_time", "active_limit")


def _specialties_page(
    request: Request,
    actor: Principal,
    *,
    notice: str | None = None,
    edited: int | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    specialties = reads.city_specialties(actor)
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
def city_specialties(request: Request, actor: LoggedIn, done: Done = None) -> HTMLResponse:
    return _specialties_page(request, actor, notice=_notice(done))


@router.post("/admin/specialties/{specialty_id}", response_class=HTMLResponse)
def update_specialty(
    request: Request, actor: LoggedIn, specialty_id: IdPath, form: Form
) -> Response:
    try:
        service.update_specialty(
            actor, specialty_id, SpecialtyUpdate(**filled(form, SPECIALTY_FIELDS))
        )
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _specialties_page(
            request,
            actor,
            edited=specialty_id,
            values={name: form.get(name, "")[:40] for name in SPECIALTY_FIELDS},
            errors=FormErrors.of(exc, SPECIALTY_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect(f"/admin/specialties?done=specialty#specialty-{specialty_id}")
