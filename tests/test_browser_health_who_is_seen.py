"""What a citizen and a registrar see of who is seen where, in a real browser at desktop
and phone sizes: a man is not offered the gynaecologist (and is told why if he opens
it), a woman is; a specialty the polyclinic has no doctor for is not shown; a registrar
is told that a patient is attached elsewhere before any time is shown."""

from __future__ import annotations

from typing import Any

import pytest

from infocity.accounts import service as accounts
from infocity.accounts.models import Person
from infocity.accounts.schemas import ProfileUpdate
from infocity.core.uow import UnitOfWork
from tests.builders import Account, make_staff
from tests.conftest import shared_server
from tests.health_builders import attach, make_clinic, make_patient, make_practitioner, make_slots
from tests.support.browser import ON_EVERY_SCREEN, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def patient(sex: str, clinic_id: int) -> Account:
    account = make_patient()
    accounts.update_profile(account.principal, ProfileUpdate(sex=sex))
    assert account.person_id is not None
    attach(account.person_id, clinic_id)
    return account


def tiles(page: Any) -> list[str]:
    return [" ".join(t.split()) for t in page.locator("main ul.tiles li a").all_inner_texts()]


@ON_EVERY_SCREEN
def test_a_citizen_is_offered_what_fits_and_told_why_not(
    database: str, chromium: Any, viewport: dict[str, int]
) -> None:
    clinic = make_clinic()
    make_slots(make_practitioner(clinic.id, "therapist").id)
    make_slots(make_practitioner(clinic.id, "obstetrician_gynaecologist").id)
    man, woman = patient("male", clinic.id), patient("female", clinic.id)
    elsewhere = patient("female", make_clinic().id)
    registrar = make_staff("registrar", clinic.id)
    with UnitOfWork() as uow:
        found = uow.session.get(Person, elsewhere.person_id)
        assert found is not None
        assert found.birth_date is not None
        policy, born = found.oms_policy, found.birth_date.isoformat()
    pages = [new_page(chromium, viewport) for _ in range(3)]
    english = new_page(chromium, viewport, locale="en-US")
    with shared_server(database) as base_url:
        his, hers, desk = pages
        log_in(his, base_url, man.identifier, man.password)
        his.goto(f"{base_url}/health")
        assert tiles(his) == ["Терапевт"]  # no gynaecologist; no surgeon: none works here
        his.goto(f"{base_url}/health/book?specialty=obstetrician_gynaecologist")
        assert his.get_by_role("alert").inner_text() == "Этот врач принимает только женщин."
        assert his.locator(".slot").count() == 0
        his.goto(f"{base_url}/health/book?specialty=surgeon")
        assert his.get_by_role("alert").inner_text() == (
            "В этой поликлинике нет врача этой специальности."
        )

        log_in(english, base_url, man.identifier, man.password)
        english.goto(f"{base_url}/health/book?specialty=obstetrician_gynaecologist")
        assert english.get_by_role("alert").inner_text() == "This doctor sees only women."

        log_in(hers, base_url, woman.identifier, woman.password)
        hers.goto(f"{base_url}/health")
        assert sorted(tiles(hers)) == ["Акушер-гинеколог", "Терапевт"]
        hers.get_by_role("link", name="Акушер-гинеколог").click()
        hers.locator("a.slot").first.wait_for()  # count() alone does not wait for the page
        assert hers.locator("a.slot").count() > 0

        log_in(desk, base_url, registrar.identifier, registrar.password)
        desk.goto(f"{base_url}/registry/patients?clinic={clinic.id}")
        desk.fill("input[name=oms_policy]", policy or "")
        desk.fill("input[name=birth_date]", born)
        desk.locator("main button[type=submit]").click()
        desk.wait_for_load_state()
        problem = desk.locator("[data-problem]")
        assert "не прикреплён к этой поликлинике" in problem.inner_text()
        assert tiles(desk) == []
