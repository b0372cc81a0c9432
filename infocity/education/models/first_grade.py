"""First-grade enrolment: the campaign of a school year, each school's first-grade
places, the parents' applications with their chosen schools, and allocation runs."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
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

ACTIVE = "status IN ('submitted', 'admitted', 'enrolled')"


class FirstGradeCampaign(Base):
    """The enrolment of one school year (by the year of its 1 September)."""

    __tablename__ = "first_grade_campaigns"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    year: Mapped[int] = mapped_column(Integer, unique=True)
    phase_1_opens: Mapped[date] = mapped_column(Date)
    phase_1_closes: Mapped[date] = mapped_column(Date)
    phase_2_opens: Mapped[date] = mapped_column(Date)
    phase_2_closes: Mapped[date] = mapped_column(Date)
    phase_1_decision_days: Mapped[int] = mapped_column(Integer)  # working days
    phase_2_decision_days: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FirstGradePlaces(Base):
    """A school's first-grade places in a campaign. ``free_places`` changes only by
    guarded updates."""

    __tablename__ = "first_grade_places"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("first_grade_campaigns.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    places: Mapped[int] = mapped_column(Integer)
    free_places: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("campaign_id", "school_id"),
        CheckConstraint(
            "free_places >= 0 AND free_places <= places", name="first_grade_free_places"
        ),
    )


class FirstGradeApplication(Base):
    __tablename__ = "first_grade_applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("first_grade_campaigns.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("persons.id"), index=True)
    guardian_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    child_birth_date: Mapped[date] = mapped_column(Date)
    phase: Mapped[int] = mapped_column(Integer)  # rules.Phase
    # A permission document for a child outside 6.5-8 years, as written on it.
    age_permission: Mapped[str | None] = mapped_column(String(300))
    sibling_school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    sibling_name: Mapped[str | None] = mapped_column(String(200))
    priority_document: Mapped[str | None] = mapped_column(String(300))  # its title
    # The priority category's document in the parent's cabinet.
    priority_document_id: Mapped[int | None] = mapped_column(ForeignKey("cabinet_documents.id"))
    home_address: Mapped[str | None] = mapped_column(String(500))
    # The school whose territory the home address is in, when the table has it.
    territory_school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"))
    status: Mapped[str] = mapped_column(String(16), index=True)  # rules.FirstGradeStatus
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    refusal_reason: Mapped[str | None] = mapped_column(String(32))  # rules.RefusalReason
    # What the school found wrong with the documents, in its words, for the parents.
    refusal_note: Mapped[str | None] = mapped_column(String(500))
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decide_by: Mapped[date] = mapped_column(Date)  # the legal term, in working days
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    documents_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        # One active application per child, whatever the number of guardians.
        Index(
            "uq_first_grade_applications_active_child",
            "child_id",
            unique=True,
            postgresql_where=text(ACTIVE),
            sqlite_where=text(ACTIVE),
        ),
    )


class FirstGradeChoice(Base):
    __tablename__ = "first_grade_choices"

    application_id: Mapped[int] = mapped_column(
        ForeignKey("first_grade_applications.id"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)  # 1..3, the parent's order
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)

    __table_args__ = (UniqueConstraint("application_id", "school_id"),)


class FirstGradeRun(Base):
    __tablename__ = "first_grade_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("first_grade_campaigns.id"), index=True)
    phase: Mapped[int] = mapped_column(Integer)
    started_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    admitted: Mapped[int] = mapped_column(Integer)
    refused: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
