"""A school's staff member, in a real browser, finds a child in the register and issues a
card, blocks it when it is lost and re-issues a new one; on a phone, in English, she finds
the pupil in the school's list by name."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.builders import make_citizen
from tests.cards_builders import make_child, make_school, new_uid
from tests.conftest import shared_server
from tests.support.browser import ARTIFACTS, DESKTOP, PHONE, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_staff_issue_block_and_reissue_a_card_then_find_the_pupil_on_a_phone(
    database: str, chromium: Any
) -> None:
    school = make_school()
    make_child(make_citizen(), "Оля")  # Иванова Оля, born on 1 March 2015
    first, second = new_uid(), new_uid()
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, DESKTOP)
    with shared_server(database, 1) as base_url:
        log_in(page, base_url, school.staff.identifier, school.staff.password)
        page.goto(f"{base_url}/cards/school")
        expect(page.get_by_text("Ни у одного ученика школы ещё нет карты.")).to_be_visible()
        page.fill("#f-last_name", "Иванова")
        page.fill("#f-birth_date", "2015-03-01")
        page.get_by_role("button", name="Найти в регистре").click()
        found = page.locator("#found li", has_text="Иванова Оля")
        found.get_by_label("UID карты").fill(first)
        found.get_by_role("button", name="Выдать карту").click()
        expect(page.get_by_text("Карта выдана:")).to_be_visible()
        expect(page.locator("#cards")).to_contain_text(first)

        page.get_by_role("button", name="Заблокировать: карта потеряна").click()
        expect(page.get_by_text("Карта заблокирована: турникеты и кассы")).to_be_visible()
        page.get_by_label("UID новой карты").fill(second)
        page.get_by_role("button", name="Перевыпустить").click()
        expect(page.get_by_text("Новая карта выдана;")).to_be_visible()
        expect(page.locator("#cards tbody tr").first).to_contain_text(second)
        expect(page.locator("#history")).to_contain_text("Новая карта выдана взамен старой")
        page.screenshot(path=str(ARTIFACTS / "cards-school-pupil.png"), full_page=True)

        phone = new_page(chromium, PHONE, locale="en-US")
        log_in(phone, base_url, school.staff.identifier, school.staff.password)
        phone.goto(f"{base_url}/cards/school")
        phone.get_by_label("Name or card UID").fill("оля")
        phone.get_by_role("button", name="Find", exact=True).click()
        row = phone.locator("#pupils tbody tr", has_text="Иванова Оля")
        expect(row).to_contain_text(second)
        expect(row).to_contain_text("Active")
        phone.screenshot(path=str(ARTIFACTS / "cards-school-phone-en.png"), full_page=True)
