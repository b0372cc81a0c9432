"""The polyclinic's staff at work in a real browser, on a desktop and a phone: the clinic
administrator opens a doctor's post and sees what an absence cancels at the top of the
page before applying it; the registrar finds a patient by surname, prints the ticket and
cancels with a reason; the doctor sees the referrals they issued and their home visits.
Playwright drives Debian's Chromium against the app served by a real server process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from infocity.health import service as health
from infocity.health.schemas import (
    BookingCreate,
    HomeVisitCreate,
    HomeVisitUpdate,
    ReferralCreate,
)
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
from tests.support.browser import ARTIFACTS, ON_EVERY_SCREEN, fits_the_screen, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _in_view(page: Any, selector: str) -> None:
    """The element is in the first screen the browser shows after the form was sent."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    assert box["y"] < page.viewport_size["height"], f"{selector} starts at {box['y']}px"


@ON_EVERY_SCREEN
def test_clinic_admin_opens_a_post_and_previews_an_absence_at_the_top(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    doctor = make_staff("doctor", clinic.id, display_name="Смирнова Ольга")
    admin_account = make_staff("clinic_admin", clinic.id)
    therapist = make_practitioner(clinic.id, "therapist")
    for _ in range(8):  # a page as long as a real polyclinic's
        make_practitioner(clinic.id, "surgeon")
    day = city_today() + timedelta(days=1)
    slots = make_slots(therapist.id, day)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    health.book_slot(patient.principal, BookingCreate(slot_id=slots[0]))

    ARTIFACTS.mkdir(exist_ok=True)
    admin = new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(admin, base_url, admin_account.identifier, PASSWORD)
            admin.goto(f"{base_url}/clinic-admin")
            fits_the_screen(admin, viewport["width"])

            # A doctor's post for the account the city administrator created.
            admin.select_option("#f-post-user_id", str(doctor.id))
            admin.select_option("#f-post-specialty_code", "otolaryngologist")
            admin.fill("#f-post-room", "301")
            admin.get_by_role("button", name="Открыть должность").click()
            assert "Должность врача открыта" in admin.locator("main").inner_text()
            post = admin.locator("section.card", has_text="Смирнова Ольга")
            assert "Оториноларинголог" in post.inner_text()

            # A sick leave over the booked time: the preview opens the page.
            admin.select_option("#f-ex-practitioner_id", str(therapist.id))
            admin.select_option("#f-ex-kind", "sick_leave")
            admin.fill("#f-ex-date_from", day.isoformat())
            admin.fill("#f-ex-date_to", day.isoformat())
            admin.locator("#exception-h ~ form button[value=preview]").click()
            admin.locator("#pending").wait_for()
            _in_view(admin, "#pending")
            assert admin.locator("#pending .affected li").count() == 1
            fits_the_screen(admin, viewport["width"])
            admin.screenshot(path=str(ARTIFACTS / "clinic-admin-preview.png"))
            admin.locator("#pending button[value=apply]").click()
            notice = admin.locator(".alert-ok").inner_text()
            assert "Отменено записей: 1" in notice
            assert "Больничный" in admin.locator("main").inner_text()
    except Exception:
        admin.screenshot(path=str(ARTIFACTS / "browser-clinic-admin-failure.png"), full_page=True)
        raise


@ON_EVERY_SCREEN
def test_clinic_admin_changes_and_deletes_a_weekly_schedule_after_seeing_its_preview(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    admin_account = make_staff("clinic_admin", clinic.id)
    therapist = make_practitioner(clinic.id, "therapist")
    for _ in range(8):  # a page as long as a real polyclinic's
        make_practitioner(clinic.id, "surgeon")
    day = city_today() + timedelta(days=1)
    slots = make_slots(therapist.id, day)  # 09:00–10:00, one rule
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    health.book_slot(patient.principal, BookingCreate(slot_id=slots[-1]))  # 09:45
    width = viewport["width"]

    ARTIFACTS.mkdir(exist_ok=True)
    admin = new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(admin, base_url, admin_account.identifier, PASSWORD)
            admin.goto(f"{base_url}/clinic-admin")
            doctor = admin.locator(f"section[aria-labelledby=p-{therapist.id}]")
            doctor.get_by_role("link", name="Изменить").click()
            admin.locator("#edit-rule").wait_for()
            _in_view(admin, "#edit-rule")
            fits_the_screen(admin, width)

            # Shortened to end at 09:30: the preview names the 09:45 appointment it cancels.
            admin.fill("#f-edit-end_time", "09:30")
            admin.locator("#edit-rule button[value=preview]").click()
            _in_view(admin, "#pending")
            assert "Проверьте изменение расписания" in admin.locator("#pending").inner_text()
            assert admin.locator("#pending .affected li").count() == 1
            fits_the_screen(admin, width)
            admin.locator("#pending button[value=apply]").click()
            assert "Отменено записей: 1" in admin.locator(".alert-ok").inner_text()
            doctor = admin.locator(f"section[aria-labelledby=p-{therapist.id}]")
            assert "09:00–09:30" in doctor.locator("tbody").inner_text()

            # Deleting it is previewed too; nothing booked is left to cancel.
            doctor.get_by_role("button", name="Удалить…").click()
            _in_view(admin, "#pending")
            pending = admin.locator("#pending").inner_text()
            assert "Проверьте удаление расписания" in pending
            assert "Ни одна запись не затронута" in pending
            admin.locator("#pending button[value=apply]").click()
            assert "Ни одна запись не затронута" in admin.locator(".alert-ok").inner_text()
            doctor = admin.locator(f"section[aria-labelledby=p-{therapist.id}]")
            assert "Недельного расписания нет" in doctor.inner_text()
            fits_the_screen(admin, width)

            admin.goto(f"{base_url}/lang/en?next=/clinic-admin")
            doctor = admin.locator(f"section[aria-labelledby=p-{therapist.id}]")
            assert "No weekly schedule" in doctor.inner_text()
            assert admin.get_by_role("heading", name="Add a weekly schedule").count() == 1
            fits_the_screen(admin, width)
    except Exception:
        admin.screenshot(path=str(ARTIFACTS / "browser-schedule-failure.png"), full_page=True)
        raise


@ON_EVERY_SCREEN
def test_registrar_finds_by_surname_prints_the_ticket_and_cancels_with_a_reason(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    registrar = make_staff("registrar", clinic.id)
    therapist = make_practitioner(clinic.id, "therapist")
    day = city_today() + timedelta(days=1)
    make_slots(therapist.id, day)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)

    ARTIFACTS.mkdir(exist_ok=True)
    desk = new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(desk, base_url, registrar.identifier, PASSWORD)
            desk.goto(f"{base_url}/registry/patients?clinic={clinic.id}")
            desk.fill("#f-last_name", "Иванова")
            desk.fill("#f-birth_date", "1980-05-17")
            desk.get_by_role("button", name="Найти").click()
            assert desk.locator("h1").inner_text() == "Иванова Анна"

            desk.get_by_role("link", name="Терапевт").click()
            desk.locator("button.slot").first.click()
            ticket = desk.locator("article.ticket")
            assert "Пациент записан" in desk.locator("main").inner_text()
            assert "Иванова Анна" in ticket.inner_text()
            # The print button: hidden without a script, shown by print.js once it runs.
            desk.locator("#print-ticket").wait_for(state="visible")
            fits_the_screen(desk, viewport["width"])
            desk.screenshot(path=str(ARTIFACTS / "registry-ticket.png"))

            desk.get_by_role("link", name="Иванова Анна").click()
            desk.locator("a[href*='/cancel?']").first.click()
            assert desk.locator("h1").inner_text() == "Отменить запись?"
            fits_the_screen(desk, viewport["width"])
            desk.get_by_role("button", name="Отменить запись").click()
            assert "Укажите причину отмены" in desk.locator("main").inner_text()
            desk.fill("#f-reason", "Врач на учёбе")
            desk.get_by_role("button", name="Отменить запись").click()
            assert "Запись отменена" in desk.locator("main").inner_text()
            assert "Предстоящих записей нет" in desk.locator("main").inner_text()
    except Exception:
        desk.screenshot(path=str(ARTIFACTS / "browser-registry-failure.png"), full_page=True)
        raise


@ON_EVERY_SCREEN
def test_doctor_sees_the_referrals_issued_and_home_visits_assigned(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    doctor = make_staff("doctor", clinic.id, display_name="Смирнова Ольга")
    post = make_practitioner(clinic.id, "therapist", user_id=doctor.id)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    health.issue_referral(
        doctor.principal,
        clinic.id,
        ReferralCreate(person_id=patient.person_id, specialty_code="cardiologist"),
    )
    visit = health.request_home_visit(
        patient.principal,
        HomeVisitCreate(address="ул. Ленина, 1, кв. 5", reason="Температура 38,5",
                        contact_phone="+79990001122"),
    )  # fmt: skip
    registrar = make_staff("registrar", clinic.id)
    health.update_home_visit(registrar.principal, visit.id, HomeVisitUpdate(status="accepted"))
    health.update_home_visit(
        registrar.principal, visit.id, HomeVisitUpdate(status="assigned", practitioner_id=post.id)
    )

    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, viewport)
    try:
        with shared_server(database) as base_url:
            log_in(page, base_url, doctor.identifier, PASSWORD)
            page.goto(f"{base_url}/doctor")
            visits = page.locator("section[aria-labelledby=visits-h]")
            assert "ул. Ленина, 1, кв. 5" in visits.inner_text()
            assert "Иванова Анна" in visits.inner_text()
            referrals = page.locator("section[aria-labelledby=referrals-h]")
            assert "Кардиолог" in referrals.inner_text()
            assert "Действует" in referrals.inner_text()
            fits_the_screen(page, viewport["width"])
            page.screenshot(path=str(ARTIFACTS / "doctor-lists.png"), full_page=True)
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "browser-doctor-failure.png"), full_page=True)
        raise
