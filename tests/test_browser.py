"""A citizen in a real browser: register, log in, add a child, switch the language and
read the notification in the inbox. Playwright drives Debian's Chromium against the app
served by a real server process, with a real worker delivering the notification."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from infocity.accounts import service
from infocity.accounts.models import User
from infocity.accounts.schemas import ChildCreate
from infocity.core.auth import SYSTEM
from infocity.core.clock import city_today
from infocity.core.uow import UnitOfWork
from infocity.health import service as health
from infocity.health.schemas import BookingCreate
from infocity.housing import service as housing
from tests.builders import PASSWORD, make_citizen, verification_token
from tests.conftest import ROOT, shared_server
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots
from tests.housing_builders import link, make_apartment, make_operator, set_prices
from tests.support.browser import ARTIFACTS, ON_EVERY_SCREEN, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def browser_page(chromium: Any, viewport: dict[str, int]) -> Iterator[Any]:
    page = new_page(chromium, viewport)
    try:
        yield page
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
        raise


def run_worker_once(database: str) -> None:
    environment = {**os.environ, "INFOCITY_DATABASE_URL": database, "INFOCITY_ENVIRONMENT": "test"}
    subprocess.run(
        [sys.executable, "-m", "infocity", "worker", "--once"],
        env=environment,
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )


@ON_EVERY_SCREEN
def test_citizen_registers_adds_child_switches_language_and_reads_inbox(
    database: str, browser_page: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    page = browser_page
    with shared_server(database) as base_url:
        # Register (the page is in Russian by default).
        page.goto(f"{base_url}/register")
        assert page.locator("html").get_attribute("lang") == "ru"
        page.fill("#f-last_name", "Смирнова")
        page.fill("#f-first_name", "Ольга")
        page.fill("#f-email", "olga@example.org")
        page.fill("#f-password", "a-long-password-1")
        page.click("main button[type=submit]")

        # Log in.
        page.goto(f"{base_url}/login")
        page.fill("#f-identifier", "olga@example.org")
        page.fill("#f-password", "a-long-password-1")
        page.click("main button[type=submit]")

        # Confirm the e-mail with the link it received (read from the outbox).
        with UnitOfWork() as uow:
            user_id = uow.session.scalars(
                select(User.id).where(User.email == "olga@example.org")
            ).one()
        page.goto(f"{base_url}/verify/{verification_token(user_id)}")
        page.click("main button[type=submit]")
        page.goto(f"{base_url}/cabinet")
        assert page.locator("h1").inner_text() == "Личный кабинет"

        # A bad date of birth is refused with a message in Russian; nothing is added.
        child_form = page.locator("form[action='/cabinet/children']")
        child_form.locator("#f-child-last_name").fill("Смирнов")
        child_form.locator("#f-child-first_name").fill("Иван")
        child_form.locator("#f-child-birth_date").fill("2099-01-01")
        child_form.locator("button[type=submit]").click()
        expect(page.locator("[role=alert]").first).to_be_visible()

        # Add a child for real.
        child_form = page.locator("form[action='/cabinet/children']")
        child_form.locator("#f-child-last_name").fill("Смирнов")
        child_form.locator("#f-child-first_name").fill("Иван")
        child_form.locator("#f-child-birth_date").fill("2018-04-12")
        child_form.locator("button[type=submit]").click()
        expect(page.get_by_text("Смирнов Иван").first).to_be_visible()

        # The worker delivers the notification about the new family member.
        run_worker_once(database)

        # Switch to English; the choice sticks across pages.
        page.get_by_role("link", name="English").click()
        assert page.locator("html").get_attribute("lang") == "en"
        page.goto(f"{base_url}/inbox")
        assert page.locator("h1").inner_text() == "Notifications"

        # The notification (written in the language of the moment it was sent) is there,
        # unread; opening it marks it read.
        message_link = page.locator("main table a").first
        expect(message_link).to_be_visible()
        message_link.click()
        assert "Иван" in page.locator("main").inner_text()
        page.goto(f"{base_url}/inbox")
        assert page.locator("main .unread").count() == 0
        page.screenshot(path=str(tmp_path / "inbox.png"), full_page=True)


@ON_EVERY_SCREEN
def test_cabinet_shows_a_card_of_each_service_on_the_screen(
    database: str, browser_page: Any, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    booked = health.book_slot(patient.principal, BookingCreate(slot_id=make_slots(therapist.id)[0]))
    set_prices()
    apartment = make_apartment(make_operator())
    link(patient, apartment)
    housing.generate_bills(SYSTEM, housing.readings_window().period)

    page, width = browser_page, viewport["width"]
    with shared_server(database) as base_url:
        log_in(page, base_url, patient.identifier, PASSWORD)
        for lang, titles, empty in (
            (
                "ru",
                ["Заявления", "Предстоящие записи к врачу", "ЖКХ и коммунальные услуги"],
                "У вас пока нет заявлений.",
            ),
            ("en", ["Applications", "Upcoming appointments", "Housing and utilities"], None),
        ):
            page.goto(f"{base_url}/lang/{lang}?next=/my")
            page.goto(f"{base_url}/my")
            headings = page.locator("main section.cabinet-card h2").all_inner_texts()
            assert headings[:3] == titles
            if empty:
                assert page.locator("#card-applications .empty").inner_text() == empty
            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= width, f"/my is {scroll_width}px wide"
            for selector in (
                f"#card-health a[href='/health/appointments/{booked.id}']",
                f"#card-housing a[href='/housing/apartments/{apartment.id}']",
                "#card-housing a[href^='/housing/bills/']",
            ):
                link_box = page.locator(selector).first.bounding_box()
                assert link_box is not None, selector
                assert link_box["x"] >= 0
                assert link_box["x"] + link_box["width"] <= width
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"cabinet-{lang}-{width}.png"), full_page=True)
        page.locator(f"#card-housing a[href='/housing/apartments/{apartment.id}']").first.click()
        page.wait_for_url(f"**/housing/apartments/{apartment.id}")


@ON_EVERY_SCREEN
def test_parent_changes_and_removes_a_child(
    database: str, browser_page: Any, viewport: dict[str, int]
) -> None:
    page = browser_page
    parent = make_citizen()
    born = city_today() - timedelta(days=6 * 365)
    child = service.add_child(
        parent.principal, ChildCreate(last_name="Смирнов", first_name="Иван", birth_date=born)
    )
    with shared_server(database) as base_url:
        log_in(page, base_url, parent.identifier, parent.password)
        page.goto(f"{base_url}/cabinet")
        page.get_by_role("link", name="Изменить данные").click()
        assert page.locator("h1").inner_text() == "Изменить данные ребёнка"

        # Mistakes are marked at their fields, all at once; the entries stay.
        page.fill("#f-first_name", "")
        page.fill("#f-snils", "123")
        page.click("main button[type=submit]")
        expect(page.locator("#f-first_name-error")).to_be_visible()
        expect(page.locator("#f-snils-error")).to_be_visible()
        assert page.locator("#f-snils").input_value() == "123"

        page.fill("#f-first_name", "Илья")
        page.fill("#f-snils", "")
        page.select_option("#f-sex", "male")
        page.click("main button[type=submit]")
        expect(page.get_by_text("Данные ребёнка сохранены.")).to_be_visible()
        expect(page.get_by_text("Смирнов Илья").first).to_be_visible()

        # Removal asks first, then the child is gone from the family.
        page.get_by_role("link", name="Удалить из семьи").click()
        assert page.locator("h1").inner_text() == "Удаление ребёнка из семьи"
        fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert fits, viewport
        page.get_by_role("button", name="Удалить из моей семьи").click()
        expect(page.get_by_text("Ребёнок удалён из вашей семьи.")).to_be_visible()
        assert page.get_by_text("Смирнов Илья").count() == 0
    assert service.list_family(parent.principal) == []
    with UnitOfWork() as uow:
        assert service.person_by_id(uow.session, child.id) is not None
