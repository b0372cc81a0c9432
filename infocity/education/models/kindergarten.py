"""The kindergarten queue: applications, their chosen kindergartens, what a parent last
saw of the position, allocation runs and offers of places."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId

ACTIVE = "status IN ('queued', 'offered')"


class KindergartenApplication(Base):
    __tablename__ = "kindergarten_applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    guardian_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    child_birth_date: Mapped[date] = mapped_column(Date)
    age_group: Mapped[int] = mapped_column(Integer)  # in the school year of desired_start
    desired_start: Mapped[date] = mapped_column(Date)
    benefit: Mapped[str] = mapped_column(String(16))  # rules.Benefit
    benefit_document: Mapped[str | None] = mapped_column(String(300))  # its title
    # The benefit's document in the parent's cabinet.
    benefit_document_id: Mapped[int | None] = mapped_column(ForeignKey("cabinet_documents.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)  # rules.ApplicationStatus
    # The queue's date: kept when an offer is declined or lapses.
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # One active application per child, whatever the number of guardians.
        Index(
            "uq_kindergarten_applications_active_child",
            "child_id",
            unique=True,
            postgresql_where=text(ACTIVE),
            sqlite_where=text(ACTIVE),
        ),
    )


class KindergartenChoice(Base):
    """A kindergarten the parent chose, and the position they saw there last."""

    __tablename__ = "kindergarten_choices"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("kindergarten_applications.id"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1..3, the parent's order
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"), index=True)
    seen_position: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (UniqueConstraint("application_id", "kindergarten_id"),)


class PositionChange(Base):
    """A change of position the parent was shown (from what they saw before)."""

    __tablename__ = "kindergarten_position_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("kindergarten_applications.id"), index=True
    )
    kindergarten_id: Mapped[int] = mapped_column(ForeignKey("kindergartens.id"))
    old_position: Mapped[int] = mapped_column(Integer)
    new_position: Mapped[int] = mapped_column(Integer)
    noticed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AllocationRun(Base):
    __tablename__ = "kindergarten_allocation_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    run_for: Mapped[date] = mapped_column(Date)  # places from this day
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    offers: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class KindergartenOffer(Base):
    __tablename__ = "kindergarten_offers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("kindergarten_applications.id"), index=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("kindergarten_allocation_runs.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("kindergarten_groups.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # rules.OfferStatus
    expires_on: Mapped[date] = mapped_column(Date)  # the last day to accept, in the city
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the parents were told (by the worker, after the run): null until then.
    told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "uq_kindergarten_offers_open",
            "application_id",
            unique=True,
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index("ix_kindergarten_offers_status_expires", "status", "expires_on"),
        # The offers whose parents are still to be told: the worker's queue.
        Index(
            "ix_kindergarten_offers_untold",
            "id",
            postgresql_where=text("told_at IS NULL"),
            sqlite_where=text("told_at IS NULL"),
        ),
    )
