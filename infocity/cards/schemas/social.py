"""What the social cards' use cases take and give."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from infocity.core.schemas import MAX_ID, InputModel, OutputModel

CardStatus = Literal["ordered", "issued", "active", "blocked", "reissued"]
BlockReasonCode = Literal["lost", "stolen", "damaged", "studies_ended"]


class SocialCardOrder(InputModel):
    """The card the college confirmed: whose, which college, until when (the portal's
    approval hook gives it)."""

    person_id: int = Field(ge=1, le=MAX_ID)
    user_id: int = Field(ge=1, le=MAX_ID)
    college_id: int = Field(ge=1, le=MAX_ID)
    student_number: str = Field(min_length=1, max_length=40)
    graduation_year: int = Field(ge=2000, le=2100)
    application_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class SocialCardIssue(InputModel):
    """The card handed to the student: its UID as the reader shows it."""

    uid: str = Field(min_length=8, max_length=40)


class SocialCardBlock(InputModel):
    """Why a card is blocked (the student: lost, stolen, damaged)."""

    reason: BlockReasonCode
    note: str | None = Field(default=None, max_length=500)


class SocialCardEventRead(OutputModel):
    status: CardStatus
    note: str | None
    at: datetime


class SocialCardRead(OutputModel):
    id: int
    person_id: int
    college_id: int
    student_number: str
    uid: str | None
    status: CardStatus
    valid_until: date
    block_reason: BlockReasonCode | None
    replaces_card_id: int | None
    created_at: datetime
    updated_at: datetime
    history: list[SocialCardEventRead] = Field(default_factory=list)


class SocialCardEligibilityRead(BaseModel):
    """A validator's answer: whether the UID gives a reduced fare today, and until when."""

    uid: str
    eligible: bool
    reason: Literal["eligible", "not_active", "blocked", "expired", "unknown"]
    valid_until: date | None


class SocialStopListRead(OutputModel):
    """A stop-list as exported: its day, size and signature (the body is served apart)."""

    city_date: date
    uid_count: int
    key_id: str
    signature: str
    created_at: datetime


class SocialStopListDocument(BaseModel):
    """A stop-list with its exact bytes, as validators download it."""

    city_date: date
    key_id: str
    signature: str
    body: bytes


class SocialStopListKeyRead(BaseModel):
    """The published key that verifies stop-lists."""

    algorithm: Literal["Ed25519"]
    key_id: str
    public_key: str = Field(description="The raw 32-byte public key, base64")
    public_key_pem: str
