"""What turnstiles and tills send, and what they are answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from infocity.core.schemas import MAX_ID, InputModel, IsoDateTime, OutputModel


class ItemIn(InputModel):
    name: str = Field(min_length=1, max_length=100)
    category: str = Field(min_length=1, max_length=32)
    price: int = Field(ge=0, le=10_000_000)  # kopecks


class DeviceEventIn(InputModel):
    """One event as a device reports it. ``amount`` and ``items`` for purchases;
    ``authorization_id`` when the till asked first and was approved."""

    event_id: str = Field(min_length=1, max_length=64)
    kind: Literal["entry", "exit", "purchase"]
    uid: str = Field(min_length=1, max_length=40)
    at: IsoDateTime
    amount: int | None = None
    items: list[ItemIn] = Field(default_factory=list, max_length=50)
    authorization_id: int | None = Field(default=None, ge=1)
    # The meal ordered ahead that this purchase serves (paid already: no amount needed).
    order_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class RowRefusal(BaseModel):
    index: int  # the row's place in the batch, from 0
    event_id: str | None
    code: str
    message: str


class BatchRead(BaseModel):
    """How many rows were stored now and how many were seen before; each refused row
    in detail with why (the answer stays short however large the batch)."""

    accepted: int
    duplicates: int
    refused: list[RowRefusal]


class AuthorizationAsk(InputModel):
    """A till asks: may this card buy these items for this amount?"""

    request_id: str = Field(min_length=1, max_length=64)
    uid: str = Field(min_length=1, max_length=40)
    amount: int
    items: list[ItemIn] = Field(default_factory=list, max_length=50)
    at: IsoDateTime | None = None


class AuthorizationRead(BaseModel):
    approved: bool
    authorization_id: int | None  # the hold to name in the purchase event
    reason: str | None  # balance | limit | banned | blocked
    message: str | None
    expires_at: datetime | None


class CardEventRead(OutputModel):
    id: int
    kind: str
    occurred_at: datetime
    amount: int | None
    items: list[dict[str, Any]] | None
    reason: str | None
