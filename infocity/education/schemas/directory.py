"""What the education directory takes and gives."""

from __future__ import annotations

from pydantic import Field

from infocity.core.schemas import Id, InputModel, OutputModel


class SchoolCreate(InputModel):
    name: str = Field(min_length=1, max_length=300)
    name_en: str | None = Field(default=None, max_length=300)
    district_id: Id | None = None
    # The first building is the school's main address.
    buildings: list[str] = Field(min_length=1, max_length=20)


class SchoolRead(OutputModel):
    id: int
    name: str
    name_en: str | None
    district_id: int | None
    buildings: list[str]


class KindergartenCreate(InputModel):
    name: str = Field(min_length=1, max_length=300)
    name_en: str | None = Field(default=None, max_length=300)
    district_id: Id | None = None
    address: str = Field(min_length=1, max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class KindergartenGroupRead(OutputModel):
    id: int
    kindergarten_id: int
    year: int
    age_group: int
    places: int
    free_places: int


class KindergartenRead(OutputModel):
    id: int
    name: str
    name_en: str | None
    district_id: int | None
    address: str | None
    groups: list[KindergartenGroupRead] = Field(default_factory=list)


class GroupPlacesSet(InputModel):
    year: int = Field(ge=2000, le=2100)
    age_group: int = Field(ge=1, le=6)
    places: int = Field(ge=0, le=1000)


class DistrictChoice(OutputModel):
    id: int
    name: str
    name_en: str | None


class DirectoryRead(OutputModel):
    """The schools and kindergartens a member of staff looks after: their own
    organisation, their district's, or the city's."""

    schools: list[SchoolRead]
    kindergartens: list[KindergartenRead]
    may_register: bool  # registering schools and kindergartens, loading territories
    districts: list[DistrictChoice]  # where the staff member may register them


class TerritoryRowRejected(OutputModel):
    line: int
    reason: str


class TerritoryImportRead(OutputModel):
    imported: int


class TerritoryCheck(InputModel):
    address: str = Field(min_length=1, max_length=500)


class TerritoryRead(OutputModel):
    address: str
    school_id: int
    school_name: str
