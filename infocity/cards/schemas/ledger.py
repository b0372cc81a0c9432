"""Top-ups, refunds, the ledger, the rules of spending."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import Field

from infocity.core.schemas import Id, InputModel, IsoDate, OutputModel


class TopUp(InputModel):
    """Money paid in for a pupil; ``reference``: the payment's own id (counted once)."""

    amount: int
    reference: str = Field(min_length=1, max_length=60)


class Refund(InputModel):
    """School staff give back a purchase (a meal not served)."""

    event_id: Id


class SpendingRules(InputModel):
    daily_limit: int | None = Field(default=None, ge=0, le=10_000_000)
    banned_categories: list[str] = Field(default_factory=list, max_length=20)


class LedgerFilter(InputModel):
    kind: str | None = None
    since: IsoDate | None = None
    until: IsoDate | None = None


class LedgerEntryRead(OutputModel):
    id: int
    kind: str
    amount: int
    subsidy: int  # the part the subsidised-meal allowance paid (not in ``amount``)
    balance_after: int
    occurred_at: datetime
    items: list[dict[str, Any]] | None
    reference: str | None


class PaymentImportRead(OutputModel):
    rows: int
    counted: int  # new payments; the others were already on the cards
    total: int
    day: date | None = None
