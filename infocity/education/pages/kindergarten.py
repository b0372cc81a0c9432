"""Pages of the kindergarten queue (thin: parse the form, call one use case, render).

Parents: /education/kindergarten (apply, the position in each chosen kindergarten and
why, offers to accept or decline, withdraw). City officials:
/education/kindergarten/allocation (preview and run the allocation for a date).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Action, Principal, allowed, authorize
from infocity.core.clock import city_today
from infocity.core.errors import AppError
from infocity.core.i18n import N_, gettext
from infocity.education import service
from infocity.education.pages.common import document_options, shown_name
from infocity.education.rules import kindergarten as rules
from infocity.education.schemas.kindergarten import (
    AllocationRead,
    AllocationRequest,
    KindergartenApplicationCreate,
)
from infocity.web.deps import csrf_protect, render
from infocity.web.forms import (
    Form,
    FormErrors,
    IdPath,
    filled,
    logged_in,
    notice,
    redirect,
    refusal_status,
    reraise_refusal,
)

router = APIRouter(dependencies=[Depends(csrf_protect)])

PAGE = "/education/kindergarten"
ALLOCATION_PAGE = f"{PAGE}/allocation"
APPLY_FIELDS = (
    "child_id",
    "kindergarten_1",
    "kindergarten_2",
    "kindergarten_3",
    "desired_start",
    "benefit",
    "benefit_document_id",
)
NOTICES = {
    "applied": N_("The application is in the queue."),
    "accepted": N_("You accepted the place. The kindergarten will contact you."),
    "declined": N_("You declined the place; your child stays in the queue with the original date."),
    "withdrawn": N_("The application is withdrawn."),
    "run": N_("The allocation is done: the parents have been notified of the places."),
}


def _common() -> dict[str, Any]:
    return {
        "benefit_labels": rules.BENEFIT_LABELS,
        "status_labels": rules.APPLICATION_LABELS,
        "offer_labels": rules.OFFER_LABELS,
        "group_args": rules.group_label_args,
    }


def _index(
    request: Request, actor: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return render(
        request,
        "education/kindergarten/index.html",
        {
            "applications": service.list_my_kindergarten_applications(actor),
            "children": service.children_for_kindergarten(actor),
            "kindergartens": [
                (k.id, shown_name(k.name, k.name_en) + (f", {k.address}" if k.address else ""))
                for k in service.list_kindergartens()
            ],
            "benefits": [(b.value, gettext(label)) for b, label in rules.BENEFIT_LABELS.items()],
            "documents": document_options(actor),
            "values": {
                "benefit": rules.Benefit.NONE.value,
                "desired_start": _default_run_for().isoformat(),
            },
            "errors": FormErrors(),
            "notice": notice(NOTICES, request.query_params.get("done")),
            "may_allocate": allowed(actor, Action.KINDERGARTEN_ALLOCATE),
            **_common(),
            **context,
        },
        status_code=status_code,
    )


@router.get(PAGE, response_class=HTMLResponse)
def kindergarten_home(request: Request) -> Response:
    actor = logged_in(request)
    if actor.kind != "citizen" and allowed(actor, Action.KINDERGARTEN_ALLOCATE):
        return redirect(ALLOCATION_PAGE)
    return _index(request, actor)


@router.post(f"{PAGE}/apply", response_class=HTMLResponse)
def kindergarten_apply(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = filled(form, APPLY_FIELDS)
    choices = [
        values[k] for k in ("kindergarten_1", "kindergarten_2", "kindergarten_3") if k in values
    ]
    try:
        data = KindergartenApplicationCreate.model_validate(
            {
                "child_id": values.get("child_id"),
                "kindergarten_ids": choices,
                "desired_start": values.get("desired_start"),
                "benefit": values.get("benefit", rules.Benefit.NONE.value),
                "benefit_document_id": values.get("benefit_document_id"),
            }
        )
        service.apply_for_kindergarten(actor, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        errors = FormErrors.of(exc, (*APPLY_FIELDS, "kindergarten_ids"))
        if "kindergarten_ids" in errors.fields:
            errors.fields["kindergarten_1"] = errors.fields.pop("kindergarten_ids")
        return _index(request, actor, refusal_status(exc), values=values, errors=errors)
    return redirect(f"{PAGE}?done=applied")


def _answer(request: Request, offer_id: int, accept: bool) -> Response:
    actor = logged_in(request)
    try:
        service.answer_offer(actor, offer_id, accept=accept)
    except AppError as exc:
        reraise_refusal(exc)
        return _index(request, actor, exc.status, errors=FormErrors.of(exc))
    return redirect(f"{PAGE}?done={'accepted' if accept else 'declined'}")


@router.post(f"{PAGE}/offers/{{offer_id}}/accept", response_class=HTMLResponse)
def kindergarten_accept(request: Request, offer_id: IdPath) -> Response:
    return _answer(request, offer_id, accept=True)


@router.post(f"{PAGE}/offers/{{offer_id}}/decline", response_class=HTMLResponse)
def kindergarten_decline(request: Request, offer_id: IdPath) -> Response:
    return _answer(request, offer_id, accept=False)


@router.post(f"{PAGE}/applications/{{application_id}}/withdraw", response_class=HTMLResponse)
def kindergarten_withdraw(request: Request, application_id: IdPath) -> Response:
    actor = logged_in(request)
    try:
        service.withdraw_kindergarten_application(actor, application_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _index(request, actor, exc.status, errors=FormErrors.of(exc))
    return redirect(f"{PAGE}?done=withdrawn")


# --- City officials: the allocation ----------------------------------------------------


def _default_run_for() -> date:
    """The next 1 September: the day the kindergartens' year starts."""
    return date(rules.school_year(city_today()) + 1, *rules.SCHOOL_YEAR_STARTS)


def _allocation(
    request: Request,
    actor: Principal,
    status_code: int = 200,
    preview: AllocationRead | None = None,
    **context: Any,
) -> HTMLResponse:
    authorize(actor, Action.KINDERGARTEN_ALLOCATE)
    on = preview.run_for if preview is not None else _default_run_for()
    return render(
        request,
        "education/kindergarten/allocation.html",
        {
            "values": {"run_for": _default_run_for().isoformat()},
            "errors": FormErrors(),
            "preview": preview,
            "waiting_on": on,
            "waiting": service.list_waiting_at_three(actor, on),
            "notice": notice(NOTICES, request.query_params.get("done")),
            **_common(),
            **context,
        },
        status_code=status_code,
    )


@router.get(ALLOCATION_PAGE, response_class=HTMLResponse)
def kindergarten_allocation(request: Request) -> Response:
    return _allocation(request, logged_in(request))


@router.post(ALLOCATION_PAGE, response_class=HTMLResponse)
def kindergarten_allocation_submit(request: Request, form: Form) -> Response:
    """One form, two buttons: ``action=preview`` shows what would be offered,
    ``action=run`` offers it."""
    actor = logged_in(request)
    values = filled(form, ("run_for",))
    try:
        run_for = AllocationRequest.model_validate({"run_for": values.get("run_for")}).run_for
        if form.get("action") == "run":
            service.run_allocation(actor, run_for)
            return redirect(f"{ALLOCATION_PAGE}?done=run")
        preview = service.preview_allocation(actor, run_for)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _allocation(
            request,
            actor,
            refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, ("run_for",)),
        )
    return _allocation(request, actor, preview=preview, values=values)
