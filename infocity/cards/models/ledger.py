"""The pupil's ledger: every top-up, purchase and refund with the balance after it; the
holds of approved till authorizations; the categories a pupil may not buy."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.cards.models.cards import one_of
from infocity.cards.rules.ledger import AutoTopUpState, EntryKind, HoldState, TopUpPeriod
from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId


class LedgerEntry(Base):
    __tablename__ = "card_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(BigInteger)  # kopecks, signed: a purchase is negative
    # A purchase's part paid by the day's subsidised-meal allowance (not from the balance).
    subsidy: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    balance_after: Mapped[int] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("card_events.id"))
    # A top-up's payment reference (unique: a payment file imported twice counts once);
    # a refund's is "refund:<purchase event id>", so a purchase is refunded once.
    reference: Mapped[str | None] = mapped_column(String(64), unique=True)
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(one_of("kind", EntryKind), name="kind"),
        Index("ix_card_ledger_pupil_time", "pupil_id", "occurred_at"),
    )


class CardHold(Base):
    """An approved till authorization: the amount held for the purchase that follows."""

    __tablename__ = "card_holds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("school_cards.id"))
    device_id: Mapped[int] = mapped_column(ForeignKey("device_keys.id"))
    request_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16), default=HoldState.HELD)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("device_id", "request_id"),
        CheckConstraint(one_of("state", HoldState), name="state"),
        Index("ix_card_holds_state_expiry", "state", "expires_at"),
    )


class BannedCategory(Base):
    __tablename__ = "card_banned_categories"

    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)


class AutoTopUp(Base):
    """An automatic top-up asked for when a purchase took the balance below the
    representative's trigger: at most one per pupil and period (the unique key), settled
    when the payment carrying its ``reference`` arrives."""

    __tablename__ = "card_auto_top_ups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    period: Mapped[str] = mapped_column(String(8))
    period_start: Mapped[date] = mapped_column(Date)
    amount: Mapped[int] = mapped_column(BigInteger)  # kopecks
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=AutoTopUpState.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("pupil_id", "period", "period_start"),
        CheckConstraint(one_of("state", AutoTopUpState), name="state"),
        CheckConstraint(one_of("period", TopUpPeriod), name="period"),
    )
