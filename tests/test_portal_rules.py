"""The application life cycle and the other pure rules of the portal, exhaustively."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from infocity.core.errors import Conflict, InvalidInput
from infocity.portal import rules
from infocity.portal.rules import Move, Side, Status

MOSCOW = ZoneInfo("Europe/Moscow")
# Written out on purpose: a change of the life cycle must be a deliberate change here.
ALLOWED = {
    (Status.DRAFT, Move.SUBMIT, Side.APPLICANT): Status.SUBMITTED,
    (Status.NEEDS_INFORMATION, Move.SUBMIT, Side.APPLICANT): Status.SUBMITTED,
    (Status.SUBMITTED, Move.TAKE, Side.STAFF): Status.IN_REVIEW,
    (Status.IN_REVIEW, Move.REQUEST_INFORMATION, Side.STAFF): Status.NEEDS_INFORMATION,
    (Status.IN_REVIEW, Move.APPROVE, Side.STAFF): Status.APPROVED,
    (Status.IN_REVIEW, Move.REJECT, Side.STAFF): Status.REJECTED,
    (Status.APPROVED, Move.COMPLETE, Side.STAFF): Status.COMPLETED,
    (Status.DRAFT, Move.WITHDRAW, Side.APPLICANT): Status.WITHDRAWN,
    (Status.SUBMITTED, Move.WITHDRAW, Side.APPLICANT): Status.WITHDRAWN,
    (Status.IN_REVIEW, Move.WITHDRAW, Side.APPLICANT): Status.WITHDRAWN,
    (Status.NEEDS_INFORMATION, Move.WITHDRAW, Side.APPLICANT): Status.WITHDRAWN,
}


@pytest.mark.parametrize("side", list(Side))
@pytest.mark.parametrize("move", list(Move))
@pytest.mark.parametrize("status", list(Status))
def test_every_status_move_and_side(status: Status, move: Move, side: Side) -> None:
    expected = ALLOWED.get((status, move, side))
    if expected is None:
        with pytest.raises(Conflict) as refused:
            rules.transition(status, move, side, reason="because")
        assert refused.value.code == "invalid_transition"
    else:
        assert rules.transition(status, move, side, reason="because") is expected


def test_final_statuses_lead_nowhere() -> None:
    for status in rules.FINAL_STATUSES:
        assert rules.allowed_moves(status, Side.APPLICANT) == []
        assert rules.allowed_moves(status, Side.STAFF) == []


def test_an_unknown_status_is_refused() -> None:
    with pytest.raises(Conflict):
        rules.transition("lost", Move.SUBMIT, Side.APPLICANT)


@pytest.mark.parametrize("move", sorted(rules.REASON_REQUIRED))
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_reject_and_information_request_need_a_reason(move: Move, reason: str | None) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.transition(Status.IN_REVIEW, move, Side.STAFF, reason=reason)
    assert refused.value.code == "reason_required"
    assert refused.value.field == "reason"


def test_approval_needs_no_reason() -> None:
    assert rules.transition(Status.IN_REVIEW, Move.APPROVE, Side.STAFF) is Status.APPROVED


def test_allowed_moves_match_the_table() -> None:
    for status in Status:
        for side in Side:
            moves = {m for (s, m, who) in ALLOWED if s is status and who is side}
            assert set(rules.allowed_moves(status, side)) == moves


def test_working_days_skip_weekends() -> None:
    friday = date(2026, 1, 16)
    assert rules.add_working_days(friday, 1) == date(2026, 1, 19)  # Monday
    assert rules.add_working_days(friday, 5) == date(2026, 1, 23)


def test_deadline_ends_at_midnight_in_the_city() -> None:
    submitted = datetime(2026, 1, 16, 20, 30, tzinfo=UTC)  # Friday 23:30 in Moscow
    end = rules.deadline(submitted, 1, working_days=True, tz=MOSCOW)
    assert end == datetime(2026, 1, 20, 0, 0, tzinfo=MOSCOW)  # the end of Monday
    calendar = rules.deadline(submitted, 1, working_days=False, tz=MOSCOW)
    assert calendar == datetime(2026, 1, 18, 0, 0, tzinfo=MOSCOW)  # the end of Saturday


def test_overdue_only_while_the_city_has_the_next_step() -> None:
    end = datetime(2026, 1, 20, tzinfo=UTC)
    later = datetime(2026, 1, 21, tzinfo=UTC)
    assert rules.is_overdue(Status.SUBMITTED, end, later)
    assert rules.is_overdue(Status.IN_REVIEW, end, end)
    assert not rules.is_overdue(Status.IN_REVIEW, end, datetime(2026, 1, 19, tzinfo=UTC))
    for status in (Status.NEEDS_INFORMATION, Status.APPROVED, Status.REJECTED, Status.DRAFT):
        assert not rules.is_overdue(status, end, later)
    assert not rules.is_overdue(Status.SUBMITTED, None, later)


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("scan.pdf", b"%PDF-1.4 ...", "application/pdf"),
        ("photo.JPG", b"\xff\xd8\xff\xe0 ...", "image/jpeg"),
        ("photo.jpeg", b"\xff\xd8\xff\xdb ...", "image/jpeg"),
        ("plan.png", b"\x89PNG\r\n\x1a\n ...", "image/png"),
    ],
)
def test_allowed_files_are_recognised_by_their_bytes(
    name: str, data: bytes, content_type: str
) -> None:
    assert rules.check_attachment(name, data) == (name, content_type)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("virus.pdf", b"MZ\x90\x00 an executable named .pdf"),
        ("scan.png", b"%PDF-1.4 a PDF named .png"),
        ("page.html", b"<html>"),
        ("scan", b"%PDF-1.4 no extension"),
        ("doc.docx", b"PK\x03\x04"),
    ],
)
def test_other_files_are_refused(name: str, data: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_attachment(name, data)
    assert refused.value.code == "file_type_not_allowed"


def test_size_limit_and_empty_files() -> None:
    with pytest.raises(InvalidInput) as too_large:
        rules.check_attachment("big.pdf", b"%PDF-" + b"0" * rules.MAX_ATTACHMENT_BYTES)
    assert too_large.value.code == "file_too_large"
    rules.check_attachment("max.pdf", b"%PDF-" + b"0" * (rules.MAX_ATTACHMENT_BYTES - 5))
    with pytest.raises(InvalidInput) as empty:
        rules.check_attachment("empty.pdf", b"")
    assert empty.value.code == "file_empty"


def test_file_names_lose_paths_and_quotes() -> None:
    assert rules.safe_filename("C:\\Users\\a\\..\\scan.pdf") == "scan.pdf"
    assert rules.safe_filename('../../"x";.pdf') == "x.pdf"
    assert rules.safe_filename("") == "file"


def test_search_folds_case_and_yo() -> None:
    assert rules.search_text("Приём ВРАЧА") == "прием врача"
    assert rules.like_pattern("ВРАЧ") == "%врач%"
    assert rules.like_pattern("100%_!") == "%100!%!_!!%"


def test_catalogue_seed_is_consistent() -> None:
    categories = {c.code for c in rules.CATEGORIES}
    assert {"health", "education", "housing", "social", "transport", "wifi"} <= categories
    codes = [s.code for s in rules.SERVICES]
    assert len(codes) == len(set(codes))
    assert all(s.category in categories for s in rules.SERVICES)
    assert all(
        s.name_ru and s.name_en and s.description_ru and s.description_en for s in rules.SERVICES
    )
