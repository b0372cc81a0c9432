"""Documents from the cabinet behind an application's benefit or priority, and a school
refusing documents that do not match: the application is refused with the school's
words, the parents are told and the place returns once."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import AppError, Forbidden
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.education import errors, service
from infocity.education.models.first_grade import FirstGradeApplication, FirstGradePlaces
from infocity.education.rules.first_grade import FirstGradeStatus, Phase
from infocity.education.schemas.first_grade import DocumentsRefusal
from infocity.portal import errors as portal_errors
from infocity.portal import service as portal
from infocity.portal.schemas import CabinetDocumentCreate
from tests.builders import count_rows, logged_in, make_staff
from tests.education_builders import (
    PDF,
    Family,
    apply_first_grade,
    cabinet_document,
    first_grade_places,
    make_first_grader,
    make_school,
    open_campaign,
)
from tests.support.forms import form_token, submit


def test_a_document_is_the_keepers_alone_and_backs_a_priority_right(database: str) -> None:
    open_campaign(Phase.ONE)
    school = make_school().id
    first_grade_places(school, 2)
    family, stranger = make_first_grader(), make_first_grader()
    own = cabinet_document(family, "Справка многодетной семьи № 7", of_parent=True)
    (listed,) = portal.list_my_documents(family.parent.principal)
    assert (listed.id, listed.title, listed.filename) == (
        own,
        "Справка многодетной семьи № 7",
        "certificate.pdf",
    )
    assert portal.list_my_documents(stranger.parent.principal) == []
    with pytest.raises(portal_errors.CabinetDocumentNotFound):
        portal.get_my_document_file(stranger.parent.principal, own)
    assert portal.get_my_document_file(family.parent.principal, own).data == PDF
    refusals: list[tuple[Family, int, bytes, type[AppError]]] = [
        (family, stranger.child_id, PDF, portal_errors.NotInYourFamily),
        (family, family.child_id, b"not a scan", portal_errors.FileTypeNotAllowed),
    ]
    for keeper, person, data, refusal in refusals:
        with pytest.raises(refusal):
            portal.add_cabinet_document(
                keeper.parent.principal,
                CabinetDocumentCreate(person_id=person, title="Справка"),
                "scan.pdf",
                data,
            )
    assert len(portal.list_my_documents(family.parent.principal)) == 1

    # Another family's document backs nothing, and nothing is written.
    with pytest.raises(errors.DocumentNotYours):
        apply_first_grade(family, [school], priority_document_id=cabinet_document(stranger))
    assert count_rows(FirstGradeApplication) == 0
    applied = apply_first_grade(family, [school], priority_document_id=own)
    assert applied.schools[0].rights == [1]  # the priority category
    service.run_first_grade_allocation(SYSTEM, applied.year, Phase.ONE)
    (entry,) = service.list_school_first_graders(SYSTEM, school, applied.year)
    assert entry.priority_document == "Справка многодетной семьи № 7"


def _admitted(places: int = 1) -> tuple[Family, int, int, int]:
    """A child admitted to a school in phase 2: the family, the school, the application
    and the year."""
    year = open_campaign(Phase.TWO)
    school = make_school().id
    first_grade_places(school, places)
    family = make_first_grader()
    application = apply_first_grade(family, [school]).id
    service.run_first_grade_allocation(SYSTEM, year, Phase.TWO)
    return family, school, application, year


def _free_places(school: int) -> int:
    with UnitOfWork() as uow:
        return uow.session.scalars(
            select(FirstGradePlaces.free_places).where(FirstGradePlaces.school_id == school)
        ).one()


def test_the_school_refuses_documents_the_parents_are_told_the_place_returns(
    client: TestClient,
) -> None:
    family, school, application, _ = _admitted()
    assert _free_places(school) == 0
    with pytest.raises(Forbidden):
        service.refuse_first_grade_documents(
            make_staff(Role.SCHOOL_STAFF, make_school().id).principal,
            application,
            DocumentsRefusal(reason="Не та справка"),
        )

    staff = make_staff(Role.SCHOOL_STAFF, school)
    logged_in(client, staff)
    page = client.get(f"/education/first-grade/schools/{school}")
    action = f"/education/first-grade/schools/{school}/applications/{application}/refuse"
    empty = submit(client, page, action, {"reason": "   "})
    assert empty.status_code == 422
    assert "Напишите, что не совпадает" in empty.text
    done = submit(client, page, action, {"reason": "Адрес в паспорте другой"})
    assert done.status_code == 303
    assert "Документы не приняты" in client.get(done.headers["location"]).text
    assert _free_places(school) == 1
    with pytest.raises(errors.FirstGradeApplicationChanged):
        service.refuse_first_grade_documents(
            staff.principal, application, DocumentsRefusal(reason="ещё раз")
        )
    assert _free_places(school) == 1

    with UnitOfWork() as uow:
        told = uow.session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.user_id == family.parent.id)
        ).all()
    assert told[-1] == "first_grade_refused"
    client.cookies.clear()
    logged_in(client, family.parent)
    shown = client.get("/education/first-grade").text
    assert "Школа не приняла документы" in shown
    assert "Адрес в паспорте другой" in shown


@pytest.mark.slow
def test_a_refusal_and_a_withdrawal_at_once_return_the_place_once(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    family, school, application, _ = _admitted()
    staff = make_staff(Role.SCHOOL_STAFF, school)
    barrier = threading.Barrier(2)
    outcomes: list[str] = ["", ""]

    def refuse() -> None:
        barrier.wait()
        try:
            service.refuse_first_grade_documents(
                staff.principal, application, DocumentsRefusal(reason="Не совпадает")
            )
            outcomes[0] = "refused"
        except errors.FirstGradeApplicationChanged:
            outcomes[0] = "changed"

    def withdraw() -> None:
        barrier.wait()
        try:
            service.withdraw_first_grade_application(family.parent.principal, application)
            outcomes[1] = "withdrawn"
        except errors.FirstGradeApplicationChanged:
            outcomes[1] = "changed"

    threads = [threading.Thread(target=refuse), threading.Thread(target=withdraw)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) in (["changed", "refused"], ["changed", "withdrawn"])
    assert _free_places(school) == 1
    with UnitOfWork() as uow:
        status = uow.session.get(FirstGradeApplication, application)
        assert status is not None
        assert status.status in (FirstGradeStatus.REFUSED, FirstGradeStatus.WITHDRAWN)


def test_the_parent_keeps_a_document_on_the_cabinet_page_and_chooses_it(
    client: TestClient,
) -> None:
    family = make_first_grader()
    logged_in(client, family.parent)
    page = client.get("/my/documents")
    assert "Документов пока нет." in page.text
    form = {"csrf_token": form_token(page), "person_id": str(family.child_id)}
    wrong = client.post(
        "/my/documents",
        data={**form, "title": "Справка"},
        files={"file": ("scan.pdf", b"plain text", "application/pdf")},
    )
    assert wrong.status_code == 422
    kept = client.post(
        "/my/documents",
        data={**form, "title": "Удостоверение многодетной семьи № 12"},
        files={"file": ("scan.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert kept.status_code == 303
    listed = client.get(kept.headers["location"]).text
    assert "Документ сохранён в вашем кабинете." in listed
    assert "Удостоверение многодетной семьи № 12" in listed
    (document,) = portal.list_my_documents(family.parent.principal)
    assert client.get(f"/my/documents/{document.id}/file").content == PDF
    # The application forms offer it.
    assert "Удостоверение многодетной семьи № 12" in client.get("/education/kindergarten").text
