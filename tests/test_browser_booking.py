"""Booking as a citizen expects it, in a real browser on a desktop and on a phone, in both
languages: a doctor filter and a day picker that work without scripts, cancel and move
that ask first, one click from a referral to its booking, a calendar file and a print
button on the ticket. Playwright drives Debian's Chromium against a real server."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Slot
from infocity.health.schemas import BookingCreate
from tests.builders import PASSWORD, Account
from tests.conftest import shared_server
from tests.health_builders import (
    attach,
    city_today,
    make_clinic,
    make_patient,
    make_practitioner,
    make_referral,
    work_every_day,
)
from tests.support.browser import (
    ARTIFACTS,
    ON_EVERY_SCREEN,
    context_options,
    fits_the_screen,
    log_in,
    new_page,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DAYS = 5


@dataclass
class Polyclinic:
    clinic_id: int
    therapists: list[Any]
    anna: Account


@pytest.fixture
def polyclinic(database: str) -> Polyclinic:
    """Two therapists and a cardiologist working five mornings; Anna attached."""
    clinic = make_clinic()
    first, last = city_today() + timedelta(days=1), city_today() + timedelta(days=DAYS)
    therapists = [make_practitioner(clinic.id, "therapist") for _ in range(2)]
    for practitioner in [*therapists, make_practitioner(clinic.id, "cardiologist")]:
        work_every_day(practitioner.id, first, last, until=time(12, 0))
    service.materialise_slots(last)
    anna = make_patient()
    assert anna.person_id is not None
    attach(anna.person_id, clinic.id)
    return Polyclinic(clinic.id, therapists, anna)


def _language(page: Any, base_url: str, lang: str) -> None:
    page.goto(f"{base_url}/lang/{lang}?next=/")


@ON_EVERY_SCREEN
def test_a_doctor_and_a_day_are_chosen_with_plain_links(
    database: str, polyclinic: Polyclinic, chromium: Any, viewport: dict[str, int]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    width = viewport["width"]
    wanted = polyclinic.therapists[1]
    with shared_server(database) as base_url:
        # No scripts at all: every step is a link.
        context = chromium.new_context(**context_options(viewport), java_script_enabled=False)
        page = context.new_page()
        page.set_default_timeout(15_000)
        log_in(page, base_url, polyclinic.anna.identifier, PASSWORD)
        for lang, therapist, book in (
            ("ru", "Терапевт", "Записаться"),
            ("en", "Therapist", "Book"),
        ):
            _language(page, base_url, lang)
            page.goto(f"{base_url}/health")
            page.get_by_role("link", name=therapist, exact=True).click()
            page.locator("a.day-choice").first.wait_for()
            fits_the_screen(page, width)
            height = page.evaluate("document.documentElement.scrollHeight")
            assert height < 6_000, f"the time choice is {height}px high"
            assert page.locator("a.day-choice").count() == DAYS
            page.get_by_role("link", name=wanted.name, exact=True).click()
            page.locator("a.day-choice").nth(2).click()
            assert (
                page.locator("a.day-choice[aria-current]").inner_text()
                == page.locator("a.day-choice").nth(2).inner_text()
            )
            times = page.locator("a.slot")
            assert times.count() == 12  # one doctor's one morning
            assert wanted.name in times.first.get_attribute("aria-label")
            page.screenshot(path=str(ARTIFACTS / f"booking-picker-{lang}-{width}.png"))
            times.nth(3).click()
            assert wanted.name in page.locator("main").inner_text()
            expect(page.get_by_role("button", name=book, exact=True)).to_be_visible()


@ON_EVERY_SCREEN
def test_cancel_and_move_ask_first(
    database: str, polyclinic: Polyclinic, chromium: Any, viewport: dict[str, int]
) -> None:
    width = viewport["width"]
    with shared_server(database) as base_url:
        page = new_page(chromium, viewport)
        log_in(page, base_url, polyclinic.anna.identifier, PASSWORD)
        for lang, words in (
            ("ru", ("Перенести", "Перенести на новое время", "Запись перенесена",
                    "Отменить", "Да, отменить запись", "Запись отменена")),
            ("en", ("Move", "Move to the new time", "The appointment has been moved",
                    "Cancel", "Yes, cancel the appointment", "The appointment has been cancelled")),
        ):  # fmt: skip
            move, move_yes, moved, cancel, cancel_yes, cancelled = words
            slot_id = _free_slot(polyclinic)
            service.book_slot(polyclinic.anna.principal, BookingCreate(slot_id=slot_id))
            _language(page, base_url, lang)
            page.goto(f"{base_url}/health/appointments")
            row = page.locator("main table").first.locator("tbody tr")
            row.get_by_role("link", name=move, exact=True).click()
            page.locator("a.slot").last.click()
            page.wait_for_url(re.compile(r"/reschedule/confirm\?slot=\d+$"))
            fits_the_screen(page, width)
            old = page.locator(".side-by-side time").first.get_attribute("datetime")
            new = page.locator(".new-time time").get_attribute("datetime")
            assert old != new
            page.get_by_role("button", name=move_yes).click()
            assert moved in page.locator("main").inner_text()
            new_time = page.locator(".ticket time").first.get_attribute("datetime")
            assert new_time == new

            page.goto(f"{base_url}/health/appointments")
            page.locator("main table").first.locator("tbody tr").get_by_role(
                "link", name=cancel
            ).click()
            fits_the_screen(page, width)
            assert new_time in page.locator(".card time").first.get_attribute("datetime")
            page.get_by_role("button", name=cancel_yes).click()
            assert cancelled in page.locator("main").inner_text()


def _free_slot(polyclinic: Polyclinic) -> int:
    with UnitOfWork() as uow:
        found = uow.session.scalar(
            select(Slot.id)
            .where(
                Slot.practitioner_id == polyclinic.therapists[0].id,
                Slot.status == "free",
            )
            .order_by(Slot.starts_at)
            .limit(1)
        )
    assert found is not None
    return found


@ON_EVERY_SCREEN
def test_a_referral_books_in_one_click(
    database: str, polyclinic: Polyclinic, chromium: Any, viewport: dict[str, int]
) -> None:
    assert polyclinic.anna.person_id is not None
    referral = make_referral(polyclinic.anna.person_id, polyclinic.clinic_id)
    width = viewport["width"]
    with shared_server(database) as base_url:
        page = new_page(chromium, viewport)
        log_in(page, base_url, polyclinic.anna.identifier, PASSWORD)
        for lang, by_referral, heading in (
            ("ru", "Записаться по направлению", "Кардиолог"),
            ("en", "Book by this referral", "Cardiologist"),
        ):
            _language(page, base_url, lang)
            page.goto(f"{base_url}/health/appointments")
            fits_the_screen(page, width)
            link = page.get_by_role("link", name=by_referral)
            box = link.bounding_box()
            assert box is not None
            assert box["x"] + box["width"] <= width
            link.click()
            assert heading in page.locator("h1").inner_text()
            assert f"referral={referral.id}" in page.url
            page.locator("a.slot").first.click()
            assert page.locator("input[name=referral_id]").get_attribute("value") == str(
                referral.id
            )


@ON_EVERY_SCREEN
def test_the_ticket_goes_to_the_calendar_and_to_the_printer(
    database: str, polyclinic: Polyclinic, chromium: Any, viewport: dict[str, int]
) -> None:
    appointment = service.book_slot(
        polyclinic.anna.principal, BookingCreate(slot_id=_free_slot(polyclinic))
    )
    width = viewport["width"]
    with shared_server(database) as base_url:
        page = new_page(chromium, viewport)
        page.add_init_script(
            "window.print = () => { window.__printed = (window.__printed || 0) + 1; };"
        )
        log_in(page, base_url, polyclinic.anna.identifier, PASSWORD)
        for lang, add, print_it in (
            ("ru", "Добавить в календарь", "Распечатать талон"),
            ("en", "Add to calendar", "Print the ticket"),
        ):
            _language(page, base_url, lang)
            page.goto(f"{base_url}/health/appointments/{appointment.id}")
            fits_the_screen(page, width)
            assert "Ctrl+P" not in page.locator("main").inner_text()
            with page.expect_download() as info:
                page.get_by_role("link", name=add).click()
            download = info.value
            assert download.suggested_filename.endswith(".ics")
            text = download.path().read_bytes().decode()
            assert re.search(r"^BEGIN:VEVENT\r$", text, re.M)
            assert f"UID:appointment-{appointment.id}@" in text
            before = page.evaluate("window.__printed || 0")
            page.get_by_role("button", name=print_it).click()
            assert page.evaluate("window.__printed") == before + 1
