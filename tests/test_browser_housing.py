"""Anna links her apartment in a real browser, submits a meter reading and reports a
problem; the housing operator (a second browser context) processes it in the queue; Anna
sees the outcome in her cabinet. Playwright drives Debian's Chromium against the demo
city served by a real server process."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import shared_server
from tests.support.browser import ARTIFACTS, ON_EVERY_SCREEN, log_in, new_page

PASSWORD = "infocity-demo"  # the demo city's published password
ANNA = "anna.ivanova@demo.infocity.example"
OPERATOR = "housing@demo.infocity.example"
# A window from the 15th to the 14th of the next month is open every day of the year.
ALWAYS_OPEN = {
    "INFOCITY_READINGS_WINDOW_START_DAY": "15",
    "INFOCITY_READINGS_WINDOW_END_DAY": "14",
}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@ON_EVERY_SCREEN
def test_anna_reports_a_problem_and_the_operator_closes_it(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    from infocity.demo import load_demo_city

    load_demo_city()
    ARTIFACTS.mkdir(exist_ok=True)
    anna, operator = new_page(chromium, viewport), new_page(chromium, viewport)
    try:
        with shared_server(database, 1, **ALWAYS_OPEN) as base_url:
            log_in(anna, base_url, ANNA, PASSWORD)
            log_in(operator, base_url, OPERATOR, PASSWORD)

            # Anna links apartment 12 by the payer code on her bill.
            anna.goto(f"{base_url}/housing")
            anna.fill("#f-payer_code", "7701234512")
            anna.fill("#f-number", "12")
            anna.get_by_role("button", name="Привязать").click()
            assert "Квартира привязана" in anna.locator("main").inner_text()
            assert "7701234512" in anna.locator("main").inner_text()

            # She submits the cold water meter's reading (installed at 360 m³).
            meter = anna.locator("article.card", has_text="Холодная вода")
            meter.locator("input[name^=value-]").fill("365,5")
            anna.get_by_role("button", name="Передать показания").click()
            assert "Показание сохранено" in anna.locator("main").inner_text()
            meter = anna.locator("article.card", has_text="Холодная вода")
            assert "365,5 м³" in meter.inner_text()  # the Russian decimal comma
            assert meter.locator("svg").count() == 1
            anna.screenshot(path=str(ARTIFACTS / "housing-apartment.png"), full_page=True)

            # She reports that there is no hot water.
            anna.goto(f"{base_url}/housing/requests/new")
            anna.select_option("#f-service_code", "no_hot_water")
            anna.fill("#f-description", "Нет горячей воды с утра")
            anna.get_by_role("button", name="Отправить").click()
            assert "Заявка отправлена" in anna.locator("main").inner_text()
            assert "Новая" in anna.locator("td.status").first.inner_text()

            # The operator sees it in the queue, takes it and closes it with a note.
            operator.goto(f"{base_url}/housing/requests")
            row = operator.locator("tbody tr", has_text="Нет горячей воды с утра")
            row.locator("select[name=status]").select_option("in_progress")
            row.get_by_role("button", name="Сохранить").click()
            assert "Заявка обновлена" in operator.locator("main").inner_text()
            row = operator.locator("tbody tr", has_text="Нет горячей воды с утра")
            assert "Выполняется" in row.inner_text()
            row.locator("select[name=status]").select_option("closed")
            row.locator("input[name=note]").fill("Заменили клапан в ИТП")
            row.get_by_role("button", name="Сохранить").click()
            assert "Заявка обновлена" in operator.locator("main").inner_text()
            operator.screenshot(path=str(ARTIFACTS / "housing-queue.png"), full_page=True)

            # Anna sees the outcome in her cabinet.
            anna.goto(f"{base_url}/housing/requests/mine")
            status = anna.locator("td.status").first.inner_text()
            assert "Выполнена" in status
            assert "Заменили клапан в ИТП" in status
    except Exception:
        anna.screenshot(path=str(ARTIFACTS / "browser-housing-failure.png"), full_page=True)
        operator.screenshot(path=str(ARTIFACTS / "browser-housing-operator.png"), full_page=True)
        raise
