"""The allocation of kindergarten places: child-proposing deferred acceptance is stable,
stays within each age group's free places, respects the queue and gives no place twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from infocity.education.rules.kindergarten import (
    APPLICATION_TRANSITIONS,
    Applicant,
    ApplicationStatus,
    Benefit,
    age_group,
    ahead_of,
    blocking_pairs,
    deferred_acceptance,
    may_move,
    queue_key,
    school_year,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KINDERGARTENS = [1, 2, 3, 4]


@st.composite
def markets(draw: st.DrawFn) -> tuple[list[Applicant], dict[tuple[int, int], int]]:
    count = draw(st.integers(0, 30))
    applicants = []
    for n in range(count):
        choices = draw(
            st.lists(st.sampled_from(KINDERGARTENS), min_size=1, max_size=3, unique=True)
        )
        benefit = draw(st.sampled_from(list(Benefit)))
        minutes = draw(st.integers(0, 10_000))
        applicants.append(
            Applicant(
                id=n + 1,
                choices=tuple(choices),
                group=draw(st.integers(1, 3)),
                priority=queue_key(benefit, T0 + timedelta(minutes=minutes), n + 1),
            )
        )
    free = {
        (k, g): draw(st.integers(0, 4))
        for k in KINDERGARTENS
        for g in (1, 2, 3)
        if draw(st.booleans())
    }
    return applicants, free


@given(markets())
@settings(max_examples=150, deadline=None)
def test_every_allocation_is_stable_within_places_and_groups(
    market: tuple[list[Applicant], dict[tuple[int, int], int]],
) -> None:
    applicants, free = market
    matching = deferred_acceptance(applicants, free)
    by_id = {a.id: a for a in applicants}
    # Only a kindergarten the parent chose, in the child's age group, within its places.
    for child_id, kindergarten in matching.items():
        assert kindergarten in by_id[child_id].choices
    seats = Counter((k, by_id[c].group) for c, k in matching.items())
    for seat, used in seats.items():
        assert used <= free.get(seat, 0)
    # Stable: no child and kindergarten would both rather have each other.
    assert blocking_pairs(applicants, free, matching) == []


@given(markets())
@settings(max_examples=100, deadline=None)
def test_a_child_placed_never_loses_to_one_further_back_in_the_queue(
    market: tuple[list[Applicant], dict[tuple[int, int], int]],
) -> None:
    applicants, free = market
    matching = deferred_acceptance(applicants, free)
    # Whoever is left without a place is behind everyone holding a place they asked for.
    for child in applicants:
        if child.id in matching:
            continue
        for other in applicants:
            got = matching.get(other.id)
            if got in child.choices and other.group == child.group:
                assert other.priority < child.priority


def test_benefit_goes_before_date_and_date_before_number() -> None:
    early = queue_key(Benefit.NONE, T0, 1)
    later_priority = queue_key(Benefit.PRIORITY, T0 + timedelta(days=300), 2)
    extraordinary = queue_key(Benefit.EXTRAORDINARY, T0 + timedelta(days=400), 3)
    assert sorted([early, later_priority, extraordinary]) == [extraordinary, later_priority, early]
    assert ahead_of(early, [later_priority, extraordinary]) == (2, 2)
    assert ahead_of(extraordinary, [early, later_priority]) == (0, 0)


def test_one_place_goes_to_the_higher_benefit_even_if_it_was_their_second_choice() -> None:
    first = Applicant(1, (10,), 3, queue_key(Benefit.NONE, T0, 1))
    second = Applicant(2, (20, 10), 3, queue_key(Benefit.PRIORITY, T0 + timedelta(days=1), 2))
    assert deferred_acceptance([first, second], {(10, 3): 1, (20, 3): 0}) == {2: 10}


def test_age_group_is_full_years_on_the_first_of_september() -> None:
    assert school_year(date(2027, 8, 31)) == 2026
    assert school_year(date(2027, 9, 1)) == 2027
    assert age_group(date(2024, 9, 1), 2027) == 3
    assert age_group(date(2024, 9, 2), 2027) == 2


def test_declined_or_lapsed_goes_back_to_the_queue_and_withdrawn_is_final() -> None:
    assert may_move(APPLICATION_TRANSITIONS, ApplicationStatus.OFFERED, ApplicationStatus.QUEUED)
    assert not may_move(
        APPLICATION_TRANSITIONS, ApplicationStatus.WITHDRAWN, ApplicationStatus.QUEUED
    )
    assert not may_move(
        APPLICATION_TRANSITIONS, ApplicationStatus.ENROLLED, ApplicationStatus.QUEUED
    )
