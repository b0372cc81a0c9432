"""What turnstiles and tills reported, and which representative was told of what.

A device's event is stored once: (device, device event id) is unique, so a batch sent
twice or an MQTT message redelivered finds its row and changes nothing.
"""

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
from infocity.cards.rules.events import EventKind
from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId


class CardEvent(Base):
    """One card event: a pass, a purchase, a declined purchase, a low balance. The
    worker fans each out to the pupil's representatives (``fanned_out_at``)."""

    __tablename__ = "card_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    # None for what the city records itself (a low balance).
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device_keys.id"))
    device_event_id: Mapped[str | None] = mapped_column(String(64))
    pupil_id: Mapped[int] = mapped_column(ForeignKey("card_pupils.id"))
    card_id: Mapped[int | None] = mapped_column(ForeignKey("school_cards.id"))
    school_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the device's own time
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    amount: Mapped[int | None] = mapped_column(BigInteger)  # kopecks
    items: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(16))  # rules.ledger.Decline
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("device_id", "device_event_id"),
        CheckConstraint(one_of("kind", EventKind), name="kind"),
        Index("ix_card_events_pupil_time", "pupil_id", "occurred_at"),
        Index("ix_card_events_fan_out", "fanned_out_at", "id"),
    )


class CardNotice(Base):
    """A representative told of an event: the unique pair makes it once, however many
    times the fan-out runs or is cut short."""

    __tablename__ = "card_notices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("card_events.id"))
    representative_id: Mapped[int] = mapped_column(
        ForeignKey("card_representatives.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("event_id", "representative_id"),)


class CardDigest(Base):
    """A representative's daily digest of a pupil's day: the unique (representative,
    day) makes it once, however many times the hourly job runs that day."""

    __tablename__ = "card_digests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    representative_id: Mapped[int] = mapped_column(
        ForeignKey("card_representatives.id", ondelete="CASCADE"), index=True
    )
    day: Mapped[date] = mapped_column(Date)  # the city day the digest tells of
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("representative_id", "day"),)
