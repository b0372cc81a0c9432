"""Rules of first-grade enrolment: the campaign's phases, the age, the rights of phase 1
and the allocation of places (pure, no database, no clock).

Phase 1 is for children with a right at a school: a brother or sister studying there,
a priority category (with its document), or a home on the school's territory. Phase 2
is for everyone, for the places left. The places are allocated by the same
child-proposing deferred acceptance as kindergarten places
(``rules.kindergarten.deferred_acceptance``), each school ranking the children by its
own order.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import IntEnum, StrEnum

from infocity.core.i18n import N_
from infocity.core.workdays import add_working_days
from infocity.education.rules.kindergarten import (
    SCHOOL_YEAR_STARTS,
    Applicant,
    deferred_acceptance,
)
from infocity.education.rules.kindergarten import may_move as may_move  # one transitions check

MAX_SCHOOLS = 3  # schools a parent may name, in order
FIRST_GRADE = 1  # the one "age group" of a school's seats in the allocation
YOUNGEST_MONTHS = 6 * 12 + 6  # 6.5 years on 1 September
OLDEST_MONTHS = 8 * 12  # not yet 8 on 1 September
# Working days the city has for a decision: after phase 1 closes, after a phase-2
# application (the defaults of a new campaign; each campaign keeps its own).
PHASE_1_DECISION_DAYS = 3
PHASE_2_DECISION_DAYS = 5


class Phase(IntEnum):
    ONE = 1  # siblings, priority categories, the school's territory
    TWO = 2  # everyone, the places left


PHASE_LABELS = {
    Phase.ONE: N_("Phase 1: siblings, priority categories, the school's territory"),
    Phase.TWO: N_("Phase 2: everyone, for the places left"),
}


class FirstGradeStatus(StrEnum):
    SUBMITTED = "submitted"  # waiting for the allocation of its phase
    ADMITTED = "admitted"  # a place is given; the school checks the documents
    ENROLLED = "enrolled"  # the school confirmed the documents
    REFUSED = "refused"  # no place, with the reason
    WITHDRAWN = "withdrawn"  # the parent took it back


FIRST_GRADE_LABELS = {
    FirstGradeStatus.SUBMITTED: N_("Waiting for the decision"),
    FirstGradeStatus.ADMITTED: N_("Admitted: bring the documents to the school"),
    FirstGradeStatus.ENROLLED: N_("Enrolled: the school confirmed the documents"),
    FirstGradeStatus.REFUSED: N_("Refused"),
    FirstGradeStatus.WITHDRAWN: N_("Withdrawn"),
}

# The one table of moves a first-grade application may make; any other is refused.
FIRST_GRADE_TRANSITIONS: dict[FirstGradeStatus, frozenset[FirstGradeStatus]] = {
    FirstGradeStatus.SUBMITTED: frozenset(
        {FirstGradeStatus.ADMITTED, FirstGradeStatus.REFUSED, FirstGradeStatus.WITHDRAWN}
    ),
    # The school confirms the documents (enrolled) or refuses them when they do not match
    # what the parents declared (refused, the place returns); or the parent withdraws.
    FirstGradeStatus.ADMITTED: frozenset(
        {FirstGradeStatus.ENROLLED, FirstGradeStatus.REFUSED, FirstGradeStatus.WITHDRAWN}
    ),
    FirstGradeStatus.ENROLLED: frozenset(),
    FirstGradeStatus.REFUSED: frozenset(),
    FirstGradeStatus.WITHDRAWN: frozenset(),
}

# Applications that hold the child's one application of the campaign.
ACTIVE_STATUSES = (
    FirstGradeStatus.SUBMITTED,
    FirstGradeStatus.ADMITTED,
    FirstGradeStatus.ENROLLED,
)


class RefusalReason(StrEnum):
    NO_PLACES = "no_places"  # the chosen schools' places went to children ranked ahead
    DOCUMENTS_MISMATCH = "documents_mismatch"  # the originals do not match, the school says why


REFUSAL_LABELS = {
    RefusalReason.NO_PLACES: N_(
        "The places of the chosen schools went to children ranked ahead of yours "
        "(in phase 1: a sibling at the school first, then a priority category, then the "
        "school's territory, each by the time of the application)."
    ),
    RefusalReason.DOCUMENTS_MISMATCH: N_(
        "The school refused the documents: they do not match what the application declared."
    ),
}


class Right(IntEnum):
    """A child's right at a school in phase 1; lower goes first."""

    SIBLING = 0
    PRIORITY = 1
    TERRITORY = 2


