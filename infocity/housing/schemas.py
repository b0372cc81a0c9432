"""Shapes of housing data crossing the service boundary."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ApartmentCreate(BaseModel):
    payer_code: str = Field(pattern=r"^\d{10}$", description="The 10-digit code on the bill")
    operator_id: int
    district_id: int | None = None
    address: str = Field(min_length=3, max_length=500)
    number: str = Field(min_length=1, max_length=10)
    residents: int = Field(ge=0, le=50)


class ApartmentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    payer_code: str
    operator_id: int
    district_id: int | None
    address: str
    number: str
    residents: int
