"""Anna applies for a kindergarten place for her son in a real browser and sees his
position and why; the city's official previews and runs the allocation in a second
browser; Anna accepts the offered place. Playwright drives Debian's Chromium against the
demo city served by a real server process, on a desktop and on a phone."""

from __future__ import annotations

from typing import Any

import pytest

from infocity.education import service
from infocity.education.rules.kindergarten import Benefit
from tests.conftest import shared_server
from tests.education_builders import apply, make_family, next_school_year_start, set_places
from tests.support.browser import ARTIFACTS, ON_EVERY_SCREEN, log_in, new_page

PASSWORD = "infocity-demo"  # the demo city's published password
ANNA = "anna.ivanova@demo.infocity.example"
OFFICIAL = "admin@demo.infocity.example"
KINDERGARTEN = "Детский сад № 1101, ул. Фестивальная, 19"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _priority_application_ahead() -> None:
    """Another child of Pyotr's age group queues for kindergarten No. 1101 with a
    priority right; the group gets a second place so that both are offered one."""
    (kindergarten,) = [
        k.id for k in service.list_kindergartens() if k.name_en == "Kindergarten No. 1101"
    ]
    set_places(kindergarten, 6, 2)
    apply(make_family(6), [kindergarten], benefit=Benefit.PRIORITY)


def _fits(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


@ON_EVERY_SCREEN
def test_anna_applies_the_official_allocates_and_anna_accepts(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    from infocity.demo import load_demo_city

    load_demo_city()
    ARTIFACTS.mkdir(exist_ok=True)
    screen = "phone" if viewport["width"] < 600 else "desktop"
    anna, official = new_page(chromium, viewport), new_page(chromium, viewport)
    start = next_school_year_start().isoformat()
    try:
        with shared_server(database, 1) as base_url:
            log_in(anna, base_url, ANNA, PASSWORD)
            log_in(official, base_url, OFFICIAL, PASSWORD)

            # Anna puts Pyotr (6 on 1 September) in the queue of kindergarten No. 1101.
            anna.goto(f"{base_url}/education/kindergarten")
            anna.select_option("#f-child_id", label="Иванов Пётр")
            anna.select_option("#f-kindergarten_1", label=KINDERGARTEN)
            anna.fill("#f-desired_start", start)
            anna.get_by_role("button", name="Подать заявление").click()
            main = anna.locator("main").inner_text()
            assert "Заявление поставлено в очередь" in main
            assert "Впереди: 0, из них с льготой: 0." in main
            assert anna.locator("td.position").first.inner_text() == "1"
            # A later application with a priority right goes ahead of Pyotr; Anna sees
            # why and what moved.
            _priority_application_ahead()
            anna.reload()
            assert anna.locator("td.position").first.inner_text() == "2"
            main = anna.locator("main").inner_text()
            assert "Впереди: 1, из них с льготой: 1." in main
            assert "место в очереди изменилось с 1 на 2" in main
            _fits(anna)
            shot = ARTIFACTS / f"kindergarten-queue-{screen}.png"
            anna.screenshot(path=str(shot), full_page=True)

            # The official previews the allocation for that day, then runs it.
            official.goto(f"{base_url}/education/kindergarten")
            official.fill("#f-run_for", start)
            official.get_by_role("button", name="Предварительный результат").click()
            preview = official.locator("main").inner_text()
            assert "мест к распределению: 2" in preview
            proposed = official.locator("section[aria-labelledby=preview-h] tbody")
            assert "Детский сад № 1101" in proposed.inner_text()
            # Pyotr is 6 and still waiting: the nearest kindergartens with places are listed.
            waiting = official.locator("section[aria-labelledby=waiting-h] tbody")
            assert "Детский сад № 2304" in waiting.inner_text()
            _fits(official)
            official.get_by_role("button", name="Провести комплектование").click()
            assert "Комплектование проведено" in official.locator("main").inner_text()

            # Anna sees the offer and accepts it.
            anna.goto(f"{base_url}/education/kindergarten")
            assert "Предложено место: Детский сад № 1101" in anna.locator("main").inner_text()
            anna.get_by_role("button", name="Принять место").click()
            main = anna.locator("main").inner_text()
            assert "Вы приняли место" in main
            assert "Место принято" in main
            _fits(anna)

            # The same pages in English.
            anna.goto(f"{base_url}/lang/en?next=/education/kindergarten")
            main = anna.locator("main").inner_text()
            assert "Place accepted" in main
            assert "Kindergarten No. 1101" in main or "Детский сад № 1101" in main
            _fits(anna)
            official.goto(f"{base_url}/lang/en?next=/education/kindergarten/allocation")
            assert "Allocation of kindergarten places" in official.locator("main").inner_text()
            _fits(official)
            shot = ARTIFACTS / f"kindergarten-allocation-en-{screen}.png"
            official.screenshot(path=str(shot), full_page=True)
    except Exception:
        anna.screenshot(path=str(ARTIFACTS / f"kindergarten-failure-{screen}.png"), full_page=True)
        official.screenshot(
            path=str(ARTIFACTS / f"kindergarten-official-failure-{screen}.png"), full_page=True
        )
        raise