RIGHT_LABELS = {
    Right.SIBLING: N_("A brother or sister studies at the school"),
    Right.PRIORITY: N_("Priority category"),
    Right.TERRITORY: N_("Lives on the school's territory"),
}


@dataclass(frozen=True)
class CampaignDates:
    phase_1_opens: date
    phase_1_closes: date
    phase_2_opens: date
    phase_2_closes: date


def dates_in_order(dates: CampaignDates, year: int) -> bool:
    """Phase 1 opens before it closes, phase 2 opens after phase 1 closes and closes
    before the school year's 1 September is over."""
    first_september = date(year, *SCHOOL_YEAR_STARTS)
    return (
        dates.phase_1_opens <= dates.phase_1_closes < dates.phase_2_opens
        and dates.phase_2_opens <= dates.phase_2_closes <= first_september
    )


def phase_on(dates: CampaignDates, day: date) -> Phase | None:
    """Which phase takes applications on ``day`` (in the city), or None."""
    if dates.phase_1_opens <= day <= dates.phase_1_closes:
        return Phase.ONE
    if dates.phase_2_opens <= day <= dates.phase_2_closes:
        return Phase.TWO
    return None


def months_on(birth_date: date, day: date) -> int:
    """Full months of age on ``day``."""
    months = (day.year - birth_date.year) * 12 + day.month - birth_date.month
    return months - int(day.day < birth_date.day)


def age_fits(birth_date: date, year: int) -> bool:
    """From 6 years and 6 months and not yet 8 on 1 September of the school year."""
    months = months_on(birth_date, date(year, *SCHOOL_YEAR_STARTS))
    return YOUNGEST_MONTHS <= months < OLDEST_MONTHS


def rights_at(
    school: int, *, sibling_school: int | None, priority: bool, territory_school: int | None
) -> Right | None:
    """The best right a child has at ``school`` in phase 1, or None."""
    if sibling_school == school:
        return Right.SIBLING
    if priority:
        return Right.PRIORITY
    if territory_school == school:
        return Right.TERRITORY
    return None


def decision_due(
    phase: Phase, applied_on: date, phase_1_closes: date, days: tuple[int, int]
) -> date:
    """The last day of the decision: ``days[0]`` working days after phase 1 closes for a
    phase-1 application, ``days[1]`` after the day of a phase-2 application."""
    if phase is Phase.ONE:
        return add_working_days(phase_1_closes, days[0])
    return add_working_days(applied_on, days[1])


# --- The allocation ------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A child in a phase's allocation."""

    id: int
    schools: tuple[int, ...]  # the parent's order
    applied_at: datetime
    sibling_school: int | None = None
    priority: bool = False
    territory_school: int | None = None


def applicants(phase: Phase, candidates: Iterable[Candidate]) -> list[Applicant]:
    """The candidates as the deferred acceptance sees them. In phase 1 a child asks only
    the schools where they have a right, and each school ranks by the right, then by the
    time of the application; in phase 2 every school ranks by the time alone."""
    result = []
    for c in candidates:
        queue: tuple[Hashable, ...] = (c.applied_at, c.id)
        if phase is Phase.TWO:
            result.append(Applicant(c.id, c.schools, FIRST_GRADE, queue))
            continue
        ranks: dict[int, tuple[Hashable, ...]] = {}
        for school in c.schools:
            right = rights_at(
                school,
                sibling_school=c.sibling_school,
                priority=c.priority,
                territory_school=c.territory_school,
            )
            if right is not None:
                ranks[school] = (int(right), *queue)
        schools = tuple(s for s in c.schools if s in ranks)
        result.append(Applicant(c.id, schools, FIRST_GRADE, queue, ranks))
    return result


def allocate(
    phase: Phase, candidates: Sequence[Candidate], places: Mapping[int, int]
) -> dict[int, int]:
    """Which school each admitted child gets (application → school) within the schools'
    free places; the others are refused."""
    free = {(school, FIRST_GRADE): count for school, count in places.items()}
    return deferred_acceptance(applicants(phase, candidates), free)
