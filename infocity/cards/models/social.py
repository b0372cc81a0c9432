"""Tables of students' social cards: the cards, their history, and the signed daily
stop-lists validators download."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.cards.rules.social import LIVE_STATUSES, STOPPED_STATUSES, SocialCardStatus
from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId


def _one_of(column: str, values: Iterable[str]) -> str:
    """A condition that ``column`` holds one of ``values`` (the rules' list, written once)."""
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({listed})"


_LIVE = text(_one_of("status", LIVE_STATUSES))
_STOPPED = text(_one_of("status", STOPPED_STATUSES))


class SocialCard(Base):
    """A student's social card, from the college's confirmation to its blocking."""

    __tablename__ = "social_cards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))  # the student
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)  # told of steps
    college_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    application_id: Mapped[int | None] = mapped_column(BigId)  # the portal's application
    student_number: Mapped[str] = mapped_column(String(40))
    uid: Mapped[str | None] = mapped_column(String(20), unique=True)  # set when issued
    status: Mapped[str] = mapped_column(String(16), default=SocialCardStatus.ORDERED.value)
    valid_until: Mapped[date] = mapped_column(Date)
    block_reason: Mapped[str | None] = mapped_column(String(16))
    replaces_card_id: Mapped[int | None] = mapped_column(ForeignKey("social_cards.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(_one_of("status", SocialCardStatus), name="status"),
        # One card at a time: a second order, or two approvals at once, hit this.
        Index(
            "uq_social_cards_live_person",
            "person_id",
            unique=True,
            sqlite_where=_LIVE,
            postgresql_where=_LIVE,
        ),
        Index("ix_social_cards_college_status", "college_id", "status", "created_at"),
        # The stop-list export reads only the blocked cards.
        Index("ix_social_cards_stopped", "uid", sqlite_where=_STOPPED, postgresql_where=_STOPPED),
    )


class SocialCardEvent(Base):
    """A step in a card's history: the status after it, why, and who took it."""

    __tablename__ = "social_card_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("social_cards.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SocialStopList(Base):
    """One day's signed list of blocked UIDs, exactly as served (the signature covers
    these bytes)."""

    __tablename__ = "social_card_stop_lists"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    city_date: Mapped[date] = mapped_column(Date, unique=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[str] = mapped_column(String(120))  # base64 Ed25519 signature
    key_id: Mapped[str] = mapped_column(String(32))
    uid_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
