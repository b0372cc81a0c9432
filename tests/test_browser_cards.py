"""A parent, in a real browser, turns the school card service on for two children, adds
the grandmother, sets a daily limit and bans sweets; the till then declines a cake and
the turnstile lets the child in, and the parent sees both on the child's page."""

from __future__ import annotations

from typing import Any

import pytest

from infocity.cards import service
from infocity.cards.schemas.events import AuthorizationAsk, ItemIn
from infocity.core.db import utcnow
from tests.builders import make_citizen
from tests.cards_builders import event, issue, make_child, make_device, make_school, send
from tests.conftest import shared_server
from tests.support.browser import ARTIFACTS, DESKTOP, log_in, new_page

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_parent_activates_adds_a_grandmother_and_sees_the_declined_cake(
    database: str, chromium: Any
) -> None:
    school = make_school()
    parent = make_citizen(first_name="Ольга")
    masha = issue(school, make_child(parent, "Маша"))
    issue(school, make_child(parent, "Петя"))
    grandmother = make_citizen(first_name="Галина", last_name="Петрова")
    till, turnstile = make_device(school.id, "till"), make_device(school.id)
    ARTIFACTS.mkdir(exist_ok=True)
    page = new_page(chromium, DESKTOP)
    with shared_server(database, 1) as base_url:
        log_in(page, base_url, parent.identifier, parent.password)
        for _child in range(2):
            page.goto(f"{base_url}/cards")
            page.get_by_role("button", name="Подключить").click()
            page.get_by_text("Услуга подключена").wait_for()
        page.get_by_role("link", name="Маша").click()
        page.fill("#f-contact", grandmother.identifier)
        page.get_by_role("button", name="Добавить взрослого").click()
        page.get_by_text(f"{grandmother.principal.display_name} — Доверенный взрослый").wait_for()
        page.fill("#f-daily_limit", "300")
        page.get_by_label("Сладости").check()
        page.get_by_role("button", name="Сохранить правила").click()
        page.get_by_text("Лимит и запрещённые категории сохранены").wait_for()
        assert page.get_by_label("Сладости").is_checked()

        now = utcnow()
        declined = service.authorize_purchase(
            till.identity,
            AuthorizationAsk(
                request_id="cake",
                uid=masha.uid,
                amount=9_000,
                items=[ItemIn(name="Пирожное", category="sweets", price=9_000)],
            ),
        )
        assert (declined.approved, declined.reason) == (False, "banned")
        send(turnstile, event("in-1", "entry", masha.uid, now))
        page.reload()
        today = page.locator("#today + table")
        today.get_by_text("Вход в школу").wait_for()
        assert "Покупка отклонена: Запрещённая категория питания." in today.inner_text()
        page.screenshot(path=str(ARTIFACTS / "cards-parent-day.png"), full_page=True)
    assert [p.name.split()[1] for p in service.list_my_pupils(grandmother.principal)] == ["Маша"]
