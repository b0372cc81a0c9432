"""A parent, in a real browser, picks a day on the child's page, orders two soups from
the school's menu, sees the order paid beside the day's subsidy, and cancels it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from infocity.cards import service
from infocity.cards.schemas.events import ItemIn
from infocity.cards.schemas.meals import MenuIn, SubsidyGrant
from infocity.core.clock import city_today
from tests.cards_builders import enrolled_child, make_school
from tests.conftest import shared_server
from tests.support.browser import ARTIFACTS, DESKTOP, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_parent_orders_two_soups_and_cancels_them(database: str, chromium: Any) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=50_000)
    day = city_today() + timedelta(days=3)  # open whatever the hour
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(daily_amount=15_000, starts=city_today(), ends=day),
    )
    menu = service.publish_menu(
        school.staff.principal,
        school.id,
        day,
        MenuIn(
            items=[
                ItemIn(name="Суп куриный", category="hot_meal", price=9_000),
                ItemIn(name="Компот", category="drinks", price=3_000),
            ]
        ),
    )
    soup = menu.items[0].id
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, DESKTOP)
    with shared_server(database, 1) as base_url:
        log_in(page, base_url, parent.identifier, parent.password)
        page.goto(f"{base_url}/cards/pupils/{pupil.id}")
        expect(page.locator("p.subsidy")).to_contain_text("Льготное питание: 150,00")
        page.fill("#f-menu_day", day.isoformat())
        page.get_by_role("button", name="Показать меню").click()
        page.fill(f"#f-qty-{soup}", "2")
        page.get_by_role("button", name="Заказать и оплатить").click()
        expect(page.get_by_role("status")).to_contain_text("Питание заказано и оплачено")
        orders = page.locator("#meal-orders")
        expect(orders).to_contain_text("Суп куриный, Суп куриный")
        expect(orders).to_contain_text("Заказано и оплачено")
        expect(page.locator("#order-form")).to_contain_text("Компот")  # the day's menu again
        page.screenshot(path=str(ARTIFACTS / "cards-meal-order.png"), full_page=True)
        orders.get_by_role("button", name="Отменить заказ").click()
        expect(page.get_by_role("status")).to_contain_text("Заказ отменён")
        expect(page.locator("#meal-orders")).to_contain_text("Отменена")
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 50_000
