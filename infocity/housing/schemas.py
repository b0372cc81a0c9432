"""Shapes of housing data crossing the service boundary."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from infocity.core.i18n import N_
from infocity.housing import rules

MeterKind = Literal["cold_water", "hot_water", "electricity_day", "electricity_night"]
BilledService = Literal[
    "cold_water", "hot_water", "electricity_day", "electricity_night", "water_disposal"
]
RequestStatus = rules.RequestStatus

# Characters XML 1.0 cannot carry: one of them in a request would make every Open311 XML
# answer that lists it unreadable to every client.
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# A tag, a comment or a processing instruction: descriptions are published as plain text.
_HTML = re.compile(r"<\s*[/!?]?\s*[A-Za-z]")


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


class ApartmentLinkCreate(BaseModel):
    payer_code: str = Field(pattern=r"^\d{10}$", description="The 10-digit code on the bill")
    number: str = Field(min_length=1, max_length=10, description="The apartment number")


class MeterCreate(BaseModel):
    apartment_id: int
    kind: MeterKind
    serial: str = Field(min_length=1, max_length=40)
    verification_due: date
    initial_value: Decimal = Field(default=Decimal(0), ge=0, max_digits=12, decimal_places=3)


class ReadingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    meter_id: int
    period: date
    value: Decimal
    submitted_at: datetime


class MeterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    apartment_id: int
    kind: MeterKind
    serial: str
    verification_due: date
    initial_value: Decimal
    overdue: bool = False  # past its verification date (city today)
    readings: list[ReadingRead] = Field(default_factory=list)  # oldest first


class ReadingCreate(BaseModel):
    meter_id: int
    value: Decimal = Field(
        ge=0,
        max_digits=12,
        decimal_places=3,
        description="As shown on the meter: a number, or text such as 123.45 or 123,45",
    )
    confirm: bool = False  # the citizen confirms a reading far above the norm

    @field_validator("value", mode="before")
    @classmethod
    def _as_typed(cls, value: Any) -> Any:
        # Text is what a person typed: digits, a point or a comma, nothing else.
        if isinstance(value, str):
            return rules.parse_reading(value)
        if isinstance(value, bool):
            raise ValueError(N_("Enter the number shown on the meter, for example 123.45."))
        return value


class ReadingsCreate(BaseModel):
    """The readings of several meters of one apartment, submitted in one form."""

    readings: list[ReadingCreate] = Field(min_length=1, max_length=20)

    @field_validator("readings")
    @classmethod
    def _one_per_meter(cls, value: list[ReadingCreate]) -> list[ReadingCreate]:
        if len({r.meter_id for r in value}) != len(value):
            raise ValueError("each meter at most once")
        return value


class WindowRead(BaseModel):
    """The readings window: open now (for ``period``) or the next one to open."""

    is_open: bool
    period: date
    first_day: date
    last_day: date


class TariffCreate(BaseModel):
    service: BilledService
    valid_from: date  # a month: the first day is used
    price: Decimal = Field(gt=0, max_digits=12, decimal_places=4)


class TariffRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    service: str
    valid_from: date
    price: Decimal


class BillLineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    service: str
    basis: str
    quantity: Decimal
    price: Decimal
    amount: Decimal


class BankDetailsCreate(BaseModel):
    """An operator's bank account for its bills; checked by ``rules.payee_problems``."""

    name: str = Field(max_length=160)
    personal_account: str = Field(max_length=20)
    bank_name: str = Field(max_length=160)
    bic: str = Field(max_length=9)
    correspondent_account: str = Field(max_length=20)
    inn: str = Field(max_length=12)

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value


class BankDetailsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    organisation_id: int
    name: str
    personal_account: str
    bank_name: str
    bic: str
    correspondent_account: str
    inn: str


