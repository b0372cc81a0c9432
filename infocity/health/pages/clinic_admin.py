"""A clinic administrator's pages: the practitioners' weekly rules and exceptions."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.errors import AppError
from infocity.health import reads, service
from infocity.health.pages.common import OptionalId, _int_or_none, _notice, _page
from infocity.health.schemas import ScheduleExceptionCreate, ScheduleRuleCreate
from infocity.web.forms import (
    Form,
    FormErrors,
    LoggedIn,
    filled,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(include_in_schema=False)


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
    actor: Principal,
    clinic_id: int | None,
    *,
    notice: str | None = None,
    form_name: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    preview: list[Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    schedules = reads.clinic_schedules(actor, clinic_id)
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
    actor: LoggedIn,
    clinic: OptionalId = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    return _admin_page(request, actor, clinic, notice=_notice(done))


@router.post("/clinic-admin/rules", response_class=HTMLResponse)
def add_rule(request: Request, actor: LoggedIn, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        service.set_schedule_rule(actor, ScheduleRuleCreate(**filled(form, RULE_FIELDS)))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _admin_page(
            request,
            actor,
            clinic_id,
            form_name="rule",
            values={name: form.get(name, "") for name in RULE_FIELDS},
            errors=FormErrors.of(exc, RULE_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect(f"/clinic-admin?clinic={clinic_id or ''}&done=rule")


@router.post("/clinic-admin/exceptions", response_class=HTMLResponse)
def add_exception(request: Request, actor: LoggedIn, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    values = {name: form.get(name, "") for name in EXCEPTION_FIELDS}
    try:
        data = ScheduleExceptionCreate(**filled(form, EXCEPTION_FIELDS))
        if form.get("step") == "preview":
            affected = service.preview_schedule_exception(actor, data)
            return _admin_page(
                request,
                actor,
                clinic_id,
                form_name="exception",
                values=values,
                preview=affected,
            )
        service.add_schedule_exception(actor, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _admin_page(
            request,
            actor,
            clinic_id,
            form_name="exception",
            values=values,
            errors=FormErrors.of(exc, EXCEPTION_FIELDS),
            status_code=refusal_status(exc),
        )
    return redirect(f"/clinic-admin?clinic={clinic_id or ''}&done=exception")
