"""The district doctor first, in a real browser on a desktop and a phone, in both
languages: the registrar records a patient's district on their card, and the patient's
booking page then lists that district's doctor first, marked as theirs. Playwright drives
Debian's Chromium against the app served by a real server process."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

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


@ON_EVERY_SCREEN
def test_the_registrar_sets_the_district_and_its_doctor_comes_first(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    day = city_today() + timedelta(days=1)
    doctors = [make_practitioner(clinic.id, district=n) for n in (None, 3, 4)]
    for doctor in doctors:
        make_slots(doctor.id, day)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    registrar = make_staff("registrar", clinic.id)
    width = viewport["width"]

    ARTIFACTS.mkdir(exist_ok=True)
    with shared_server(database) as base_url:
        desk, citizen = new_page(chromium, viewport), new_page(chromium, viewport)
        log_in(desk, base_url, registrar.identifier, PASSWORD)
        desk.goto(f"{base_url}/registry/patients/{patient.person_id}?clinic={clinic.id}")
        expect(desk.locator("[data-district]")).to_have_text("не указан")
        fits_the_screen(desk, width)
        desk.select_option("#f-district", "4")
        desk.get_by_role("button", name="Сохранить участок").click()
        expect(desk.locator(".alert-ok")).to_contain_text("Участок пациента сохранён")
        expect(desk.locator("[data-district]")).to_have_text("№ 4")
        fits_the_screen(desk, width)
        desk.screenshot(path=str(ARTIFACTS / f"registry-district-{width}.png"))

        log_in(citizen, base_url, patient.identifier, PASSWORD)
        for lang, therapist, yours in (
            ("ru", "Терапевт", "ваш врач"),
            ("en", "Therapist", "your doctor"),
        ):
            citizen.goto(f"{base_url}/lang/{lang}?next=/")
            citizen.goto(f"{base_url}/health")
            citizen.get_by_role("link", name=therapist, exact=True).click()
            first = citizen.locator("li[data-doctor]").first
            expect(first).to_have_attribute("data-doctor", str(doctors[2].id))
            expect(first).to_contain_text(yours)
            fits_the_screen(citizen, width)
