"""Base shapes of every service's schemas: what comes in is strict and clean, what
goes out is read from the rows."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from infocity.core.i18n import N_

# Row ids: anything larger would overflow the database's BIGINT and fail as a 500.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

# Control characters have no place in names or numbers, and PostgreSQL refuses NUL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class InputModel(BaseModel):
    """Input: unknown fields refused, whitespace trimmed, control characters refused."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="after")
    @classmethod
    def _printable(cls, value: Any) -> Any:
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            raise ValueError(N_("This value contains characters that are not allowed."))
        return value


class OutputModel(BaseModel):
    """Output: built from a row (``model_validate(row)``)."""

    model_config = ConfigDict(from_attributes=True)


_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_moment(value: Any) -> Any:
    # Pydantic reads a number as seconds since 1970; the API's document promises ISO 8601
    # text, and a client must not be able to rely on anything else.
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError(N_("Give a moment in ISO 8601 with its offset."))
    return value


def _iso_date(value: Any) -> Any:
    # As above, and a date is the day alone (Pydantic would take a midnight too).
    if isinstance(value, int | float) or (isinstance(value, str) and not _DATE.fullmatch(value)):
        raise ValueError(N_("Give a date as YYYY-MM-DD."))
    return value


# Input dates and moments: ISO 8601 text only (the OpenAPI "date" and "date-time").
IsoDate = Annotated[date, BeforeValidator(_iso_date)]
IsoDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_moment)]
