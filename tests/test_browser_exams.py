"""On publication day a participant looks up their exam results in a real browser,
without logging in, in Russian and in English, on a desktop and on a phone: the subject
published this morning is there with its pass mark; the one published tonight is not
yet."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from infocity.core.db import utcnow
from tests.conftest import shared_server
from tests.education_builders import import_results, make_participant
from tests.support.browser import ARTIFACTS, ON_EVERY_SCREEN, PHONE, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TEXTS = {
    "ru-RU": {
        "show": "Показать результаты",
        "subject": "Русский язык",
        "later": "Химия",
        "passed": "Сдан",
        "pass_mark": "Минимальный балл",
        "not_found": "Результаты по этому коду регистрации и номеру документа не найдены",
    },
    "en-US": {
        "show": "Show results",
        "subject": "Russian language",
        "later": "Chemistry",
        "passed": "Passed",
        "pass_mark": "Pass mark",
        "not_found": "No results were found for this registration code and document number",
    },
}


@ON_EVERY_SCREEN
@pytest.mark.parametrize("locale", ["ru-RU", "en-US"])
def test_a_participant_looks_up_results_on_publication_day(
    database: str, chromium: Any, viewport: dict[str, int], locale: str
) -> None:
    texts = TEXTS[locale]
    who = make_participant()
    now = utcnow().replace(microsecond=0)
    import_results(
        [
            (who, "russian", 78, 24, now - timedelta(minutes=5)),
            (who, "chemistry", 60, 36, now + timedelta(hours=8)),
        ]
    )
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, viewport, locale)
    with shared_server(database, 1) as base_url:
        page.goto(f"{base_url}/education/exams")
        page.fill("#f-registration_code", who.registration_code)
        page.fill("#f-document_number", "000000")
        page.get_by_role("button", name=texts["show"]).click()
        assert texts["not_found"] in page.locator("main").inner_text()

        page.fill("#f-document_number", who.document_number)
        page.get_by_role("button", name=texts["show"]).click()
        table = page.locator("table.cards")
        table.wait_for()
        shown = table.inner_text()
        assert texts["subject"] in shown
        assert "78" in shown
        assert texts["passed"] in shown
        assert texts["later"] not in shown
        if viewport == PHONE:
            # One card per subject, each value labelled, nothing wider than the screen.
            label = table.locator("td[data-label]").nth(2).get_attribute("data-label")
            assert label == texts["pass_mark"]
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"]
        name = "phone" if viewport == PHONE else "desktop"
        page.screenshot(path=str(ARTIFACTS / f"exams-{locale}-{name}.png"), full_page=True)
