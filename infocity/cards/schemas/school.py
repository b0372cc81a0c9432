"""What school staff see of their school's pupils and cards."""

from __future__ import annotations

from datetime import date, datetime

from infocity.cards.schemas.cards import CardRead
from infocity.core.schemas import OutputModel


class SchoolPupilRead(OutputModel):
    """A pupil of the school as its staff see them: the card of now and the balance."""

    id: int
    person_id: int
    name: str
    balance: int
    card_id: int | None
    card_uid: str | None
    card_status: str | None


class SchoolPupilsRead(OutputModel):
    school_id: int
    school_name: str
    pupils: list[SchoolPupilRead]


class SchoolEventRead(OutputModel):
    """A pupil's event as the school sees it: which of its machines reported it."""

    kind: str
    occurred_at: datetime
    amount: int | None
    reason: str | None
    device: str | None  # the turnstile's or till's name; None for an event of no device


class SchoolPupilCardsRead(OutputModel):
    """One pupil's page for the school: every card they held, their latest events."""

    school_id: int
    pupil: SchoolPupilRead
    cards: list[CardRead]
    events: list[SchoolEventRead]


class PersonFoundRead(OutputModel):
    """A child of the city register found by the staff to be given a card."""

    person_id: int
    name: str
    birth_date: date | None
    pupil_id: int | None  # already a pupil of the service (at this school or another)
