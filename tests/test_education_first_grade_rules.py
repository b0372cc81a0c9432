"""First-grade rules: the age on 1 September, the phases, and the allocation — stable,
within each school's places, no place twice, and in phase 1 only where a child has a
right, siblings ahead of priority categories ahead of the territory."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from infocity.education.rules.first_grade import (
    FIRST_GRADE,
    FIRST_GRADE_TRANSITIONS,
    CampaignDates,
    Candidate,
    FirstGradeStatus,
    Phase,
    age_fits,
    allocate,
    applicants,
    may_move,
    phase_on,
)
from infocity.education.rules.kindergarten import blocking_pairs

T0 = datetime(2027, 4, 1, 9, 0, tzinfo=UTC)
SCHOOLS = [1, 2, 3, 4]


def test_age_from_six_and_a_half_to_eight_on_first_september() -> None:
    assert age_fits(date(2021, 3, 1), 2027)  # 6 years 6 months
    assert not age_fits(date(2021, 3, 2), 2027)  # a day short of 6.5
    assert age_fits(date(2019, 9, 2), 2027)  # 8 the next day
    assert not age_fits(date(2019, 9, 1), 2027)  # 8 that day


def test_phases_by_their_days() -> None:
    dates = CampaignDates(date(2027, 4, 1), date(2027, 6, 30), date(2027, 7, 6), date(2027, 9, 1))
    assert phase_on(dates, date(2027, 4, 1)) is Phase.ONE
    assert phase_on(dates, date(2027, 7, 3)) is None
    assert phase_on(dates, date(2027, 9, 1)) is Phase.TWO
    assert phase_on(dates, date(2027, 3, 31)) is None


def test_one_transitions_table() -> None:
    assert may_move(FIRST_GRADE_TRANSITIONS, FirstGradeStatus.SUBMITTED, FirstGradeStatus.ADMITTED)
    assert may_move(FIRST_GRADE_TRANSITIONS, FirstGradeStatus.ADMITTED, FirstGradeStatus.ENROLLED)
    assert not may_move(
        FIRST_GRADE_TRANSITIONS, FirstGradeStatus.REFUSED, FirstGradeStatus.ADMITTED
    )
    assert not may_move(
        FIRST_GRADE_TRANSITIONS, FirstGradeStatus.SUBMITTED, FirstGradeStatus.ENROLLED
    )


@st.composite
def campaigns(draw: st.DrawFn) -> tuple[Phase, list[Candidate], dict[int, int]]:
    phase = draw(st.sampled_from(list(Phase)))
    candidates = []
    for n in range(draw(st.integers(0, 30))):
        schools = tuple(
            draw(st.lists(st.sampled_from(SCHOOLS), min_size=1, max_size=3, unique=True))
        )
        candidates.append(
            Candidate(
                id=n + 1,
                schools=schools,
                applied_at=T0 + timedelta(minutes=draw(st.integers(0, 10_000))),
                sibling_school=draw(st.sampled_from([None, *SCHOOLS])),
                priority=draw(st.booleans()),
                territory_school=draw(st.sampled_from([None, *SCHOOLS])),
            )
        )
    places = {s: draw(st.integers(0, 4)) for s in SCHOOLS if draw(st.booleans())}
    return phase, candidates, places


@given(campaigns())
@settings(max_examples=150, deadline=None)
def test_every_allocation_is_stable_within_places_and_phase_rights(
    campaign: tuple[Phase, list[Candidate], dict[int, int]],
) -> None:
    phase, candidates, places = campaign
    matching = allocate(phase, candidates, places)
    seats = {(s, FIRST_GRADE): n for s, n in places.items()}
    # No place twice: each school within its places; each child at most one school.
    assert all(n <= places.get(s, 0) for s, n in Counter(matching.values()).items())
    # Stable under each school's own order: nobody ranked behind holds a place a child
    # preferred, and no preferred school has a place left.
    assert blocking_pairs(applicants(phase, candidates), seats, matching) == []
    by_id = {c.id: c for c in candidates}
    for child, school in matching.items():
        c = by_id[child]
        assert school in c.schools
        if phase is Phase.ONE:
            # Admitted in phase 1 only where the child has a right.
            assert school in (c.sibling_school, c.territory_school) or c.priority


def test_phase_1_sibling_beats_priority_beats_territory_whatever_the_time() -> None:
    territory = Candidate(1, (1,), T0, territory_school=1)
    priority = Candidate(2, (1,), T0 + timedelta(hours=1), priority=True)
    sibling = Candidate(3, (1,), T0 + timedelta(hours=2), sibling_school=1)
    nobody = Candidate(4, (1,), T0 - timedelta(hours=1))
    everyone = [territory, priority, sibling, nobody]
    assert allocate(Phase.ONE, everyone, {1: 1}) == {3: 1}
    assert allocate(Phase.ONE, everyone, {1: 2}) == {3: 1, 2: 1}
    assert allocate(Phase.ONE, everyone, {1: 4}) == {3: 1, 2: 1, 1: 1}
    # Phase 2: by the time of the application alone.
    assert allocate(Phase.TWO, everyone, {1: 2}) == {4: 1, 1: 1}
