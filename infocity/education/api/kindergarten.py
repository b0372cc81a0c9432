"""JSON routes of the kindergarten queue and the allocation of places.

Refusals: ``409 child_already_queued`` (one active application per child),
``403 not_your_child``, ``422 wrong_age_for_kindergarten`` / ``benefit_document_missing``
/ ``kindergarten_choices_invalid`` / ``desired_start_in_past``, ``409
kindergarten_offer_closed``, ``409 allocation_collided`` (another run at the same moment:
this one gave nothing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from infocity.core.schemas import MAX_ID
from infocity.education import service
from infocity.education.schemas.kindergarten import (
    AllocationRead,
    AllocationRequest,
    KindergartenApplicationCreate,
    KindergartenApplicationRead,
    QueueDate,
    WaitingChildRead,
)
from infocity.web.deps import LoggedIn
from infocity.web.errors import error_responses

router = APIRouter(prefix="/education/kindergarten", tags=["education"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.post(
    "/applications",
    status_code=201,
    response_model=KindergartenApplicationRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Put a child of your family in the queue of up to three kindergartens",
)
def kindergarten_apply(
    data: KindergartenApplicationCreate, actor: LoggedIn
) -> KindergartenApplicationRead:
    return service.apply_for_kindergarten(actor, data)


@router.get(
    "/applications",
    response_model=list[KindergartenApplicationRead],
    responses=error_responses(401, 403),
    summary="Your applications: the position in each kindergarten, why, and what moved it",
)
def kindergarten_my_applications(actor: LoggedIn) -> list[KindergartenApplicationRead]:
    return service.list_my_kindergarten_applications(actor)


@router.post(
    "/applications/{application_id}/withdraw",
    response_model=KindergartenApplicationRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Take the child out of the queue",
)
def kindergarten_withdraw(application_id: IdPath, actor: LoggedIn) -> KindergartenApplicationRead:
    return service.withdraw_kindergarten_application(actor, application_id)


@router.post(
    "/offers/{offer_id}/accept",
    response_model=KindergartenApplicationRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Accept the offered place",
)
def kindergarten_accept_offer(offer_id: IdPath, actor: LoggedIn) -> KindergartenApplicationRead:
    return service.answer_offer(actor, offer_id, accept=True)


@router.post(
    "/offers/{offer_id}/decline",
    response_model=KindergartenApplicationRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Decline the offered place: the child stays in the queue with the original date",
)
def kindergarten_decline_offer(offer_id: IdPath, actor: LoggedIn) -> KindergartenApplicationRead:
    return service.answer_offer(actor, offer_id, accept=False)


@router.post(
    "/allocation/preview",
    response_model=AllocationRead,
    responses=error_responses(401, 403, 422),
    summary="What an allocation for a date would offer now; nothing is written",
)
def kindergarten_preview_allocation(data: AllocationRequest, actor: LoggedIn) -> AllocationRead:
    return service.preview_allocation(actor, data.run_for)


@router.post(
    "/allocation/runs",
    status_code=201,
    response_model=AllocationRead,
    responses=error_responses(401, 403, 409, 422),
    summary="Offer the free places for a date (city officials)",
)
def kindergarten_run_allocation(data: AllocationRequest, actor: LoggedIn) -> AllocationRead:
    return service.run_allocation(actor, data.run_for)


@router.get(
    "/waiting",
    response_model=list[WaitingChildRead],
    responses=error_responses(401, 403, 422),
    summary="Children of 3 or more still without a place, with the nearest kindergartens "
    "that have places (city officials)",
)
def kindergarten_waiting_at_three(
    on: Annotated[QueueDate, Query(description="The day the ages are counted on")],
    actor: LoggedIn,
) -> list[WaitingChildRead]:
    return service.list_waiting_at_three(actor, on)
