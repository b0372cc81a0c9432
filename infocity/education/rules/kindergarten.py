"""Rules of the kindergarten queue and its allocation: pure, no database, no clock.

A child's place in the queue is decided by the benefit tier first (extraordinary, then
priority, then none) and then by the moment the application was filed; the allocation
gives the free places of each kindergarten's age groups by child-proposing deferred
acceptance over the parents' order of choice and that queue order.
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from functools import partial
from typing import TypeVar

from infocity.core.ages import age_on
from infocity.core.i18n import N_

MAX_CHOICES = 3  # kindergartens a parent may name, in order
YOUNGEST_GROUP = 1  # full years on 1 September of the school year
OLDEST_GROUP = 6  # from 7 a child goes to school
SCHOOL_YEAR_STARTS = (9, 1)  # month, day


class Benefit(StrEnum):
    EXTRAORDINARY = "extraordinary"
    PRIORITY = "priority"
    NONE = "none"


# Lower tier goes first.
BENEFIT_TIER = {Benefit.EXTRAORDINARY: 0, Benefit.PRIORITY: 1, Benefit.NONE: 2}
BENEFIT_LABELS = {
    Benefit.EXTRAORDINARY: N_("Extraordinary right"),
    Benefit.PRIORITY: N_("Priority right"),
    Benefit.NONE: N_("No benefit"),
}


class ApplicationStatus(StrEnum):
    QUEUED = "queued"  # waiting in the queue
    OFFERED = "offered"  # a place is offered, the parent has not answered yet
    ENROLLED = "enrolled"  # the parent accepted a place
    WITHDRAWN = "withdrawn"  # the parent took the application back


APPLICATION_LABELS = {
    ApplicationStatus.QUEUED: N_("In the queue"),
    ApplicationStatus.OFFERED: N_("A place is offered"),
    ApplicationStatus.ENROLLED: N_("Place accepted"),
    ApplicationStatus.WITHDRAWN: N_("Withdrawn from the queue"),
}

# The one table of moves an application may make; a move not listed is refused.
APPLICATION_TRANSITIONS: dict[ApplicationStatus, frozenset[ApplicationStatus]] = {
    ApplicationStatus.QUEUED: frozenset({ApplicationStatus.OFFERED, ApplicationStatus.WITHDRAWN}),
    # Declined or lapsed: back to the queue with the original date.
    ApplicationStatus.OFFERED: frozenset(
        {ApplicationStatus.ENROLLED, ApplicationStatus.QUEUED, ApplicationStatus.WITHDRAWN}
    ),
    ApplicationStatus.ENROLLED: frozenset(),
    ApplicationStatus.WITHDRAWN: frozenset(),
}

# Applications that hold the child's one place in the queue.
ACTIVE_STATUSES = (ApplicationStatus.QUEUED, ApplicationStatus.OFFERED)


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LAPSED = "lapsed"


OFFER_LABELS = {
    OfferStatus.OPEN: N_("Waiting for your answer"),
    OfferStatus.ACCEPTED: N_("Accepted"),
    OfferStatus.DECLINED: N_("Declined"),
    OfferStatus.LAPSED: N_("Not answered in time"),
}

OFFER_TRANSITIONS: dict[OfferStatus, frozenset[OfferStatus]] = {
    OfferStatus.OPEN: frozenset({OfferStatus.ACCEPTED, OfferStatus.DECLINED, OfferStatus.LAPSED}),
    OfferStatus.ACCEPTED: frozenset(),
    OfferStatus.DECLINED: frozenset(),
    OfferStatus.LAPSED: frozenset(),
}


S = TypeVar("S", bound=StrEnum)


def may_move(table: Mapping[S, frozenset[S]], old: S, new: S) -> bool:
    """Whether the transitions ``table`` allows ``old`` → ``new``."""
    return new in table.get(old, frozenset())


# --- Ages --------------------------------------------------------------------------


def school_year(day: date) -> int:
    """The school year a day belongs to, by the year it starts (1 September)."""
    return day.year if (day.month, day.day) >= SCHOOL_YEAR_STARTS else day.year - 1


def age_group(birth_date: date, year: int) -> int:
    """The age group of a child in a school year: full years on its 1 September."""
    return age_on(birth_date, date(year, *SCHOOL_YEAR_STARTS))


def fits_kindergarten(group: int) -> bool:
    return YOUNGEST_GROUP <= group <= OLDEST_GROUP


def group_label_args(group: int) -> dict[str, int]:
    """Placeholders of the label "from %(low)s to %(high)s years"."""
    return {"low": group, "high": group + 1}


# --- The queue ---------------------------------------------------------------------


def queue_key(
    benefit: Benefit, applied_at: datetime, application_id: int
) -> tuple[int, datetime, int]:
    """The queue's order: benefit tier, then the moment of filing (the number breaks a tie)."""
    return (BENEFIT_TIER[benefit], applied_at, application_id)


