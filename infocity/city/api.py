"""JSON routes (thin: parse, call one service function, answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from infocity.city import service
from infocity.city.schemas import DistrictRead, OrganisationKind, OrganisationRead
from infocity.core.schemas import MAX_ID
from infocity.web.errors import error_responses

router = APIRouter(tags=["city"])


@router.get("/districts", response_model=list[DistrictRead], summary="The city's districts")
def list_districts() -> list[DistrictRead]:
    return service.list_districts()


@router.get(
    "/organisations",
    response_model=list[OrganisationRead],
    responses=error_responses(422),
    summary="Clinics, schools, kindergartens and operators, of one kind or all",
)
def list_organisations(
    kind: Annotated[OrganisationKind | None, Query()] = None,
) -> list[OrganisationRead]:
    return service.list_organisations(kind)


@router.get(
    "/organisations/{organisation_id}",
    response_model=OrganisationRead,
    responses=error_responses(404),
    summary="One organisation",
)
def get_organisation(organisation_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> OrganisationRead:
    return service.get_organisation(organisation_id)
