"""Anna books a therapist in a real browser, sees her ticket, moves it and cancels it;
between the steps the registrar of her polyclinic (a second browser context) opens the
clinic's day and sees each step. Playwright drives Debian's Chromium against the demo
city served by a real server process."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from infocity.core.settings import get_settings
from tests.conftest import shared_server
from tests.support.browser import ARTIFACTS, ON_EVERY_SCREEN, log_in, new_page

PASSWORD = "infocity-demo"  # the demo city's published password
ANNA = "anna.ivanova@demo.infocity.example"
REGISTRAR = "registrar@demo.infocity.example"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _ticket_time(page: Any) -> datetime:
    """The appointment's start from the ticket's <time datetime>, in the city's zone."""
    value = page.locator(".ticket time").first.get_attribute("datetime")
    return datetime.fromisoformat(value).astimezone(get_settings().city_tz)


def _anna_rows(registrar: Any, base_url: str, when: datetime) -> list[str]:
    """The registry's rows of the day that carry Anna's name, as "HH:MM status" text."""
    registrar.goto(f"{base_url}/registry?day={when.date().isoformat()}")
    rows = registrar.locator("table.day-table tbody tr", has_text="Иванова Анна")
    return [" ".join(rows.nth(i).inner_text().split()) for i in range(rows.count())]


@ON_EVERY_SCREEN
def test_anna_books_moves_and_cancels_while_the_registry_watches(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    from infocity.demo import load_demo_city

    load_demo_city()
    ARTIFACTS.mkdir(exist_ok=True)
    anna, registrar = new_page(chromium, viewport), new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(anna, base_url, ANNA, PASSWORD)
            log_in(registrar, base_url, REGISTRAR, PASSWORD)

            # Anna chooses the therapist and the first free time, and confirms.
            anna.goto(f"{base_url}/health")
            assert anna.locator("h1").inner_text() == "Запись к врачу"
            anna.get_by_role("link", name="Терапевт").click()
            # Late in the evening the first day offered may hold a single free time:
            # the second day in the picker is always a full working day.
            anna.locator("a.day-choice").nth(1).click()
            # count() does not wait: on a busy machine it ran while the day's page was
            # still loading and found none. The page is there once its second time is.
            anna.wait_for_url("**day=*")
            anna.locator("a.slot").nth(1).wait_for()
            assert anna.locator("a.slot").count() > 1
            anna.screenshot(path=str(ARTIFACTS / "health-booking.png"), full_page=False)
            anna.locator("a.slot").first.click()
            anna.get_by_role("button", name="Записаться").click()
            assert "Вы записаны" in anna.locator("main").inner_text()
            first_ticket = anna.locator(".ticket .ticket-number").first.inner_text()
            booked_at = _ticket_time(anna)
            anna.screenshot(path=str(ARTIFACTS / "health-ticket.png"), full_page=True)

            rows = _anna_rows(registrar, base_url, booked_at)
            assert len(rows) == 1
            assert rows[0].startswith(booked_at.strftime("%H:%M"))
            assert "Записан" in rows[0]

            # She moves it to the last time offered on the first day, and confirms the move.
            anna.get_by_role("link", name="Перенести на другое время").click()
            anna.locator("section.day").first.locator("a.slot").last.click()
            anna.get_by_role("button", name="Перенести на новое время").click()
            assert "Запись перенесена" in anna.locator("main").inner_text()
            assert anna.locator(".ticket .ticket-number").first.inner_text() != first_ticket
            moved_at = _ticket_time(anna)
            doctor = anna.locator(".ticket dd").nth(3).inner_text()
            assert moved_at != booked_at

            rows_before = _anna_rows(registrar, base_url, booked_at)
            if moved_at.date() != booked_at.date():
                assert rows_before == []
                rows_before = _anna_rows(registrar, base_url, moved_at)
            assert len(rows_before) == 1
            assert rows_before[0].startswith(moved_at.strftime("%H:%M"))

            # She cancels it from her list and confirms; the registry shows the time free.
            anna.goto(f"{base_url}/health/appointments")
            anna.locator("a[href$='/cancellation']").first.click()
            anna.get_by_role("button", name="Да, отменить запись").click()
            assert "Запись отменена" in anna.locator("main").inner_text()
            assert _anna_rows(registrar, base_url, moved_at) == []
            free = registrar.locator("section.card", has_text=doctor).locator(
                "tbody tr", has_text=moved_at.strftime("%H:%M")
            )
            assert "Свободно" in free.first.inner_text()
    except Exception:
        anna.screenshot(path=str(ARTIFACTS / "browser-health-failure.png"), full_page=True)
        registrar.screenshot(path=str(ARTIFACTS / "browser-health-registrar.png"), full_page=True)
        raise
