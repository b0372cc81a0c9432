"""Tables of school meals: the day's menu of each school, the subsidised-meal allowances
with what each day used of them, and the meals representatives order ahead."""

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
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.cards.models.cards import one_of
from infocity.cards.rules.ledger import CATEGORIES
from infocity.cards.rules.meals import OrderState, SubsidyChangeKind
from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId


class MenuItem(Base):
    """One dish of a school's menu of one day; publishing the day again replaces them
    (orders keep their own copy of what was ordered)."""

    __tablename__ = "card_menu_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    day: Mapped[date] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(32))
    price: Mapped[int] = mapped_column(BigInteger)  # kopecks
    published_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(one_of("category", CATEGORIES), name="category"),
        CheckConstraint("price >= 0", name="price"),
        Index("ix_card_menu_items_school_day", "school_id", "day", "position"),
    )


class Subsidy(Base):
    """A subsidised-meal allowance: ``daily_amount`` kopecks each city day from
    ``starts`` to ``ends``, granted by the pupil's school."""

    __tablename__ = "card_subsidies"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    daily_amount: Mapped[int] = mapped_column(BigInteger)
    starts: Mapped[date] = mapped_column(Date)
    ends: Mapped[date] = mapped_column(Date)
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Revoked by the school: the allowance pays nothing from this city day on (the day
    # after the revocation; what the days before used stays as it was).
    revoked_from: Mapped[date | None] = mapped_column(Date)
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("daily_amount > 0", name="daily_amount"),
        CheckConstraint("ends >= starts", name="period"),
        Index("ix_card_subsidies_pupil", "pupil_id", "starts"),
    )


class SubsidyDay(Base):
    """What one day used of an allowance: a row per (subsidy, day), so an unused part is
    never carried to the next day; raised only by a guarded update within the allowance."""

    __tablename__ = "card_subsidy_days"

    subsidy_id: Mapped[int] = mapped_column(ForeignKey("card_subsidies.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (CheckConstraint("used >= 0", name="used"),)


class MealOrder(Base):
    """A meal ordered ahead from a school's menu, paid from the balance when ordered;
    served once by the till (``event_id``: the purchase event that served it)."""

    __tablename__ = "card_meal_orders"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    day: Mapped[date] = mapped_column(Date)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    amount: Mapped[int] = mapped_column(BigInteger)  # kopecks
    # The part of ``amount`` the day's subsidised-meal allowance paid (the rest came from
    # the balance), and that allowance.
    subsidy: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    subsidy_id: Mapped[int | None] = mapped_column(ForeignKey("card_subsidies.id"))
    state: Mapped[str] = mapped_column(String(16), default=OrderState.PAID)
    ordered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("card_events.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(one_of("state", OrderState), name="state"),
        CheckConstraint("amount > 0", name="amount"),
        CheckConstraint("subsidy >= 0 AND subsidy <= amount", name="subsidy"),
        Index("ix_card_meal_orders_pupil_day", "pupil_id", "day"),
    )


class SubsidyChange(Base):
    """An allowance granted or revoked, for the pupil's representatives to be told: one
    row written in the staff's transaction (no one looked up, nothing rendered there);
    the worker fans it out (``fanned_out_at``). An allowance is granted once and revoked
    once, so (subsidy, kind) is unique: nothing is told twice."""

    __tablename__ = "card_subsidy_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subsidy_id: Mapped[int] = mapped_column(ForeignKey("card_subsidies.id"))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    kind: Mapped[str] = mapped_column(String(16))
    # The first city day the change holds: the grant's start, the revocation's "tomorrow".
    from_day: Mapped[date] = mapped_column(Date)
    daily_amount: Mapped[int] = mapped_column(BigInteger)  # kopecks a day
    # A revocation's meals ordered ahead that it cancelled ({"day", "meal", "refund"}),
    # and what the balance got back of them in all (kopecks).
    orders: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    refunded: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("subsidy_id", "kind"),
        CheckConstraint(one_of("kind", SubsidyChangeKind), name="kind"),
        CheckConstraint("refunded >= 0", name="refunded"),
        Index("ix_card_subsidy_changes_fan_out", "fanned_out_at", "id"),
    )


class SubsidyNotice(Base):
    """A representative told of an allowance's change: the unique pair makes it once,
    however many times the fan-out runs or is cut short."""

    __tablename__ = "card_subsidy_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("card_subsidy_changes.id"))
    representative_id: Mapped[int] = mapped_column(
        ForeignKey("card_representatives.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("change_id", "representative_id"),)
