"""A mother applies for first grade in phase 1 in a real browser — the school's
territory is her right — and sees the decision once the city has made it, in Russian and
English. Playwright drives Debian's Chromium against a real server process, on a desktop
and on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from infocity.core.auth import SYSTEM
from infocity.education import service
from infocity.education.rules.first_grade import Phase
from tests.builders import PASSWORD
from tests.conftest import shared_server
from tests.education_builders import (
    first_grade_places,
    make_first_grader,
    make_school,
    open_campaign,
    territory,
)
from tests.support.browser import ARTIFACTS, ON_EVERY_SCREEN, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]
HOME = "Москва, ул. Липовая, 7"


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


@ON_EVERY_SCREEN
def test_a_parent_applies_in_phase_1_and_sees_the_decision(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    year = open_campaign(Phase.ONE)
    school = make_school()
    first_grade_places(school.id, 25)
    territory(HOME, school.id)
    family = make_first_grader()
    ARTIFACTS.mkdir(exist_ok=True)
    screen = "phone" if viewport["width"] < 600 else "desktop"
    page = new_page(chromium, viewport)
    try:
        with shared_server(database, 1) as base_url:
            log_in(page, base_url, family.parent.identifier, PASSWORD)
            page.goto(f"{base_url}/education/first-grade")
            assert "Первый этап" in page.locator("main").inner_text()
            page.select_option("#f-school_1", label=school.name)
            page.fill("#f-home_address", HOME)
            page.get_by_role("button", name="Подать заявление").click()
            main = page.locator("main").inner_text()
            assert "Заявление подано" in main
            assert "Ожидает решения" in main
            assert "Живёт на закреплённой за школой территории" in main
            _fits(page)

            # The city's official makes the phase's decisions.
            service.run_first_grade_allocation(SYSTEM, year, Phase.ONE)

            page.reload()
            main = page.locator("main").inner_text()
            assert "Принят(а): принесите документы в школу" in main
            assert f"Школа: {school.name}" in main
            _fits(page)
            page.screenshot(path=str(ARTIFACTS / f"first-grade-{screen}.png"), full_page=True)

            page.goto(f"{base_url}/lang/en?next=/education/first-grade")
            main = page.locator("main").inner_text()
            assert "Admitted: bring the documents to the school" in main
            assert f"School: {school.name_en}" in main
            _fits(page)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / f"first-grade-failure-{screen}.png"), full_page=True)
        raise
