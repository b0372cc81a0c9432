"""The pages of school meals: staff publish a day's menu with the form; a parent orders
from it on the child's page, sees the order and the subsidy, and cancels; in Russian
and in English."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi.testclient import TestClient

from infocity.cards import service
from infocity.cards.schemas.meals import SubsidyGrant
from infocity.core.clock import city_today
from tests.builders import logged_in
from tests.cards_builders import enrolled_child, make_school
from tests.support.forms import submit


def _text(page: httpx.Response) -> str:
    """The page's text with the non-breaking spaces of sums as plain ones."""
    return page.text.replace("\xa0", " ")


def test_staff_publish_a_menu_and_a_parent_orders_and_cancels_on_the_page(
    client: TestClient, browser: TestClient
) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=50_000)
    day = city_today() + timedelta(days=3)  # open whatever the hour
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(daily_amount=15_000, starts=city_today(), ends=day),
    )

    staff = logged_in(client, school.staff)
    menu_url = f"/cards/school/menu?school={school.id}&day={day.isoformat()}"
    page = staff.get(menu_url)
    assert page.status_code == 200
    form = {"school": school.id, "day": day.isoformat()}
    refused = submit(
        staff,
        page,
        "/cards/school/menu",
        {**form, "name_0": "Суп", "category_0": "hot_meal", "price_0": "девяносто"},
    )
    assert refused.status_code == 422
    assert 'value="Суп"' in refused.text  # the typed lines are kept
    published = submit(
        staff,
        page,
        "/cards/school/menu",
        {
            **form,
            "name_0": "Суп куриный",
            "category_0": "hot_meal",
            "price_0": "90",
            "name_1": "Компот",
            "category_1": "drinks",
            "price_1": "35,50",
        },
    )
    assert published.status_code == 303
    shown = staff.get(published.headers["location"])
    assert "Меню опубликовано" in shown.text
    assert 'value="Компот"' in shown.text
    assert 'value="35.5"' in shown.text

    home = logged_in(browser, parent)
    pupil_page = home.get(f"/cards/pupils/{pupil.id}?menu_day={day.isoformat()}")
    text = _text(pupil_page)
    assert "Льготное питание: 150,00" in text
    assert "Суп куриный" in text
    assert "Компот" in text
    soup, compote = (item.id for item in service.pupil_menu(parent.principal, pupil.id, day).items)
    ordered = submit(
        home,
        pupil_page,
        f"/cards/pupils/{pupil.id}/meal-orders",
        {"day": day.isoformat(), f"qty_{soup}": "2", f"qty_{compote}": "0"},
    )
    assert ordered.status_code == 303
    after = home.get(ordered.headers["location"])
    text = _text(after)
    assert "Питание заказано и оплачено" in text
    assert "Суп куриный, Суп куриный" in text
    assert "180,00" in text
    # The day's allowance pays first: 150 of the 180, the balance the other 30.
    assert "180,00 руб. · 150,00 руб. за счёт льготы" in text
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 47_000
    nothing = submit(home, after, f"/cards/pupils/{pupil.id}/meal-orders", {"day": day.isoformat()})
    assert nothing.status_code == 422

    (order,) = service.pupil_meals(parent.principal, pupil.id).orders
    cancelled = submit(home, after, f"/cards/pupils/{pupil.id}/meal-orders/{order.id}/cancel", {})
    assert "Заказ отменён" in home.get(cancelled.headers["location"]).text
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 50_000

    home.cookies.set("lang", "en")
    english = _text(home.get(f"/cards/pupils/{pupil.id}?menu_day={day.isoformat()}"))
    assert "Order a meal" in english
    assert "Subsidised meals: 150.00" in english
    assert "Cancelled" in english
    staff.cookies.set("lang", "en")
    assert "Publish the menu" in staff.get(menu_url).text


def test_the_menu_page_is_for_school_staff(client: TestClient) -> None:
    school = make_school()
    parent, _pupil = enrolled_child(school)
    page = logged_in(client, parent).get("/cards/school/menu")
    assert "Вы не работаете в школе" in page.text
