"""Darya orders her student's social card in a real browser and follows it to active: she
applies through the portal; the student office of her college approves the application
and issues the card with its UID (through its use cases: its pages are tested in
test_cards_social_validators.py); Darya sees each step, confirms she has the card, and a
validator accepts it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from infocity.cards import service
from infocity.cards.schemas.social import SocialCardIssue
from tests.builders import PASSWORD
from tests.cards_social_builders import (
    confirm,
    graduation_year,
    make_college,
    student,
    validator_key,
)
from tests.conftest import shared_server
from tests.support.browser import ARTIFACTS, DESKTOP, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]

UID = "04A1B2C3D4E5F6"


def test_a_student_orders_a_social_card_and_follows_it_to_active(
    database: str, chromium: Any
) -> None:
    college, darya = make_college("Колледж связи №54"), student()
    key = validator_key()
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, DESKTOP)
    with shared_server(database, 1) as base_url:
        log_in(page, base_url, darya.identifier, PASSWORD)
        page.goto(f"{base_url}/cards/social")
        page.get_by_role("link", name="Подать заявление на социальную карту").click()
        page.select_option("#f-organisation_id", str(college.id))
        page.fill("#f-student_number", "СБ-2024-0153")
        page.fill("#f-graduation_year", str(graduation_year()))
        page.get_by_role("button", name="Подать заявление").click()
        page.wait_for_url("**/applications/*")
        application_url = page.url
        application_id = application_url.split("?")[0].rstrip("/").rsplit("/", 1)[1]

        confirm(college, int(application_id))  # the student office approves
        page.goto(f"{base_url}/cards/social")
        assert "Заказана" in page.locator("main").inner_text()

        (card,) = service.list_my_social_cards(darya.principal)
        service.issue_social_card(college.office.principal, card.id, SocialCardIssue(uid=UID))

        page.goto(f"{base_url}/cards/social")
        card = page.locator("article.card").first
        assert "Готова к выдаче" in card.inner_text()
        card.get_by_role("button", name="Карта у меня: активировать").click()
        page.wait_for_load_state()
        shown = page.locator("main").inner_text()
        assert "Карта активна: валидаторы её принимают." in shown
        assert f"Карта № {UID} — Действует" in shown
        history = page.locator("ol.history").inner_text()
        assert history.count("\n") == 2  # ordered, issued, active
        page.screenshot(path=str(ARTIFACTS / "social-card-active.png"), full_page=True)

        answer = httpx.get(
            f"{base_url}/api/v1/cards/social/eligibility/{UID}", headers={"X-Device-Key": key}
        ).json()
        assert answer["eligible"] is True
