"""Cards, pupils and the adults told about them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from infocity.core.schemas import Id, InputModel, OutputModel


class CardIssue(InputModel):
    """School staff issue a card: the pupil (a person in the register) and the UID."""

    school_id: Id
    person_id: Id
    uid: str = Field(min_length=1, max_length=40)


class CardRead(OutputModel):
    id: int
    uid: str
    pupil_id: int
    status: str
    issued_at: datetime
    changed_at: datetime | None


class CardHistoryRead(OutputModel):
    card_id: int | None
    action: str
    detail: str | None
    created_at: datetime


class Activation(InputModel):
    """A parent turns the service on for a child of their family."""

    child_id: Id


class TrustedAdultAdd(InputModel):
    """A legal representative adds an adult by the e-mail or phone of their account."""

    contact: str = Field(min_length=3, max_length=254)


class NotificationSettings(InputModel):
    passes: bool = True
    purchases: bool = True
    low_balance: bool = True
    digest: bool = False
    channels: list[str] = Field(default_factory=lambda: ["inbox"], max_length=3)
    # The balance below which the low-balance alert goes out (kopecks); legal
    # representatives only, None keeps it as it is.
    low_balance_level: int | None = Field(default=None, ge=0, le=10_000_000)


class RepresentativeRead(OutputModel):
    id: int
    pupil_id: int
    user_id: int
    display_name: str
    standing: str
    passes: bool
    purchases: bool
    low_balance: bool
    digest: bool
    channels: list[str]


class AutoTopUpRule(InputModel):
    """Below ``below`` kopecks after a purchase, ask for ``amount`` from the parent's
    bank card, at most once per ``period``; no ``below`` turns the rule off."""

    below: int | None = Field(default=None, ge=1, le=10_000_000)
    amount: int = Field(default=50_000, ge=100, le=10_000_000)
    period: Literal["day", "week", "month"] = "week"


class AutoTopUpRead(OutputModel):
    """An automatic top-up asked for; the payment carrying ``reference`` settles it."""

    amount: int
    reference: str
    state: str
    period_start: date


class PupilRead(OutputModel):
    """A pupil as a representative sees them."""

    id: int
    person_id: int
    name: str
    school_id: int
    balance: int
    available: int  # the balance less what approved till purchases hold
    daily_limit: int | None
    spent_today: int
    low_balance: int
    banned_categories: list[str]
    standing: str  # the asking adult's
    card_status: str | None
    auto_top_up: AutoTopUpRule | None = None  # the rule, when set
    auto_top_ups: list[AutoTopUpRead] = Field(
        default_factory=list
    )  # the latest requests, newest first
