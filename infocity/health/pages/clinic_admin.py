"""A clinic administrator's pages: doctors' posts, the practitioners' weekly rules and
exceptions. A change that may cancel appointments is previewed first: the preview opens
the page, with the button that applies exactly what it shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Principal
from infocity.core.errors import AppError
from infocity.core.i18n import N_, gettext
from infocity.health import reads, service
from infocity.health.pages.common import OptionalId, _int_or_none, _notice, _page
from infocity.health.schemas import (
    AffectedAppointmentRead,
    DoctorPostCreate,
    ScheduleExceptionCreate,
    ScheduleRuleCreate,
    ScheduleRuleUpdate,
)
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
RULE_CHANGE_FIELDS = RULE_FIELDS[1:]
EXCEPTION_FIELDS = ("practitioner_id", "kind", "date_from", "date_to", "start_time", "end_time")
POST_FIELDS = ("user_id", "specialty_code", "room", "district")
CANCELLED_COUNT = N_("Appointments cancelled: %(count)s. Each patient has been told.")
NONE_CANCELLED = N_("No booked appointments are affected.")


@dataclass
class PendingChange:
    """A previewed change waiting for "apply": what it cancels and the form that applies
    exactly that (its values and token)."""

    title: str
    action: str
    affected: list[AffectedAppointmentRead]
    token: str
    values: dict[str, str] = field(default_factory=dict)


def _admin_page(
    request: Request,
    actor: Principal,
    clinic_id: int | None,
    *,
    notice: str | None = None,
    form_name: str | None = None,
    values: dict[str, str] | None = None,
    errors: FormErrors | None = None,
    pending: PendingChange | None = None,
    editing: int | None = None,
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
            "pending": pending,
            "editing": editing,
        },
        status_code,
    )


def _done(clinic_id: int | None, done: str, cancelled: int | None = None) -> Response:
    count = f"&cancelled={cancelled}" if cancelled is not None else ""
    return redirect(f"/clinic-admin?clinic={clinic_id or ''}&done={done}{count}")


@router.get("/clinic-admin", response_class=HTMLResponse)
def clinic_admin(
    request: Request,
    actor: LoggedIn,
    clinic: OptionalId = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
    cancelled: Annotated[int | None, Query(ge=0, le=1_000_000)] = None,
) -> HTMLResponse:
    notice = _notice(done)
    if notice and cancelled is not None:
        told = gettext(CANCELLED_COUNT, count=cancelled) if cancelled else gettext(NONE_CANCELLED)
        notice = f"{notice} {told}"
    return _admin_page(request, actor, clinic, notice=notice)


@router.post("/clinic-admin/posts", response_class=HTMLResponse)
def open_doctor_post(request: Request, actor: LoggedIn, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        data = DoctorPostCreate(clinic_id=clinic_id or 0, **filled(form, POST_FIELDS))
        service.open_doctor_post(actor, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _admin_page(
            request,
            actor,
            clinic_id,
            form_name="post",
            values={name: form.get(name, "") for name in POST_FIELDS},
            errors=FormErrors.of(exc, POST_FIELDS),
            status_code=refusal_status(exc),
        )
    return _done(clinic_id, "post")


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
    return _done(clinic_id, "rule")


@router.get("/clinic-admin/rules/{rule_id}", response_class=HTMLResponse)
def edit_rule_form(
    request: Request, actor: LoggedIn, rule_id: IdPath, clinic: OptionalId = None
) -> HTMLResponse:
    """The page opening with the form that changes one weekly pattern."""
    return _admin_page(request, actor, clinic, form_name="rule_edit", editing=rule_id)


@router.post("/clinic-admin/rules/{rule_id}", response_class=HTMLResponse)
def change_rule(request: Request, actor: LoggedIn, rule_id: IdPath, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    values = {name: form.get(name, "") for name in RULE_CHANGE_FIELDS}
    data: ScheduleRuleUpdate | None = None
    try:
        data = ScheduleRuleUpdate(**filled(form, RULE_CHANGE_FIELDS))
        if form.get("step") != "apply":
            pending = _rule_pending(actor, rule_id, data, values)
            return _admin_page(
                request, actor, clinic_id, pending=pending, form_name="rule_edit",
                editing=rule_id, values=values,
            )  # fmt: skip
        result = service.change_schedule_rule(actor, rule_id, data, preview=form.get("preview", ""))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _admin_page(
            request,
            actor,
            clinic_id,
            form_name="rule_edit",
            editing=rule_id,
            values=values,
            errors=FormErrors.of(exc, RULE_CHANGE_FIELDS),
            pending=(
                _rule_pending(actor, rule_id, data, values)
                if _outdated(exc) and data is not None
                else None
            ),
            status_code=refusal_status(exc),
        )
    return _done(clinic_id, "rule_changed", len(result.cancelled_appointments))


@router.post("/clinic-admin/rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_rule(request: Request, actor: LoggedIn, rule_id: IdPath, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    try:
        if form.get("step") != "apply":
            pending = _rule_pending(actor, rule_id, None, {})
            return _admin_page(request, actor, clinic_id, pending=pending)
        result = service.remove_schedule_rule(actor, rule_id, preview=form.get("preview", ""))
    except AppError as exc:
        reraise_refusal(exc)
        return _admin_page(
            request,
            actor,
            clinic_id,
            errors=FormErrors.of(exc),
            pending=_rule_pending(actor, rule_id, None, {}) if _outdated(exc) else None,
            status_code=exc.status,
        )
    return _done(clinic_id, "rule_removed", len(result.cancelled_appointments))


def _outdated(exc: AppError | ValidationError) -> bool:
    """Applied without the preview, or after what it affects changed: show it anew."""
    return isinstance(exc, AppError) and exc.code == "preview_outdated"


def _rule_pending(
    actor: Principal, rule_id: int, data: ScheduleRuleUpdate | None, values: dict[str, str]
) -> PendingChange:
    """The preview of changing (``data``) or deleting (None) a weekly schedule."""
    affected = service.preview_schedule_rule_change(actor, rule_id, data)
    title = (
        N_("Check the change of the weekly schedule")
        if data is not None
        else N_("Check the removal of the weekly schedule")
    )
    return PendingChange(
        gettext(title),
        f"/clinic-admin/rules/{rule_id}" + ("" if data is not None else "/delete"),
        affected,
        service.rule_preview_token(rule_id, data, affected),
        values,
    )


def _exception_pending(
    actor: Principal, data: ScheduleExceptionCreate, values: dict[str, str]
) -> PendingChange:
    affected = service.preview_schedule_exception(actor, data)
    return PendingChange(
        gettext(N_("Check the exception")),
        "/clinic-admin/exceptions",
        affected,
        service.exception_preview_token(data, affected),
        values,
    )


@router.post("/clinic-admin/exceptions", response_class=HTMLResponse)
def add_exception(request: Request, actor: LoggedIn, form: Form) -> Response:
    clinic_id = _int_or_none(form.get("clinic_id"))
    values = {name: form.get(name, "") for name in EXCEPTION_FIELDS}
    data: ScheduleExceptionCreate | None = None
    try:
        data = ScheduleExceptionCreate(**filled(form, EXCEPTION_FIELDS))
        if form.get("step") != "apply":
            pending = _exception_pending(actor, data, values)
            return _admin_page(
                request, actor, clinic_id, form_name="exception", values=values, pending=pending
            )
        result = service.add_schedule_exception(actor, data, preview=form.get("preview", ""))
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        # An outdated or missing preview: show the one that holds now, with its button.
        return _admin_page(
            request,
            actor,
            clinic_id,
            form_name="exception",
            values=values,
            errors=FormErrors.of(exc, EXCEPTION_FIELDS),
            pending=_exception_pending(actor, data, values) if _outdated(exc) and data else None,
            status_code=refusal_status(exc),
        )
    return _done(clinic_id, "exception", len(result.cancelled_appointments))
