"""Base shapes of every service's schemas: what comes in is strict and clean, what
goes out is read from the rows."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
