"""Tables of housing and utilities: apartments and who may see them, meters and their
readings, tariffs, monthly bills and payments, and service requests (Open311).

Rows that belong to an apartment keep ``apartment_id`` and, where they are many (readings,
bill lines, payments), the period or date they belong to, so that the big tables can be
partitioned by time. A ``period`` is always the first day of its month.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId
from infocity.housing.rules import METER_KINDS, RequestStatus


def _one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK that ``column`` holds one of ``values`` (the rules' list, written once)."""
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


class Apartment(Base):
    __tablename__ = "apartments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payer_code: Mapped[str] = mapped_column(String(10), unique=True)  # 10 digits on the bill
    operator_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    address: Mapped[str] = mapped_column(String(500))  # the building
    number: Mapped[str] = mapped_column(String(10))  # the apartment in the building
    residents: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("address", "number"),)


class ApartmentLink(Base):
    """A citizen who proved they know an apartment's payer code and number."""

    __tablename__ = "apartment_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    apartment_id: Mapped[int] = mapped_column(ForeignKey("apartments.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("apartment_id", "user_id"),)


class Meter(Base):
    __tablename__ = "meters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    apartment_id: Mapped[int] = mapped_column(ForeignKey("apartments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # one of METER_KINDS
    serial: Mapped[str] = mapped_column(String(40), unique=True)
    verification_due: Mapped[date] = mapped_column(Date)  # readings refused after this day
    initial_value: Mapped[Decimal] = mapped_column(Numeric(12, 3), default=Decimal(0))

    __table_args__ = (CheckConstraint(_one_of("kind", METER_KINDS), name="kind"),)


class MeterReading(Base):
    """The reading of one meter for one month: one row per (meter, period)."""

    __tablename__ = "meter_readings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    meter_id: Mapped[int] = mapped_column(ForeignKey("meters.id"))
    apartment_id: Mapped[int] = mapped_column(ForeignKey("apartments.id"), index=True)
    period: Mapped[date] = mapped_column(Date)
    value: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    submitted_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("meter_id", "period"),)


class Tariff(Base):
    """The price of a unit of a utility from ``valid_from`` (a month) until the next one."""

    __tablename__ = "tariffs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(20))  # a meter kind or water_disposal
    valid_from: Mapped[date] = mapped_column(Date)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 4))  # roubles per unit

    __table_args__ = (UniqueConstraint("service", "valid_from"),)


class Bill(Base):
    """The single payment document of an apartment for a month."""

    __tablename__ = "bills"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    apartment_id: Mapped[int] = mapped_column(ForeignKey("apartments.id"))
    operator_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    period: Mapped[date] = mapped_column(Date)
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("apartment_id", "period"),)


class BillLine(Base):
    __tablename__ = "bill_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bill_id: Mapped[int] = mapped_column(ForeignKey("bills.id"), index=True)
    service: Mapped[str] = mapped_column(String(20))
    basis: Mapped[str] = mapped_column(String(10))  # meter | norm
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 4))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    __table_args__ = (UniqueConstraint("bill_id", "service"),)


class Payment(Base):
    """A payment reported by a bank; idempotent by the bank's payment id."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    apartment_id: Mapped[int] = mapped_column(ForeignKey("apartments.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    paid_on: Mapped[date] = mapped_column(Date)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ServiceRequest(Base):
    """A housing service request (Open311 GeoReport v2 "service request")."""

    __tablename__ = "housing_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service_code: Mapped[str] = mapped_column(String(40))
    operator_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    apartment_id: Mapped[int | None] = mapped_column(ForeignKey("apartments.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # who filed it
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.OPEN.value)
    description: Mapped[str] = mapped_column(Text, default="")
    address: Mapped[str | None] = mapped_column(String(500))
    latitude: Mapped[float | None] = mapped_column()
    longitude: Mapped[float | None] = mapped_column()
    status_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the latest closing
    rating: Mapped[int | None] = mapped_column(Integer)  # 1-5, given once after closing
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(_one_of("status", RequestStatus), name="status"),
        Index("ix_housing_requests_operator_status", "operator_id", "status", "created_at"),
        Index("ix_housing_requests_created_at", "created_at"),
    )


class OperatorBankDetails(Base):
    """Where the bills of a housing operator are paid: its bank account, printed on the
    bill and put in its payment QR code. One row per operator (organisation)."""

    __tablename__ = "operator_bank_details"

    organisation_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("organisations.id"), primary_key=True, autoincrement=False
    )
    name: Mapped[str] = mapped_column(String(160))  # the payee as the bank knows it
    personal_account: Mapped[str] = mapped_column(String(20))
    bank_name: Mapped[str] = mapped_column(String(160))
    bic: Mapped[str] = mapped_column(String(9))
    correspondent_account: Mapped[str] = mapped_column(String(20))
    inn: Mapped[str] = mapped_column(String(12))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReadingReminder(Base):
    """That the residents of an apartment were reminded of a month's readings window:
    its unique (apartment, period) makes the reminder go once, however often the job
    runs and however many workers run it."""

    __tablename__ = "reading_reminders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    apartment_id: Mapped[int] = mapped_column(ForeignKey("apartments.id"))
    period: Mapped[date] = mapped_column(Date)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("apartment_id", "period"),)


REQUEST_EVENT_KINDS = ("filed", "status", "reopened", "photo", "rated")


class RequestEvent(Base):
    """A step in a service request's history: filed, a status change with the
    operator's note, reopened by the citizen with the reason, a photo, the rating."""

    __tablename__ = "housing_request_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("housing_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # one of REQUEST_EVENT_KINDS
    status: Mapped[str] = mapped_column(String(16))  # the request's status after it
    note: Mapped[str | None] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RequestPhoto(Base):
    """A photo a citizen added to their request; the bytes live in the row, as portal
    attachments do (limits in rules)."""

    __tablename__ = "housing_request_photos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("housing_requests.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