class BillRead(BaseModel):
    id: int
    apartment: ApartmentRead
    operator_name: str
    period: date
    total: Decimal
    created_at: datetime
    lines: list[BillLineRead]
    debt_before: Decimal  # what was owed before this bill (negative: paid in advance)
    to_pay: Decimal  # this bill plus the debt before it, never below zero
    payee: BankDetailsRead | None = None  # None: the operator has given no bank details
    payment_qr: str | None = None  # the GOST R 56042 text of the QR code (with ``payee``)


class BillSummaryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    period: date
    total: Decimal


class PaymentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    external_id: str
    amount: Decimal
    paid_on: date


class ApartmentOverviewRead(BaseModel):
    """Everything a citizen sees of one apartment."""

    apartment: ApartmentRead
    meters: list[MeterRead]
    window: WindowRead
    bills: list[BillSummaryRead]  # newest first
    payments: list[PaymentRead]  # newest first
    debt: Decimal  # bills minus payments; negative: paid in advance


class PaymentImportRead(BaseModel):
    imported: int
    already_imported: int


class BillFailureRead(BaseModel):
    """An apartment a bill run could not bill, and why (for the operators to look at)."""

    apartment_id: int
    operator_id: int
    reason: str


class BillRunRead(BaseModel):
    period: date
    created: int
    already_present: int
    failed: list[BillFailureRead] = Field(default_factory=list)


class ServiceRequestCreate(BaseModel):
    service_code: str = Field(min_length=1, max_length=40)
    description: str = Field(default="", max_length=4000)
    apartment_id: int | None = None  # one of the citizen's linked apartments
    address: str | None = Field(default=None, max_length=500)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    @field_validator("description", "address", mode="after")
    @classmethod
    def _publishable(cls, value: str | None) -> str | None:
        if value is not None and XML_ILLEGAL.search(value):
            raise ValueError(N_("This value contains characters that are not allowed."))
        return value

    @field_validator("description", mode="after")
    @classmethod
    def _plain_text(cls, value: str) -> str:
        if _HTML.search(value):
            raise ValueError(N_("Write plain text: HTML is not allowed here."))
        return value


class ServiceRequestRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    service_code: str
    operator_id: int
    apartment_id: int | None
    user_id: int
    status: RequestStatus
    description: str
    address: str | None
    latitude: float | None
    longitude: float | None
    status_notes: str | None
    created_at: datetime
    updated_at: datetime
    apartment_number: str | None = None  # for the citizen and the operator, not Open311


class ServiceRequestUpdate(BaseModel):
    # The statuses staff move a request to (rules.TRANSITIONS).
    status: Literal[RequestStatus.ACKNOWLEDGED, RequestStatus.IN_PROGRESS, RequestStatus.CLOSED]
    note: str | None = Field(default=None, max_length=2000)


class RequestEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["filed", "status", "reopened", "photo", "rated"]
    status: RequestStatus
    note: str | None
    at: datetime
    by_citizen: bool = False  # the filer's own step (reopened, photo, rated)


class RequestPhotoRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    content_type: str
    size: int
    created_at: datetime


class RequestPhotoFile(BaseModel):
    filename: str
    content_type: str
    data: bytes


class RequestDetailRead(BaseModel):
    """A request's own page: the request, its history (oldest first), its photos and
    what its filer may do now."""

    request: ServiceRequestRead
    history: list[RequestEventRead]
    photos: list[RequestPhotoRead]
    rating: int | None
    is_filer: bool
    can_reopen: bool
    can_rate: bool
    can_add_photo: bool


class RequestReopen(BaseModel):
    reason: str = Field(max_length=2000)


class RequestRating(BaseModel):
    rating: int = Field(ge=1, le=5)


class RequestFilter(BaseModel):
    """Open311 GET requests: every filter optional."""

    ids: list[int] | None = None
    service_codes: list[str] | None = None
    statuses: list[str] | None = None  # Open311 statuses: open, closed
    start: datetime | None = None
    end: datetime | None = None
    limit: int = Field(default=1000, ge=1, le=1000)
