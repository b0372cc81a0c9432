"""The exam results pages: the look-up without login (Russian by default, English on
request), subscribing once logged in, and the exam official's import with its report of
refused lines."""

from __future__ import annotations

from fastapi.testclient import TestClient

from infocity.core.auth import Role
from infocity.education.models.exams import ExamResult
from tests.builders import count_rows, logged_in, make_citizen, make_staff
from tests.education_builders import (
    import_results,
    make_participant,
    publication_instant,
    results_csv,
)
from tests.support.forms import submit

PAGE = "/education/exams"


def test_anyone_looks_up_results_on_the_page(client: TestClient) -> None:
    who = make_participant()
    import_results(
        [
            (who, "russian", 72, 24, publication_instant(-1)),
            (who, "physics", 30, 36, publication_instant(-1)),
            (who, "biology", 90, 36, publication_instant(3)),  # not yet public
        ]
    )
    page = client.get(PAGE)
    assert page.status_code == 200
    assert "Код регистрации" in page.text
    found = submit(
        client,
        page,
        PAGE,
        {"registration_code": who.registration_code, "document_number": who.document_number},
    )
    assert found.status_code == 200
    assert "Русский язык" in found.text
    assert "Физика" in found.text
    assert "Биология" not in found.text
    assert "Сдан" in found.text
    assert "Не сдан" in found.text
    assert 'data-label="Минимальный балл">24<' in found.text

    wrong = submit(
        client, page, PAGE, {"registration_code": who.registration_code, "document_number": "1111"}
    )
    assert wrong.status_code == 404
    assert "Результаты по этому коду регистрации и номеру документа не найдены" in wrong.text
    assert who.registration_code in wrong.text  # what was typed is kept


def test_the_page_speaks_english(client: TestClient) -> None:
    who = make_participant()
    import_results([(who, "mathematics_profile", 27, 27, publication_instant(-1))])
    client.cookies.set("lang", "en")
    page = client.get(PAGE)
    found = submit(
        client,
        page,
        PAGE,
        {"registration_code": who.registration_code, "document_number": who.document_number},
    )
    assert "Mathematics (profile level)" in found.text
    assert "Passed" in found.text


def test_a_logged_in_citizen_subscribes_from_the_page(client: TestClient) -> None:
    who = make_participant()
    import_results([(who, "russian", 72, 24, publication_instant())])
    anonymous = client.get(PAGE)
    assert "Сообщить мне о публикации результатов" not in anonymous.text
    browser = logged_in(client, make_citizen())
    page = browser.get(PAGE)
    assert "Сообщить мне о публикации результатов" in page.text
    done = submit(
        browser,
        page,
        f"{PAGE}/subscribe",
        {"registration_code": who.registration_code, "document_number": who.document_number},
    )
    assert done.status_code == 303
    after = browser.get(done.headers["location"])
    assert "Мы сообщим вам, когда результаты будут опубликованы." in after.text
    assert f"Код регистрации {who.registration_code}" in after.text


def test_an_exam_official_imports_a_file_on_the_page(client: TestClient) -> None:
    browser = logged_in(client, make_staff(Role.EXAM_OFFICIAL))
    page = browser.get(f"{PAGE}/import")
    assert page.status_code == 200
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    who = make_participant()
    bad = results_csv([(who, "russian", 72, 24, publication_instant())]) + "X,1,russian,1,1,x\n"
    refused = browser.post(
        f"{PAGE}/import",
        data={"csrf_token": token},
        files={"file": ("results.csv", bad.encode())},
    )
    assert refused.status_code == 422
    assert "Файл не загружен: строк с ошибками — 1." in refused.text
    assert 'data-label="Строка">3<' in refused.text
    assert count_rows(ExamResult) == 0
    good = results_csv([(who, "russian", 72, 24, publication_instant())])
    imported = browser.post(
        f"{PAGE}/import",
        data={"csrf_token": token},
        files={"file": ("results.csv", good.encode())},
    )
    assert imported.status_code == 200
    assert "Загружено результатов: 1" in imported.text
    citizen = logged_in(client, make_citizen())
    assert citizen.get(f"{PAGE}/import").status_code == 403


def test_the_catalogue_leads_to_the_results_page(client: TestClient) -> None:
    from infocity.portal import service as portal

    portal.seed_catalogue()
    catalogue = client.get("/services?q=ЕГЭ")
    assert 'href="/education/exams"' in catalogue.text
