"""Pupils in the service, their cards, the adults told about them, and the card history.

The balance belongs to the pupil (``card_pupils``), not to a card: a lost card is
blocked, a new one issued, and the money stays where it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.cards.rules.cards import CardStatus, Standing
from infocity.cards.rules.ledger import DEFAULT_LOW_BALANCE
from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK that ``column`` holds one of the rules' ``values``."""
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


class CardPupil(Base):
    """A pupil with a school card account: the balance and the rules of spending."""

    __tablename__ = "card_pupils"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), unique=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    # Kopecks. ``held``: approved at a till, waiting for its purchase.
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    daily_limit: Mapped[int | None] = mapped_column(BigInteger)
    # Spent (and held) on ``spent_day``, a city date; a new day starts from zero.
    spent_day: Mapped[date | None] = mapped_column(Date)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)
    low_balance: Mapped[int] = mapped_column(BigInteger, default=DEFAULT_LOW_BALANCE)
    # Set when the balance fell below ``low_balance`` and the alert went out; cleared
    # when a top-up lifts it again, so each crossing alerts once.
    low_balance_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    # The automatic top-up rule: below ``auto_top_up_below`` kopecks after a purchase,
    # ask for ``auto_top_up_amount``, at most once per ``auto_top_up_period``.
    auto_top_up_below: Mapped[int | None] = mapped_column(BigInteger)
    auto_top_up_amount: Mapped[int | None] = mapped_column(BigInteger)
    auto_top_up_period: Mapped[str | None] = mapped_column(String(8))
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # The last line of the guarded updates: no statement can leave less than zero.
        CheckConstraint("balance >= held AND held >= 0", name="balance"),
        CheckConstraint("spent >= 0", name="spent"),
    )


class SchoolCard(Base):
    __tablename__ = "school_cards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(20), unique=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=CardStatus.ACTIVE)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: SYSTEM
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(one_of("status", CardStatus), name="status"),
        # One working card per pupil: a second issue races with the first and loses.
        Index(
            "uq_school_cards_pupil_active",
            "pupil_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
    )


class CardHistory(Base):
    """What happened to a pupil's cards and service: issued, blocked, re-issued, who
    activated, who was added."""

    __tablename__ = "card_history"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("school_cards.id"))
    action: Mapped[str] = mapped_column(String(32))
    actor_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (Index("ix_card_history_pupil", "pupil_id", "created_at"),)


class CardRepresentative(Base):
    """An adult told about a pupil, and how: a legal representative or a trusted adult."""

    __tablename__ = "card_representatives"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    standing: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(300))  # as the adult was added
    added_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    notify_passes: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_purchases: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_low_balance: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_digest: Mapped[bool] = mapped_column(Boolean, default=False)
    channels: Mapped[str] = mapped_column(String(40), default="inbox")  # comma-separated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("pupil_id", "user_id"),
        CheckConstraint(one_of("standing", Standing), name="standing"),
    )
