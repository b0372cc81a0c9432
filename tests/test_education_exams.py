"""Exam results: an exam official imports them (all or nothing, corrections kept as
versions), anyone looks them up by registration code and document number from the
publication instant on, with one answer for "not found" and "wrong document"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from infocity.cli import app
from infocity.core.auth import Role
from infocity.core.errors import Forbidden, RateLimited
from infocity.core.uow import UnitOfWork
from infocity.education import errors, service
from infocity.education.models.exams import ExamParticipant, ExamResult
from infocity.education.schemas.exams import ExamLookup
from infocity.education.service import exams as exams_service
from tests.builders import api_token, bearer, count_rows, make_citizen, make_staff
from tests.education_builders import (
    import_results,
    make_participant,
    publication_instant,
    results_csv,
)

LOOKUP = "/api/v1/education/exams/results/lookup"
IMPORTS = "/api/v1/education/exams/imports"


def lookup(who: object, **kw: object) -> ExamLookup:
    return ExamLookup(
        registration_code=who.registration_code,  # type: ignore[attr-defined]
        document_number=who.document_number,  # type: ignore[attr-defined]
    )


def test_results_appear_at_their_publication_instant(database: str) -> None:
    who = make_participant()
    at = publication_instant()
    later = at + timedelta(hours=2)
    import_results([(who, "russian", 72, 24, at), (who, "physics", 30, 36, later)])

    before = service.look_up_exam_results(lookup(who), now=at - timedelta(seconds=1))
    assert before.results == []
    at_instant = service.look_up_exam_results(lookup(who), now=at)
    assert [(r.subject, r.score, r.pass_mark, r.passed) for r in at_instant.results] == [
        ("russian", 72, 24, True)
    ]
    both = service.look_up_exam_results(lookup(who), now=later)
    assert [(r.subject, r.passed) for r in both.results] == [("russian", True), ("physics", False)]


def test_document_typed_with_spaces_and_code_with_dashes_are_found(database: str) -> None:
    who = make_participant()
    at = publication_instant(-1)
    import_results([(who, "russian", 80, 24, at)])
    typed = ExamLookup(
        registration_code=f"{who.registration_code[:4]}-{who.registration_code[4:]}",
        document_number=f" {who.document_number[:3]} {who.document_number[3:]} ",
    )
    assert service.look_up_exam_results(typed).results[0].score == 80


def test_unknown_code_and_wrong_document_get_the_same_answer(client: TestClient) -> None:
    who = make_participant()
    import_results([(who, "russian", 80, 24, publication_instant(-1))])
    stranger = make_participant()
    unknown = client.post(
        LOOKUP,
        json={"registration_code": stranger.registration_code, "document_number": "123456"},
    )
    wrong = client.post(
        LOOKUP,
        json={"registration_code": who.registration_code, "document_number": "123456"},
    )
    assert unknown.status_code == wrong.status_code == 404
    assert unknown.json() == wrong.json()
    assert wrong.json()["error"]["code"] == "exam_results_not_found"
    right = client.post(
        LOOKUP,
        json={"registration_code": who.registration_code, "document_number": who.document_number},
    )
    assert right.status_code == 200
    assert right.json()["results"][0]["pass_mark"] == 24


def test_a_correction_is_a_new_version_shown_from_its_own_publication(database: str) -> None:
    who = make_participant()
    first = publication_instant(-2)
    import_results([(who, "mathematics_profile", 26, 27, first)])
    corrected_at = publication_instant(1)
    report = import_results([(who, "mathematics_profile", 31, 27, corrected_at)])
    assert report.corrections == 1
    assert report.participants_added == 0

    now_shown = service.look_up_exam_results(lookup(who)).results
    assert [(r.score, r.version, r.passed) for r in now_shown] == [(26, 1, False)]
    then_shown = service.look_up_exam_results(lookup(who), now=corrected_at).results
    assert [(r.score, r.version, r.passed) for r in then_shown] == [(31, 2, True)]
    with UnitOfWork() as uow:
        scores = uow.session.scalars(select(ExamResult.score).order_by(ExamResult.version)).all()
    assert list(scores) == [26, 31]  # the first is kept, not overwritten


def test_a_file_with_bad_lines_imports_nothing_and_names_every_line(database: str) -> None:
    good, other = make_participant(), make_participant()
    at = publication_instant()
    text = (
        results_csv(
            [
                (good, "russian", 70, 24, at),
                (other, "astrology", 70, 24, at),
                (other, "physics", 170, 36, at),
                (good, "russian", 71, 24, at),
            ]
        )
        + f"{other.registration_code},12ab,physics,40,36,tomorrow\n"
    )
    with pytest.raises(errors.ResultsFileRefused) as refused:
        service.import_exam_results(make_staff(Role.EXAM_OFFICIAL).principal, text)
    lines = [line for line, _ in refused.value.translated_rows()]
    assert lines == [3, 4, 5, 6, 6]
    assert refused.value.translated() == "Файл не загружен: строк с ошибками — 4."
    assert count_rows(ExamResult) == 0
    assert count_rows(ExamParticipant) == 0


def test_a_code_imported_again_with_another_document_is_refused(database: str) -> None:
    who = make_participant()
    at = publication_instant()
    import_results([(who, "russian", 70, 24, at)])
    impostor = type(who)(who.registration_code, "999999")
    with pytest.raises(errors.ResultsFileRefused) as refused:
        import_results([(impostor, "physics", 90, 36, at)])
    assert [line for line, _ in refused.value.translated_rows()] == [2]
    assert count_rows(ExamResult) == 1


def test_only_exam_officials_import(database: str) -> None:
    who = make_participant()
    text = results_csv([(who, "russian", 70, 24, publication_instant())])
    with pytest.raises(Forbidden):
        service.import_exam_results(make_citizen().principal, text)
    with pytest.raises(Forbidden):
        service.import_exam_results(make_staff(Role.ANALYST).principal, text)
    assert count_rows(ExamResult) == 0


def test_look_ups_are_limited_per_registration_code(database: str) -> None:
    who = make_participant()
    import_results([(who, "russian", 70, 24, publication_instant(-1))])
    guess = ExamLookup(registration_code=who.registration_code, document_number="111111")
    for attempt in range(exams_service.LOOKUPS_PER_CODE):
        with pytest.raises(errors.ResultsNotFound):
            service.look_up_exam_results(guess, ip=f"10.0.0.{attempt}")
    # From another address, and with the right document: the code is locked for a while.
    with pytest.raises(RateLimited):
        service.look_up_exam_results(lookup(who), ip="10.1.0.1")


def test_look_ups_are_limited_per_address(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(exams_service, "LOOKUPS_PER_ADDRESS", 3)
    who = make_participant()
    import_results([(who, "russian", 70, 24, publication_instant(-1))])
    for _ in range(3):
        stranger = make_participant()
        with pytest.raises(errors.ResultsNotFound):
            service.look_up_exam_results(lookup(stranger), ip="10.2.0.1")
    with pytest.raises(RateLimited):
        service.look_up_exam_results(lookup(who), ip="10.2.0.1")
    assert service.look_up_exam_results(lookup(who), ip="10.2.0.2").results


def test_an_exam_official_imports_through_the_api(client: TestClient) -> None:
    official = make_staff(Role.EXAM_OFFICIAL)
    headers = bearer(api_token(client, official.identifier, official.password))
    who = make_participant()
    good = results_csv([(who, "chemistry", 55, 36, publication_instant())])
    answer = client.post(IMPORTS, files={"file": ("r.csv", good.encode())}, headers=headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["rows"] == 1
    bad = good.replace(",55,", ",5x,")
    refused = client.post(
        IMPORTS,
        files={"file": ("r.csv", bad.encode())},
        headers={**headers, "Accept-Language": "en"},
    )
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"] == [
        {"field": "line 2", "message": "the score must be a whole number from 0 to 100"}
    ]
    citizen = make_citizen()
    forbidden = client.post(
        IMPORTS,
        files={"file": ("r.csv", good.encode())},
        headers=bearer(api_token(client, citizen.identifier, citizen.password)),
    )
    assert forbidden.status_code == 403


def test_the_command_line_imports_and_reports_bad_lines(database: str, tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    who = make_participant()
    good = folder / "good.csv"
    good.write_text(results_csv([(who, "biology", 60, 36, publication_instant())]))
    runner = CliRunner()
    done = runner.invoke(app, ["education", "import-results", str(good)])
    assert done.exit_code == 0, done.output
    assert "results imported: 1" in done.output
    bad = folder / "bad.csv"
    bad.write_text(results_csv([(make_participant(), "biology", 60, 36, publication_instant())])
                   .replace("biology", "alchemy"))  # fmt: skip
    refused = runner.invoke(app, ["education", "import-results", str(bad)])
    assert refused.exit_code == 2
    assert "line 2" in refused.output
    assert count_rows(ExamResult) == 1


def test_the_api_shows_a_subject_from_its_publication_second(client: TestClient) -> None:
    import time_machine

    who = make_participant()
    at = publication_instant(2)
    import_results([(who, "geography", 64, 37, at)])
    body = {"registration_code": who.registration_code, "document_number": who.document_number}
    with time_machine.travel(at - timedelta(seconds=1), tick=False):
        assert client.post(LOOKUP, json=body).json()["results"] == []
    with time_machine.travel(at, tick=False):
        shown = client.post(LOOKUP, json=body).json()["results"]
    assert [(r["subject"], r["score"], r["pass_mark"], r["passed"]) for r in shown] == [
        ("geography", 64, 37, True)
    ]
