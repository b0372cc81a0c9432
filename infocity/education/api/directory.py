"""JSON routes of the education directory (thin: parse, call one use case, answer).

A territory file refused is ``422 territory_rows_rejected`` with ``fields``: each
rejected line ("line N") and why; an address not in any territory is ``404 address_unknown``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from infocity.core.schemas import MAX_ID
from infocity.education import service
from infocity.education.schemas.directory import (
    GroupPlacesSet,
    KindergartenCreate,
    KindergartenGroupRead,
    KindergartenRead,
    SchoolCreate,
    SchoolRead,
    TerritoryImportRead,
    TerritoryRead,
)
from infocity.web.deps import LoggedIn
from infocity.web.errors import error_responses

router = APIRouter(prefix="/education", tags=["education"])

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
MAX_TERRITORY_BYTES = 1024 * 1024 - 1024  # under the body limit of every request


@router.post(
    "/schools",
    status_code=201,
    response_model=SchoolRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Register a school with its buildings (city education officials)",
)
def education_create_school(data: SchoolCreate, actor: LoggedIn) -> SchoolRead:
    return service.create_school(actor, data)


@router.get(
    "/schools/{school_id}",
    response_model=SchoolRead,
    responses=error_responses(404, 422),
    summary="A school and its buildings",
)
def education_get_school(school_id: IdPath) -> SchoolRead:
    return service.get_school(school_id)


@router.get(
    "/territory",
    response_model=TerritoryRead,
    responses=error_responses(404, 422),
    summary="The school whose territory an address is in",
)
def education_school_for_address(
    address: Annotated[str, Query(min_length=1, max_length=500)],
) -> TerritoryRead:
    return service.school_for_address(address)


@router.post(
    "/territory",
    response_model=TerritoryImportRead,
    responses=error_responses(401, 403, 413, 422),
    summary="Import the school territories (CSV text: address,school_id), all rows or none",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
async def education_import_territory(request: Request, actor: LoggedIn) -> TerritoryImportRead:
    body = await request.body()
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = ""  # refused by the header check, on line 1
    return await run_in_threadpool(service.import_territory, actor, text)


@router.post(
    "/kindergartens",
    status_code=201,
    response_model=KindergartenRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Register a kindergarten (city education officials)",
)
def education_create_kindergarten(data: KindergartenCreate, actor: LoggedIn) -> KindergartenRead:
    return service.create_kindergarten(actor, data)


@router.get(
    "/kindergartens",
    response_model=list[KindergartenRead],
    summary="The city's kindergartens with their groups' places",
)
def education_list_kindergartens() -> list[KindergartenRead]:
    return service.list_kindergartens()


@router.put(
    "/kindergartens/{kindergarten_id}/groups",
    response_model=KindergartenGroupRead,
    responses=error_responses(401, 403, 404, 409, 422),
    summary="Set the places of an age group in a school year (the kindergarten's staff)",
)
def education_set_group_places(
    kindergarten_id: IdPath, data: GroupPlacesSet, actor: LoggedIn
) -> KindergartenGroupRead:
    return service.set_group_places(actor, kindergarten_id, data)
