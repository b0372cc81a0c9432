"""Pages of first-grade enrolment (thin: parse the form, call one use case, render).

Parents: /education/first-grade (the campaign's phases, apply, the decision and its
reason). City officials: /education/first-grade/allocation (preview and run a phase) and
/education/first-grade/campaign (the phases' dates; with district officials, the schools'
places).
School staff: /education/first-grade/schools/{id} (the admitted children, confirming
their documents).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from infocity.core.auth import Action, Principal, Role, allowed, authorize
from infocity.core.clock import city_today
from infocity.core.errors import AppError
from infocity.core.i18n import N_
from infocity.education import service
from infocity.education.pages.common import document_options, shown_name
from infocity.education.rules import first_grade as rules
from infocity.education.schemas.first_grade import (
    CampaignSet,
    DocumentsRefusal,
    FirstGradeApplicationCreate,
    FirstGradePlacesSet,
    FirstGradeRunRead,
    FirstGradeRunRequest,
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

PAGE = "/education/first-grade"
ALLOCATION_PAGE = f"{PAGE}/allocation"
SCHOOL_CHOICES = ("school_1", "school_2", "school_3")
APPLY_FIELDS = (
    "child_id",
    *SCHOOL_CHOICES,
    "home_address",
    "sibling_school_id",
    "sibling_name",
    "priority_document_id",
    "age_permission",
)
NOTICES = {
    "applied": N_("The application is sent. The decision will come by the day shown."),
    "withdrawn": N_("The application is withdrawn."),
    "run": N_("The decisions are made: the parents have been notified."),
    "confirmed": N_("The documents are confirmed: the child is enrolled."),
    "refused": N_("The documents are refused: the parents are told and the place is free again."),
    "campaign": N_("The campaign's dates are saved."),
    "places": N_("The places are saved."),
}
CAMPAIGN_PAGE = f"{PAGE}/campaign"
CAMPAIGN_FIELDS = (
    "phase_1_opens",
    "phase_1_closes",
    "phase_2_opens",
    "phase_2_closes",
    "phase_1_decision_days",
    "phase_2_decision_days",
)


def _common() -> dict[str, Any]:
    return {
        "status_labels": rules.FIRST_GRADE_LABELS,
        "refusal_labels": rules.REFUSAL_LABELS,
        "right_labels": rules.RIGHT_LABELS,
        "phase_labels": rules.PHASE_LABELS,
    }


def _index(
    request: Request, actor: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    campaign = service.get_first_grade_campaign()
    return render(
        request,
        "education/first_grade/index.html",
        {
            "campaign": campaign,
            "schools": [
                (s.school_id, shown_name(s.school_name, s.school_name_en))
                for s in (campaign.schools if campaign else [])
            ],
            "documents": document_options(actor),
            "applications": service.list_my_first_grade_applications(actor),
            "children": service.children_for_first_grade(actor),
            "values": {},
            "errors": FormErrors(),
            "notice": notice(NOTICES, request.query_params.get("done")),
            **_common(),
            **context,
        },
        status_code=status_code,
    )


def _school_of(actor: Principal) -> int | None:
    """The school a school staff member works at (their first school grant)."""
    for grant in actor.grants:
        if grant.role is Role.SCHOOL_STAFF and grant.organisation_id is not None:
            return grant.organisation_id
    return None


@router.get(PAGE, response_class=HTMLResponse)
def first_grade_home(request: Request) -> Response:
    actor = logged_in(request)
    if actor.kind != "citizen":
        if allowed(actor, Action.FIRST_GRADE_MANAGE):
            return redirect(ALLOCATION_PAGE)
        school = _school_of(actor)
        if school is not None:
            return redirect(f"{PAGE}/schools/{school}")
    return _index(request, actor)


@router.post(f"{PAGE}/apply", response_class=HTMLResponse)
def first_grade_apply(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = filled(form, APPLY_FIELDS)
    try:
        data = FirstGradeApplicationCreate.model_validate(
            {
                "child_id": values.get("child_id"),
                "school_ids": [values[k] for k in SCHOOL_CHOICES if k in values],
                "home_address": values.get("home_address"),
                "sibling_school_id": values.get("sibling_school_id"),
                "sibling_name": values.get("sibling_name"),
                "priority_document_id": values.get("priority_document_id"),
                "age_permission": values.get("age_permission"),
            }
        )
        service.apply_for_first_grade(actor, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        errors = FormErrors.of(exc, (*APPLY_FIELDS, "school_ids"))
        if "school_ids" in errors.fields:
            errors.fields["school_1"] = errors.fields.pop("school_ids")
        return _index(request, actor, refusal_status(exc), values=values, errors=errors)
    return redirect(f"{PAGE}?done=applied")


@router.post(f"{PAGE}/applications/{{application_id}}/withdraw", response_class=HTMLResponse)
def first_grade_withdraw(request: Request, application_id: IdPath) -> Response:
    actor = logged_in(request)
    try:
        service.withdraw_first_grade_application(actor, application_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _index(request, actor, exc.status, errors=FormErrors.of(exc))
    return redirect(f"{PAGE}?done=withdrawn")


# --- City officials: the allocation of a phase -----------------------------------------


def _allocation(
    request: Request,
    actor: Principal,
    status_code: int = 200,
    preview: FirstGradeRunRead | None = None,
    **context: Any,
) -> HTMLResponse:
    authorize(actor, Action.FIRST_GRADE_MANAGE)
    return render(
        request,
        "education/first_grade/allocation.html",
        {
            "campaign": service.get_first_grade_campaign(),
            "today": city_today(),
            "values": {"phase": "1"},
            "errors": FormErrors(),
            "preview": preview,
            "notice": notice(NOTICES, request.query_params.get("done")),
            **_common(),
            **context,
        },
        status_code=status_code,
    )


@router.get(ALLOCATION_PAGE, response_class=HTMLResponse)
def first_grade_allocation(request: Request) -> Response:
    return _allocation(request, logged_in(request))


@router.post(ALLOCATION_PAGE, response_class=HTMLResponse)
def first_grade_allocation_submit(request: Request, form: Form) -> Response:
    """One form, two buttons: ``action=preview`` shows the decisions, ``action=run`` makes
    them."""
    actor = logged_in(request)
    values = filled(form, ("phase",))
    try:
        data = FirstGradeRunRequest.model_validate(
            {"year": service.campaign_year(city_today()), "phase": values.get("phase")}
        )
        if form.get("action") == "run":
            service.run_first_grade_allocation(actor, data.year, data.phase)
            return redirect(f"{ALLOCATION_PAGE}?done=run")
        preview = service.preview_first_grade_allocation(actor, data.year, data.phase)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _allocation(
            request,
            actor,
            refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, ("phase",)),
        )
    return _allocation(request, actor, preview=preview, values=values)


# --- The school: its admitted children and their documents -----------------------------


def _school(
    request: Request, actor: Principal, school_id: int, status_code: int = 200, **context: Any
) -> HTMLResponse:
    year = service.campaign_year(city_today())
    return render(
        request,
        "education/first_grade/school.html",
        {
            "school_id": school_id,
            "year": year,
            "children": service.list_school_first_graders(actor, school_id, year),
            "values": {},
            "form": None,
            "errors": FormErrors(),
            "notice": notice(NOTICES, request.query_params.get("done")),
            **_common(),
            **context,
        },
        status_code=status_code,
    )


@router.get(f"{PAGE}/schools/{{school_id}}", response_class=HTMLResponse)
def first_grade_school(request: Request, school_id: IdPath) -> Response:
    return _school(request, logged_in(request), school_id)


@router.post(
    f"{PAGE}/schools/{{school_id}}/applications/{{application_id}}/confirm",
    response_class=HTMLResponse,
)
def first_grade_confirm(request: Request, school_id: IdPath, application_id: IdPath) -> Response:
    actor = logged_in(request)
    try:
        service.confirm_first_grade_documents(actor, application_id)
    except AppError as exc:
        reraise_refusal(exc)
        return _school(request, actor, school_id, exc.status, errors=FormErrors.of(exc))
    return redirect(f"{PAGE}/schools/{school_id}?done=confirmed")


@router.post(
    f"{PAGE}/schools/{{school_id}}/applications/{{application_id}}/refuse",
    response_class=HTMLResponse,
)
def first_grade_refuse(
    request: Request, school_id: IdPath, application_id: IdPath, form: Form
) -> Response:
    actor = logged_in(request)
    values = filled(form, ("reason",))
    try:
        data = DocumentsRefusal.model_validate(values)
        service.refuse_first_grade_documents(actor, application_id, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _school(
            request,
            actor,
            school_id,
            refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, ("reason",)),
            form=f"refuse-{application_id}",
        )
    return redirect(f"{PAGE}/schools/{school_id}?done=refused")


# --- Officials: the campaign's dates and the schools' places ---------------------------


def _campaign_page(
    request: Request, actor: Principal, status_code: int = 200, **context: Any
) -> HTMLResponse:
    authorize(actor, Action.FIRST_GRADE_MANAGE)
    year = service.campaign_year(city_today())
    campaign = service.get_first_grade_campaign(year)
    places = {s.school_id: s for s in campaign.schools} if campaign else {}
    return render(
        request,
        "education/first_grade/campaign.html",
        {
            "year": year,
            "campaign": campaign,
            # The dates concern every district: a district's official sees them only.
            "may_set_dates": actor.districts(Action.FIRST_GRADE_MANAGE) is None,
            "schools": [
                (school, places.get(school.id)) for school in service.list_directory(actor).schools
            ],
            "values": campaign.model_dump(include=set(CAMPAIGN_FIELDS)) if campaign else {},
            "errors": FormErrors(),
            "form": None,
            "notice": notice(NOTICES, request.query_params.get("done")),
            **_common(),
            **context,
        },
        status_code=status_code,
    )


@router.get(CAMPAIGN_PAGE, response_class=HTMLResponse)
def first_grade_campaign(request: Request) -> Response:
    return _campaign_page(request, logged_in(request))


@router.post(CAMPAIGN_PAGE, response_class=HTMLResponse)
def first_grade_campaign_set(request: Request, form: Form) -> Response:
    actor = logged_in(request)
    values = filled(form, CAMPAIGN_FIELDS)
    try:
        data = CampaignSet.model_validate({"year": service.campaign_year(city_today()), **values})
        service.set_first_grade_campaign(actor, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _campaign_page(
            request,
            actor,
            refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, CAMPAIGN_FIELDS),
            form="campaign",
        )
    return redirect(f"{CAMPAIGN_PAGE}?done=campaign")


@router.post(f"{CAMPAIGN_PAGE}/schools/{{school_id}}", response_class=HTMLResponse)
def first_grade_places_set(request: Request, school_id: IdPath, form: Form) -> Response:
    actor = logged_in(request)
    values = filled(form, ("places",))
    try:
        data = FirstGradePlacesSet.model_validate(values)
        service.set_first_grade_places(actor, service.campaign_year(city_today()), school_id, data)
    except (AppError, ValidationError) as exc:
        reraise_refusal(exc)
        return _campaign_page(
            request,
            actor,
            refusal_status(exc),
            values=values,
            errors=FormErrors.of(exc, ("places",)),
            form=f"places-{school_id}",
        )
    return redirect(f"{CAMPAIGN_PAGE}?done=places#school-{school_id}")
