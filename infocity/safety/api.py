"""JSON routes of school video surveillance (thin: call one use case, answer).

Security staff read their buildings, a building's cameras and outages, and the current
outages; the probe cycles are the worker's, not routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from infocity.core.schemas import MAX_ID
from infocity.safety import service
from infocity.safety.schemas import BuildingRead, BuildingStatusRead, OutageRead
from infocity.web.deps import LoggedIn
from infocity.web.errors import error_responses

router = APIRouter(prefix="/safety", tags=["safety"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get(
    "/buildings",
    response_model=list[BuildingRead],
    responses=error_responses(401, 403),
    summary="The school buildings I watch (security staff: those they are responsible for)",
)
def safety_my_buildings(actor: LoggedIn) -> list[BuildingRead]:
    return service.list_my_buildings(actor)


@router.get(
    "/buildings/{building_id}",
    response_model=BuildingStatusRead,
    responses=error_responses(401, 403, 404, 422),
    summary="A school building's cameras with their health, and its outages",
)
def safety_building_status(building_id: IdPath, actor: LoggedIn) -> BuildingStatusRead:
    return service.get_building_status(actor, building_id)


@router.get(
    "/outages",
    response_model=list[OutageRead],
    responses=error_responses(401, 403),
    summary="The outages open now (security staff: of their buildings)",
)
def safety_current_outages(actor: LoggedIn) -> list[OutageRead]:
    return service.current_outages(actor)
