"""What the city directory takes and gives (``XCreate`` / ``XRead``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from infocity.core.schemas import MAX_ID, InputModel


class DistrictCreate(InputModel):
    code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)


class DistrictRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    name_en: str | None


class OrganisationCreate(InputModel):
    kind: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=300)
    name_en: str | None = Field(default=None, max_length=300)
    district_id: Annotated[int, Field(ge=1, le=MAX_ID)] | None = None
    address: str | None = Field(default=None, max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


# The kinds service.create_organisation accepts (models.ORGANISATION_KINDS), an enum in
# the OpenAPI document.
OrganisationKind = Literal[
    "city",
    "clinic",
    "school",
    "kindergarten",
    "housing_operator",
    "wifi_operator",
    "college",
    "education_office",
]


class OrganisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: OrganisationKind
    name: str
    name_en: str | None
    district_id: int | None
    address: str | None
    latitude: float | None
    longitude: float | None
