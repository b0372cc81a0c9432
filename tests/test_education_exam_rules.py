"""The pure rules of exam results: which version is shown, the results file, the
publications' transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infocity.core.errors import Conflict
from infocity.education.rules import exams as rules
from infocity.education.rules.exams import PublicationMove, PublicationState

BASE = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
MOSCOW = ZoneInfo("Europe/Moscow")

versions = st.lists(
    st.builds(
        rules.Version,
        subject=st.sampled_from(rules.SUBJECTS[:4]),
        version=st.integers(1, 5),
        score=st.integers(0, 100),
        pass_mark=st.integers(0, 100),
        published_at=st.integers(-5, 5).map(lambda h: BASE + timedelta(hours=h)),
    ),
    max_size=12,
)


@given(versions, st.integers(-6, 6))
def test_the_newest_public_version_of_each_subject_is_shown(
    items: list[rules.Version], hours: int
) -> None:
    now = BASE + timedelta(hours=hours)
    shown = rules.shown_results(items, now)
    public = [v for v in items if v.published_at <= now]
    assert {v.subject for v in shown} == {v.subject for v in public}
    assert len(shown) == len({v.subject for v in shown})
    for item in shown:
        assert item.published_at <= now
        assert item.version == max(v.version for v in public if v.subject == item.subject)


def test_a_file_reads_with_semicolons_and_city_time() -> None:
    text = (
        "registration_code;document_number;subject;score;pass_mark;published_at\n"
        "7700-0000-0001;12 34 56;Russian;80;24;2026-07-01T10:00\n"
    )
    rows, problems = rules.parse_results(text, MOSCOW)
    assert problems == []
    assert rows == [
        rules.ResultRow(2, "770000000001", "123456", "russian", 80, 24,
                        datetime(2026, 7, 1, 10, 0, tzinfo=MOSCOW))
    ]  # fmt: skip
    assert rows[0].published_at == BASE


def test_a_file_without_a_column_is_refused_on_its_first_line() -> None:
    rows, problems = rules.parse_results("registration_code,subject\n1,russian\n", MOSCOW)
    assert rows == []
    assert [p.line for p in problems] == [1]


def test_publications_move_only_along_the_table() -> None:
    assert (
        rules.next_state(PublicationState.SCHEDULED, PublicationMove.PUBLISH)
        is PublicationState.ANNOUNCING
    )
    assert rules.states_before(PublicationMove.FINISH) == (PublicationState.ANNOUNCING,)
    with pytest.raises(Conflict):
        rules.next_state(PublicationState.SCHEDULED, PublicationMove.FINISH)
    assert set(rules.PUBLICATION_STATE_LABELS) == set(PublicationState)


def test_codes_and_documents_are_normalised_or_refused() -> None:
    assert rules.normalize_registration_code(" ab-12 34 56 ") == "AB123456"
    assert rules.normalize_registration_code("12345") is None
    assert rules.normalize_document_number("45 06 123456") == "4506123456"
    assert rules.normalize_document_number("12345a") is None
    assert rules.document_digest("A", "1") != rules.document_digest("A1", "")
