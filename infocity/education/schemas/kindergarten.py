"""What the kindergarten queue and its allocation take and give."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from infocity.core.schemas import Id, InputModel, IsoDate, OutputModel
from infocity.education.rules.kindergarten import Benefit

# A day the queue speaks of: a desired start, the day an allocation is for.
QueueDate = Annotated[IsoDate, Field(ge=date(2000, 1, 1), le=date(2100, 12, 31))]


class KindergartenApplicationCreate(InputModel):
    child_id: Id
    kindergarten_ids: list[Id] = Field(min_length=1, max_length=3)
    desired_start: QueueDate
    benefit: Benefit = Benefit.NONE
    # The supporting document of a benefit, as written on it: name, number, date.
    # The benefit's document, kept in the parent's cabinet (the parent's or the child's).
    benefit_document_id: Id | None = None


class PositionChangeRead(OutputModel):
    old_position: int
    new_position: int
    noticed_at: datetime


class QueuePositionRead(OutputModel):
    """Where the child stands in one chosen kindergarten's queue, and why."""

    rank: int  # the parent's order
    kindergarten_id: int
    kindergarten_name: str
    kindergarten_name_en: str | None
    position: int  # 1: next in line
    ahead: int
    ahead_with_benefit: int
    changes: list[PositionChangeRead]


class OfferRead(OutputModel):
    id: int
    kindergarten_id: int
    kindergarten_name: str
    kindergarten_name_en: str | None
    age_group: int
    status: str
    expires_on: date
    offered_at: datetime


class KindergartenApplicationRead(OutputModel):
    id: int
    child_id: int
    child_name: str
    age_group: int
    desired_start: QueueDate
    benefit: Benefit
    status: str
    applied_at: datetime
    positions: list[QueuePositionRead]
    offers: list[OfferRead]


class AllocationRequest(InputModel):
    run_for: QueueDate


class ProposedOffer(OutputModel):
    application_id: int
    kindergarten_id: int
    kindergarten_name: str
    kindergarten_name_en: str | None
    age_group: int
    benefit: Benefit


class AllocationRead(OutputModel):
    """A preview (``run_id`` None) or a run's result."""

    run_id: int | None
    run_for: date
    considered: int
    offers: list[ProposedOffer]


class NearbyKindergartenRead(OutputModel):
    kindergarten_id: int
    kindergarten_name: str
    kindergarten_name_en: str | None
    free_places: int
    distance_km: float | None


class WaitingChildRead(OutputModel):
    """A child aged 3 or more still in the queue, and the nearest kindergartens (to the
    parent's first choice) with a free place in the child's age group."""

    application_id: int
    age: int
    age_group: int
    first_choice_id: int
    first_choice_name: str
    first_choice_name_en: str | None
    nearest: list[NearbyKindergartenRead]
