"""Pages on a phone (390×844) and on a desktop, in a real browser, in both languages: no
page is wider than the screen, row actions stay on it, the header takes at most two
lines; and the polyclinic's kiosk: a print button, "Finish" that Back cannot undo, and a
screen left alone returning to its start. Playwright drives Debian's Chromium against
the app served by a real server process."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from infocity.core.auth import SYSTEM
from infocity.health import service as health
from infocity.health.schemas import BookingCreate
from infocity.housing import service as housing
from infocity.housing.schemas import ServiceRequestCreate
from tests.builders import PASSWORD, make_staff
from tests.conftest import shared_server
from tests.health_builders import (
    attach,
    city_today,
    make_clinic,
    make_patient,
    make_practitioner,
    make_slots,
)
from tests.housing_builders import link, make_apartment, make_operator, set_prices
from tests.support.browser import ARTIFACTS, ON_EVERY_SCREEN, log_in, new_page

BIRTH = date(1980, 5, 17)
POLICY = "7700000000001234"
IDLE_SECONDS = 120

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _fits(page: Any, width: int) -> None:
    """The page is no wider than the screen, and the header takes at most two lines."""
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide"
    # Lines of the header: its parts sorted from the top, a new line wherever a part
    # starts below the bottom of the line before (parts of one line are centred).
    lines = page.evaluate(
        """() => {
          const boxes = [...document.querySelectorAll('.site-header > *')]
            .map(e => e.getBoundingClientRect()).filter(b => b.height > 0)
            .sort((a, b) => a.top - b.top);
          let lines = 0, bottom = -Infinity;
          for (const b of boxes) {
            if (b.top >= bottom - 1) { lines += 1; bottom = b.bottom; }
            else { bottom = Math.max(bottom, b.bottom); }
          }
          return lines;
        }"""
    )
    assert lines <= 2, f"the header of {page.url} takes {lines} lines"


def _on_screen(locator: Any, width: int) -> None:
    expect(locator).to_be_visible()
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= width, f"{box} is off a {width}px screen"


@ON_EVERY_SCREEN
def test_tables_and_header_fit_the_screen(
    database: str, chromium: Any, always_open: None, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    practitioner = make_practitioner(clinic.id, "therapist")
    slots = make_slots(practitioner.id, city_today() + timedelta(days=1))
    anna = make_patient(BIRTH)
    assert anna.person_id is not None
    attach(anna.person_id, clinic.id)
    health.book_slot(anna.principal, BookingCreate(slot_id=slots[0]))

    set_prices()
    operator_id = make_operator()
    apartment = make_apartment(operator_id, residents=3)
    link(anna, apartment)
    housing.generate_bills(SYSTEM, housing.readings_window().period)
    for text in ("Нет горячей воды с утра во всём подъезде", "Протекает крыша над кухней"):
        housing.file_request(
            anna.principal,
            ServiceRequestCreate(
                service_code="no_hot_water", description=text, apartment_id=apartment.id
            ),
        )
    operator = make_staff("housing_operator", operator_id)

    width = viewport["width"]
    ARTIFACTS.mkdir(exist_ok=True)
    with shared_server(database) as base_url:
        citizen, staff = new_page(chromium, viewport), new_page(chromium, viewport)
        log_in(citizen, base_url, anna.identifier, PASSWORD)
        log_in(staff, base_url, operator.identifier, PASSWORD)
        citizen.goto(f"{base_url}/housing/apartments/{apartment.id}")
        bill = citizen.locator("a[href^='/housing/bills/']").first.get_attribute("href")
        assert bill
        assert re.fullmatch(r"/housing/bills/\d+", bill)

        for lang, cancel, move, save in (
            ("ru", "Отменить", "Перенести", "Сохранить"),
            ("en", "Cancel", "Move", "Save"),
        ):
            for page in (citizen, staff):
                page.goto(f"{base_url}/lang/{lang}?next=/")
            name = f"{lang}-{width}"

            citizen.goto(f"{base_url}/health/appointments")
            _fits(citizen, width)
            row = citizen.locator("main table").first.locator("tbody tr")
            assert row.count() == 1
            _on_screen(row.get_by_role("link", name=move, exact=True), width)
            _on_screen(row.get_by_role("link", name=cancel), width)
            citizen.screenshot(path=str(ARTIFACTS / f"phone-appointments-{name}.png"))

            citizen.goto(f"{base_url}{bill}")
            _fits(citizen, width)
            _on_screen(citizen.locator("tfoot strong"), width)  # the sum to pay
            citizen.screenshot(path=str(ARTIFACTS / f"phone-bill-{name}.png"))

            for path in ("/my", "/housing/requests/mine", "/inbox", "/cabinet", "/"):
                citizen.goto(f"{base_url}{path}")
                _fits(citizen, width)

            staff.goto(f"{base_url}/housing/requests")
            _fits(staff, width)
            rows = staff.locator("main tbody tr")
            assert rows.count() == 2
            for i in range(2):
                _on_screen(rows.nth(i).get_by_role("button", name=save), width)
                _on_screen(rows.nth(i).locator("select[name=status]"), width)
            staff.screenshot(path=str(ARTIFACTS / f"phone-queue-{name}.png"))


@ON_EVERY_SCREEN
def test_kiosk_prints_finishes_for_good_and_returns_to_its_start_by_itself(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    practitioner = make_practitioner(clinic.id, "therapist")
    make_slots(practitioner.id, city_today() + timedelta(days=1))
    patient = make_patient(BIRTH, oms_policy=POLICY)
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)

    with shared_server(database) as base_url:
        page = new_page(chromium, viewport)
        # The print dialog cannot be seen headless: count the calls instead.
        page.add_init_script(
            "window.print = () => { window.__printed = (window.__printed || 0) + 1; };"
        )
        page.clock.install()

        def identify() -> None:
            page.goto(f"{base_url}/kiosk")
            assert page.locator("a.brand").get_attribute("href") == "/kiosk"
            page.fill("#f-oms_policy", POLICY)
            page.fill("#f-birth_date", BIRTH.isoformat())
            page.click("main button[type=submit]")
            page.wait_for_url(re.compile(r"/kiosk/specialties$"))

        identify()
        page.locator("a[href^='/kiosk/slots?specialty=therapist']").first.click()
        page.locator("a[href^='/kiosk/confirm']").first.click()
        page.locator("form[action='/kiosk/book'] button[type=submit]").click()
        page.wait_for_url(re.compile(r"/kiosk/tickets/\d+$"))
        ticket_url = page.url
        assert "Ctrl+P" not in page.locator("main").inner_text()
        _fits(page, viewport["width"])
        button = page.get_by_role("button", name="Распечатать талон")
        _on_screen(button, viewport["width"])
        button.click()
        assert page.evaluate("window.__printed") == 1

        # "Finish", then Back: the browser asks again and gets the start page.
        page.get_by_role("button", name="Завершить").click()
        page.wait_for_url(re.compile(r"/kiosk\?finished=1$"))
        page.go_back()
        page.wait_for_load_state()
        assert "/kiosk/tickets/" not in page.url
        assert page.locator(".ticket").count() == 0
        expect(page.locator("#f-oms_policy")).to_be_visible()
        page.goto(ticket_url)
        assert page.locator(".ticket").count() == 0

        # Left alone, the screen finishes the session by itself after the idle time.
        identify()
        page.clock.fast_forward((IDLE_SECONDS - 5) * 1000)
        assert page.url.endswith("/kiosk/specialties")
        page.clock.fast_forward(10 * 1000)
        page.wait_for_url(re.compile(r"/kiosk\?finished=1$"))
        page.goto(f"{base_url}/kiosk/specialties")
        expect(page.locator("#f-oms_policy")).to_be_visible()  # the patient is forgotten