def offer_expires(offered_on: date, days: int) -> date:
    """The last day an offer may be accepted: ``days`` days after it was made."""
    return date.fromordinal(offered_on.toordinal() + days)


# --- The allocation: child-proposing deferred acceptance ---------------------------

Seat = tuple[int, int]  # (kindergarten id, age group)


@dataclass(frozen=True)
class Applicant:
    """A child in the allocation: the kindergartens in the parent's order, the child's
    age group this school year, and its place in the queue (lower goes first)."""

    id: int
    choices: tuple[int, ...]
    group: int
    priority: tuple[Hashable, ...]
    # Where a place ranks children its own way (a school: a sibling there, its territory),
    # the child's rank there; elsewhere ``priority``.
    priority_at: Mapping[int, tuple[Hashable, ...]] = field(default_factory=dict, hash=False)

    def rank_at(self, place: int) -> tuple[Hashable, ...]:
        """The child's rank in ``place``'s order (lower goes first)."""
        return self.priority_at.get(place, self.priority)


def deferred_acceptance(
    applicants: Sequence[Applicant], free_places: Mapping[Seat, int]
) -> dict[int, int]:
    """Which kindergarten each placed child gets (child id → kindergarten id).

    Each unplaced child proposes to the next kindergarten on its list; a kindergarten
    keeps, in the child's age group, the best-placed proposers up to its free places and
    turns the rest away, who propose further. The result is stable (no child and
    kindergarten both prefer each other to what they got) and no parent gains by
    reordering their list. Schools use it for first-grade places too (one "age group",
    each school ranking by its own order: ``Applicant.priority_at``).
    """
    by_id = {a.id: a for a in applicants}
    next_choice = dict.fromkeys(by_id, 0)
    held: dict[Seat, list[Applicant]] = {}
    waiting = sorted(by_id.values(), key=lambda a: a.priority, reverse=True)
    while waiting:
        child = waiting.pop()
        while next_choice[child.id] < len(child.choices):
            kindergarten = child.choices[next_choice[child.id]]
            next_choice[child.id] += 1
            seat = (kindergarten, child.group)
            capacity = free_places.get(seat, 0)
            if capacity <= 0:
                continue
            holders = held.setdefault(seat, [])
            # Kept in the place's order: a binary search instead of a sort per proposal.
            insort(holders, child, key=partial(Applicant.rank_at, place=kindergarten))
            if len(holders) <= capacity:
                break
            rejected = holders.pop()
            if rejected.id == child.id:
                continue
            waiting.append(rejected)
            break
    return {child.id: seat[0] for seat, holders in held.items() for child in holders}


def blocking_pairs(
    applicants: Sequence[Applicant], free_places: Mapping[Seat, int], matching: Mapping[int, int]
) -> list[tuple[int, int]]:
    """Child and kindergarten that would both rather have each other: none in a stable
    allocation (used by the tests and the preview's self-check)."""
    holders: dict[Seat, list[Applicant]] = {}
    for child in applicants:
        if child.id in matching:
            holders.setdefault((matching[child.id], child.group), []).append(child)
    pairs = []
    for child in applicants:
        got = matching.get(child.id)
        better = child.choices if got is None else child.choices[: child.choices.index(got)]
        for kindergarten in better:
            seat = (kindergarten, child.group)
            taken = holders.get(seat, [])
            capacity = free_places.get(seat, 0)
            if capacity <= 0:
                continue
            mine = child.rank_at(kindergarten)
            if len(taken) < capacity or any(h.rank_at(kindergarten) > mine for h in taken):
                pairs.append((child.id, kindergarten))
    return pairs


def ahead_of(
    mine: tuple[int, datetime, int], others: Iterable[tuple[int, datetime, int]]
) -> tuple[int, int]:
    """How many are ahead of ``mine`` in a kindergarten's queue, and how many of them hold
    a benefit."""
    ahead = [key for key in others if key < mine]
    return len(ahead), sum(1 for key in ahead if key[0] < BENEFIT_TIER[Benefit.NONE])


# --- Children still waiting at three -----------------------------------------------

WAITING_AGE = 3  # from this age a child waiting for a place is the city's concern
EARTH_RADIUS_KM = 6371.0


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The great-circle distance between two points (latitude, longitude in degrees)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def nearest(
    origin: tuple[float, float] | None,
    candidates: Iterable[tuple[int, tuple[float, float] | None]],
    limit: int = 3,
) -> list[tuple[int, float | None]]:
    """The ``limit`` candidates closest to ``origin`` (id, km); those without a known
    place come last, as does everything when the origin is unknown."""
    measured = [
        (k, distance_km(origin, at) if origin is not None and at is not None else None)
        for k, at in candidates
    ]
    measured.sort(key=lambda m: (m[1] is None, m[1] or 0.0, m[0]))
    return measured[:limit]
