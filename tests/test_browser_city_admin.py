"""The city's administrators at work in a real browser, on a desktop and a phone, in
Russian and English: the city administrator corrects a staff member's name and then
deactivates the account, each after checking it, and reads both in the audit log in
words; a registrar gives a citizen's application to a colleague picked by name in the
back office. Playwright drives Debian's Chromium against the app served by a real server
process."""

from __future__ import annotations

from typing import Any

import pytest

from infocity.core.auth import Role
from tests.builders import PASSWORD, make_organisation, make_staff
from tests.conftest import shared_server
from tests.health_builders import make_clinic
from tests.portal_builders import attached_patient, clinic_application
from tests.support.browser import (
    ARTIFACTS,
    ON_EVERY_SCREEN,
    fits_the_screen,
    log_in,
    new_page,
    on_screen,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@ON_EVERY_SCREEN
def test_city_admin_corrects_and_deactivates_a_staff_account_and_reads_it_in_the_log(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    clinic = make_organisation("clinic", name="Городская поликлиника №3")
    registrar = make_staff(Role.REGISTRAR, clinic.id, display_name="Регистратор Лидия")
    admin = make_staff(Role.CITY_ADMIN, display_name="Админ Города")
    width = viewport["width"]

    ARTIFACTS.mkdir(exist_ok=True)
    page, desk = new_page(chromium, viewport), new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(desk, base_url, registrar.identifier, PASSWORD)
            desk.goto(f"{base_url}/staff")
            assert "/login" not in desk.url
            log_in(page, base_url, admin.identifier, PASSWORD)

            page.goto(f"{base_url}/admin/staff")
            fits_the_screen(page, width)
            # Organisations are offered by name and kind in words, not by the kind's code.
            offered = page.locator("#f-organisation_id").inner_text()
            assert "Городская поликлиника №3 (поликлиника)" in offered
            assert "(clinic)" not in offered
            row = page.locator("main tbody tr", has_text="Регистратор Лидия")
            on_screen(row.get_by_role("link", name="Регистратор Лидия"), width)
            assert "Регистратор поликлиники" in row.inner_text()
            row.get_by_role("link", name="Регистратор Лидия").click()

            # The new name is shown for checking; only the confirmation saves it.
            page.fill("#f-display_name", "Регистратор Лидия Петровна")
            page.get_by_role("button", name="Проверить изменения").click()
            assert "Проверьте изменения и подтвердите их" in page.locator("main").inner_text()
            assert page.locator("h1").inner_text() == "Регистратор Лидия"
            fits_the_screen(page, width)
            page.get_by_role("button", name="Подтвердить изменения").click()
            assert "Учётная запись сотрудника сохранена" in page.locator("main").inner_text()
            assert page.locator("h1").inner_text() == "Регистратор Лидия Петровна"

            # Deactivating asks first, then stops the registrar's open session at once.
            page.get_by_role("link", name="Отключить учётную запись").click()
            assert "не сможет войти" in page.locator("main").inner_text()
            fits_the_screen(page, width)
            page.get_by_role("button", name="Подтвердить").click()
            assert "Учётная запись отключена" in page.locator("main").inner_text()
            assert "отключена: вход невозможен" in page.locator("main").inner_text()
            desk.goto(f"{base_url}/staff")
            assert "/login" in desk.url

            page.goto(f"{base_url}/admin/audit")
            fits_the_screen(page, width)
            log = page.locator("main tbody")
            deactivated = log.locator("tr", has_text="Отключил(а) учётную запись сотрудника")
            assert "Админ Города" in deactivated.inner_text()
            assert "Регистратор Лидия Петровна" in deactivated.inner_text()
            changed = log.locator("tr", has_text="Изменил(а) имя или контакты сотрудника")
            assert "ФИО" in changed.inner_text()
            assert "staff." not in log.inner_text()
            assert f"user {registrar.id}" not in log.inner_text()
            page.screenshot(path=str(ARTIFACTS / f"admin-audit-{width}.png"), full_page=True)

            page.goto(f"{base_url}/lang/en?next=/admin/audit")
            log = page.locator("main tbody")
            assert "Deactivated a staff account" in log.inner_text()
            assert "full name" in log.inner_text()
            fits_the_screen(page, width)
            page.goto(f"{base_url}/admin/staff")
            offered = page.locator("#f-organisation_id").inner_text()
            assert "Городская поликлиника №3 (polyclinic)" in offered
            assert "Clinic registrar" in page.locator("main tbody").inner_text()
            page.get_by_role("link", name="Регистратор Лидия Петровна").click()
            assert "deactivated: cannot log in" in page.locator("main").inner_text()
            page.get_by_role("link", name="Reactivate the account").click()
            page.get_by_role("button", name="Confirm").click()
            assert "The account has been reactivated" in page.locator("main").inner_text()
            fits_the_screen(page, width)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "browser-city-admin-failure.png"), full_page=True)
        raise


@ON_EVERY_SCREEN
def test_registrar_gives_an_application_to_a_colleague_picked_by_name(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    old, new = make_clinic(), make_clinic()
    patient = attached_patient(old)
    registrar = make_staff("registrar", new.id, display_name="Сидорова Анна")
    make_staff("registrar", new.id, display_name="Кузнецов Иван")
    make_staff("registrar", old.id, display_name="Чужой Сотрудник")
    app = clinic_application(patient, new.id)
    width = viewport["width"]

    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(page, base_url, registrar.identifier, PASSWORD)
            page.goto(f"{base_url}/back-office")
            fits_the_screen(page, width)
            row = page.locator("main tbody tr").first
            assert "Подано" in row.inner_text()
            link = row.get_by_role("link", name="Смена прикрепления к поликлинике")
            on_screen(link, width)
            link.click()

            assert page.locator("h1").inner_text().startswith(f"Заявление № {app.id}")
            who = page.get_by_label("Кто рассматривает")
            names = who.locator("option").all_inner_texts()
            assert names == ["Я: Сидорова Анна", "Кузнецов Иван"]
            fits_the_screen(page, width)
            who.select_option(label="Кузнецов Иван")
            page.get_by_role("button", name="Взять на рассмотрение").click()
            facts = page.locator("dl.facts").inner_text()
            assert "На рассмотрении" in facts
            assert "Кузнецов Иван" in facts

            page.goto(f"{base_url}/back-office")
            fits_the_screen(page, width)
            row = page.locator("main tbody tr").first
            assert "Кузнецов Иван" in row.inner_text()
            assert "На рассмотрении" in row.inner_text()
            page.screenshot(path=str(ARTIFACTS / f"back-office-{width}.png"), full_page=True)

            page.goto(f"{base_url}/lang/en?next=/back-office/applications/{app.id}")
            facts = page.locator("dl.facts").inner_text()
            assert "In review" in facts
            assert "Кузнецов Иван" in facts
            assert page.get_by_label("Who handles it").count() == 1
            fits_the_screen(page, width)
            page.goto(f"{base_url}/back-office")
            assert "Applications queue" in page.locator("h1").inner_text()
            fits_the_screen(page, width)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "browser-back-office-failure.png"), full_page=True)
        raise
