"""JSON routes of first-grade enrolment.

Refusals: ``409 first_grade_campaign_closed`` (outside both phases),
``409 child_already_applied_first_grade`` (one active application per child),
``403 not_your_child``, ``422 wrong_age_for_first_grade`` / ``no_right_in_phase_1`` /
``first_grade_choices_invalid`` / ``school_has_no_first_grade`` /
``sibling_school_not_chosen``, ``409 first_grade_allocation_collided`` (another run at the
same moment: this one decided nothing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from infocity.core.schemas import MAX_ID
from infocity.education import errors, service
from infocity.education.schemas.first_grade import (
    CampaignRead,
    CampaignSet,
    DocumentsRefusal,
    FirstGradeApplicationCreate,
    FirstGradeApplicationRead,
    FirstGradePlacesSet,
    FirstGradeRunRead,
    FirstGradeRunRequest,
    SchoolListEntry,
    SchoolPlacesRead,
)
from infocity.web.deps import LoggedIn
from infocity.web.errors import error_responses

router = APIRouter(prefix="/education/first-grade", tags=["education"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
YearPath = Annotated[int, Path(ge=2000, le=2100)]


@router.get(
    "/campaign",
    response_model=CampaignRead,
    responses=error_responses(404, 422),
    summary="The campaign enrolling for the next 1 September (or a year's): phases, schools, "
    "places",
)
def first_grade_campaign(
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> CampaignRead:
    campaign = service.get_first_grade_campaign(year)
    if campaign is None:
        raise errors.CampaignNotFound()
    return campaign


@router.put(
    "/campaigns/{year}",
    response_model=CampaignRead,
    responses=error_responses(401, 403, 422),
    summary="Set a school year's campaign: the phases' dates and the decision terms "
    "(city officials)",
)
def first_grade_set_campaign(year: YearPath, data: CampaignSet, actor: LoggedIn) -> CampaignRead:
    return service.set_first_grade_campaign(actor, data.model_copy(update={"year": year}))


@router.put(
    "/campaigns/{year}/schools/{school_id}",
    response_model=SchoolPlacesRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Set a school's first-grade places in a campaign (city officials)",
)
def first_grade_set_places(
    year: YearPath, school_id: IdPath, data: FirstGradePlacesSet, actor: LoggedIn
) -> SchoolPlacesRead:
    return service.set_first_grade_places(actor, year, school_id, data)


@router.post(
    "/applications",
    status_code=201,
    response_model=FirstGradeApplicationRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Apply for a first-grade place for a child of your family at up to three schools",
)
def first_grade_apply(
    data: FirstGradeApplicationCreate, actor: LoggedIn
) -> FirstGradeApplicationRead:
    return service.apply_for_first_grade(actor, data)


@router.get(
    "/applications",
    response_model=list[FirstGradeApplicationRead],
    responses=error_responses(401, 403),
    summary="Your first-grade applications and their decisions",
)
def first_grade_my_applications(actor: LoggedIn) -> list[FirstGradeApplicationRead]:
    return service.list_my_first_grade_applications(actor)


@router.post(
    "/applications/{application_id}/withdraw",
    response_model=FirstGradeApplicationRead,
    responses=error_responses(401, 403, 404, 409),
    summary="Take the application back (a place given returns to the school)",
)
def first_grade_withdraw(application_id: IdPath, actor: LoggedIn) -> FirstGradeApplicationRead:
    return service.withdraw_first_grade_application(actor, application_id)


@router.post(
    "/allocation/preview",
    response_model=FirstGradeRunRead,
    responses=error_responses(401, 403, 404, 422),
    summary="Who a phase's allocation would admit where now; nothing is written",
)
def first_grade_preview(data: FirstGradeRunRequest, actor: LoggedIn) -> FirstGradeRunRead:
    return service.preview_first_grade_allocation(actor, data.year, data.phase)


@router.post(
    "/allocation/runs",
    status_code=201,
    response_model=FirstGradeRunRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Decide a phase's applications: admitted or refused with the reason (city officials)",
)
def first_grade_run(data: FirstGradeRunRequest, actor: LoggedIn) -> FirstGradeRunRead:
    return service.run_first_grade_allocation(actor, data.year, data.phase)


@router.get(
    "/schools/{school_id}/admitted",
    response_model=list[SchoolListEntry],
    responses=error_responses(401, 403, 404, 422),
    summary="The children admitted to a school, to check their documents (the school's staff)",
)
def first_grade_school_list(
    school_id: IdPath,
    actor: LoggedIn,
    year: Annotated[int, Query(ge=2000, le=2100)],
) -> list[SchoolListEntry]:
    return service.list_school_first_graders(actor, school_id, year)


@router.post(
    "/applications/{application_id}/documents-confirmed",
    response_model=SchoolListEntry,
    responses=error_responses(401, 403, 404, 409),
    summary="The school saw the original documents: the child is enrolled",
)
def first_grade_confirm_documents(application_id: IdPath, actor: LoggedIn) -> SchoolListEntry:
    return service.confirm_first_grade_documents(actor, application_id)


@router.post(
    "/applications/{application_id}/documents-refused",
    response_model=SchoolListEntry,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="The documents do not match: the application is refused, the place returns",
)
def first_grade_refuse_documents(
    application_id: IdPath, data: DocumentsRefusal, actor: LoggedIn
) -> SchoolListEntry:
    return service.refuse_first_grade_documents(actor, application_id, data)
