"""What first-grade enrolment takes and gives."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from infocity.core.schemas import Id, InputModel, OutputModel
from infocity.education.rules.first_grade import (
    PHASE_1_DECISION_DAYS,
    PHASE_2_DECISION_DAYS,
    FirstGradeStatus,
    Phase,
)
from infocity.education.schemas.kindergarten import QueueDate


class CampaignSet(InputModel):
    """The campaign of a school year (by the year of its 1 September)."""

    year: int = Field(ge=2000, le=2100)
    phase_1_opens: QueueDate
    phase_1_closes: QueueDate
    phase_2_opens: QueueDate
    phase_2_closes: QueueDate
    phase_1_decision_days: int = Field(default=PHASE_1_DECISION_DAYS, ge=1, le=30)
    phase_2_decision_days: int = Field(default=PHASE_2_DECISION_DAYS, ge=1, le=30)


class SchoolPlacesRead(OutputModel):
    school_id: int
    school_name: str
    school_name_en: str | None
    places: int
    free_places: int


class CampaignRead(OutputModel):
    id: int
    year: int
    phase_1_opens: date
    phase_1_closes: date
    phase_2_opens: date
    phase_2_closes: date
    phase_1_decision_days: int
    phase_2_decision_days: int
    open_phase: Phase | None  # the phase taking applications today
    schools: list[SchoolPlacesRead] = Field(default_factory=list)


class FirstGradePlacesSet(InputModel):
    places: int = Field(ge=0, le=1000)


class FirstGradeApplicationCreate(InputModel):
    child_id: Id
    school_ids: list[Id] = Field(min_length=1, max_length=3)
    # For a child outside 6.5-8 years on 1 September: the permission, number and date.
    age_permission: str | None = Field(default=None, max_length=300)
    # Phase 1 rights: a brother or sister at one of the chosen schools, a priority
    # category (its document, as written on it), the home address (the territory).
    sibling_school_id: Id | None = None
    sibling_name: str | None = Field(default=None, max_length=200)
    # The priority category's document in the parent's cabinet.
    priority_document_id: Id | None = None
    home_address: str | None = Field(default=None, max_length=500)


class ChosenSchoolRead(OutputModel):
    rank: int
    school_id: int
    school_name: str
    school_name_en: str | None
    rights: list[int]  # rules.Right, in phase 1


class FirstGradeApplicationRead(OutputModel):
    id: int
    year: int
    child_id: int
    child_name: str
    phase: Phase
    status: FirstGradeStatus
    schools: list[ChosenSchoolRead]
    school_id: int | None  # the school given
    school_name: str | None
    school_name_en: str | None
    refusal_reason: str | None
    refusal_note: str | None  # the school's words when it refused the documents
    applied_at: datetime
    decide_by: date
    decided_at: datetime | None
    documents_confirmed_at: datetime | None


class DocumentsRefusal(InputModel):
    """Why the school refuses the documents, for the parents."""

    reason: str = Field(default="", max_length=500)  # blank: refused by name


class FirstGradeRunRequest(InputModel):
    year: int = Field(ge=2000, le=2100)
    phase: Phase


class FirstGradeDecision(OutputModel):
    application_id: int
    child_name: str
    decide_by: date  # the legal term of the decision
    school_id: int | None  # None: refused
    school_name: str | None
    school_name_en: str | None


class FirstGradeRunRead(OutputModel):
    """A preview (``run_id`` None) or a run's decisions."""

    run_id: int | None
    year: int
    phase: Phase
    considered: int
    decisions: list[FirstGradeDecision]


class SchoolListEntry(OutputModel):
    """A child admitted to the school, as the school sees them."""

    application_id: int
    child_name: str
    child_birth_date: date
    phase: Phase
    rights: list[int]
    age_permission: str | None
    sibling_name: str | None
    priority_document: str | None
    home_address: str | None
    status: FirstGradeStatus
    documents_confirmed_at: datetime | None
