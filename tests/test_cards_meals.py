"""School meals: staff publish a day's menu and grant subsidised meals; a parent orders
a day's meal ahead, paid at once within the balance rules and refunded when cancelled
before 10:00 the day before; the till reads today's orders and serves each once; at the
till the day's subsidy pays first and what is left of it is not carried to tomorrow."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.cards import service
from infocity.cards.models.cards import CardPupil
from infocity.cards.models.ledger import LedgerEntry
from infocity.cards.models.meals import MealOrder
from infocity.cards.schemas.events import AuthorizationAsk, ItemIn
from infocity.cards.schemas.ledger import Refund, SpendingRules
from infocity.cards.schemas.meals import MealOrderIn, MenuIn, SubsidyGrant
from infocity.core.clock import city_today, city_tz
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from tests.builders import api_token, bearer
from tests.cards_builders import (
    Device,
    enrolled_child,
    event,
    make_device,
    make_school,
    send,
    yesterday_at,
)
from tests.support.refusals import refusals_change_nothing

SOUP = ItemIn(name="Суп куриный", category="hot_meal", price=9_000)
BUN = ItemIn(name="Булочка", category="bakery", price=3_000)
JUICE = ItemIn(name="Сок", category="drinks", price=4_000)


def _snapshot() -> object:
    with UnitOfWork() as uow:
        balances = uow.session.execute(
            select(CardPupil.id, CardPupil.balance, CardPupil.held).order_by(CardPupil.id)
        ).all()
        entries = uow.session.scalar(select(func.count()).select_from(LedgerEntry))
        orders = uow.session.execute(
            select(MealOrder.id, MealOrder.state).order_by(MealOrder.id)
        ).all()
        return balances, entries, orders


unchanged = refusals_change_nothing(_snapshot)


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), city_tz())


def _serve(till: Device, event_id: str, uid: str, order_id: int, at: datetime) -> list[str]:
    """The till serves an ordered meal at ``at``; the codes of refused rows, or
    ["accepted"] / ["duplicate"]."""
    batch = service.record_device_events(
        till.identity,
        [event(event_id, "purchase", uid, at, order_id=order_id)],
        now=at,
    )
    if batch.accepted:
        return ["accepted"]
    if batch.duplicates:
        return ["duplicate"]
    return [r.code for r in batch.refused]


def test_a_parent_orders_a_meal_ahead_cancels_one_and_the_till_serves_the_other_once(
    database: str,
) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=30_000)
    till = make_device(school.id, "till")
    morning = _at(city_today(), 9, 0)  # before today's cut-off for tomorrow
    day = city_today() + timedelta(days=1)
    menu = service.publish_menu(
        school.staff.principal, school.id, day, MenuIn(items=[SOUP, BUN, JUICE])
    )
    soup, bun, juice = (item.id for item in menu.items)
    assert service.pupil_menu(parent.principal, pupil.id, day).items == menu.items
    with unchanged("forbidden"):
        service.publish_menu(parent.principal, school.id, day, MenuIn(items=[SOUP]))

    order = service.order_meal(
        parent.principal, pupil.id, MealOrderIn(day=day, items=[soup, bun]), now=morning
    )
    assert (order.amount, order.state) == (12_000, "paid")
    assert [i["name"] for i in order.items] == ["Суп куриный", "Булочка"]
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 18_000
    # Found by its reference: the top-up that filled the card was made at the real time,
    # which may be later in the day than this morning's order.
    ledger = service.list_ledger(parent.principal, pupil.id)
    paid = [(e.kind, e.amount) for e in ledger if e.reference == f"order:{order.id}"]
    assert paid == [("purchase", -12_000)]

    # The rules of the balance hold for an order as for a till.
    with unchanged("cards_not_enough_money"):
        service.order_meal(
            parent.principal, pupil.id, MealOrderIn(day=day, items=[soup, soup, bun]), now=morning
        )
    service.set_spending_rules(
        parent.principal, pupil.id, SpendingRules(banned_categories=["drinks"])
    )
    with unchanged("cards_banned_item"):
        service.order_meal(
            parent.principal, pupil.id, MealOrderIn(day=day, items=[juice]), now=morning
        )
    with unchanged("cards_menu_item_not_found"):
        service.order_meal(
            parent.principal,
            pupil.id,
            MealOrderIn(day=day + timedelta(days=1), items=[soup]),
            now=morning,
        )
    with unchanged("cards_order_too_far"):
        service.order_meal(
            parent.principal,
            pupil.id,
            MealOrderIn(day=day + timedelta(days=31), items=[soup]),
            now=morning,
        )
    with unchanged("cards_order_closed", "до 10:00"):
        service.order_meal(
            parent.principal,
            pupil.id,
            MealOrderIn(day=day, items=[bun]),
            now=morning.replace(hour=10),
        )

    # A second order is cancelled before the cut-off: the money comes back, once.
    extra = service.order_meal(
        parent.principal, pupil.id, MealOrderIn(day=day, items=[bun]), now=morning
    )
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 15_000
    cancelled = service.cancel_meal_order(parent.principal, pupil.id, extra.id, now=morning)
    assert cancelled.state == "cancelled"
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 18_000
    with unchanged("cards_order_state"):
        service.cancel_meal_order(parent.principal, pupil.id, extra.id, now=morning)
    with unchanged("cards_order_closed"):
        service.cancel_meal_order(
            parent.principal, pupil.id, order.id, now=morning.replace(hour=11)
        )

    # On the day the till reads the card's orders and serves the paid one, once.
    lunch = _at(day, 12, 30)
    ready = service.till_meal_orders(till.identity, pupil.uid, now=lunch)
    assert [(o.id, o.state) for o in ready] == [(order.id, "paid")]
    assert service.till_meal_orders(till.identity, pupil.uid, now=lunch - timedelta(days=1)) == []
    assert _serve(till, "srv-1", pupil.uid, order.id, lunch) == ["accepted"]
    assert _serve(till, "srv-1", pupil.uid, order.id, lunch) == ["duplicate"]
    assert _serve(till, "srv-2", pupil.uid, order.id, lunch) == ["cards_order_state"]
    assert _serve(till, "srv-3", pupil.uid, extra.id, lunch) == ["cards_order_state"]
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 18_000  # paid before
    assert [o.state for o in service.till_meal_orders(till.identity, pupil.uid, now=lunch)] == [
        "served"
    ]
    served = service.list_card_events(parent.principal, pupil.id, now=lunch)
    assert [(e.kind, e.amount) for e in served] == [("purchase", 12_000)]
    meals = service.pupil_meals(parent.principal, pupil.id, now=morning)
    assert [(o.id, o.state) for o in meals.orders] == [
        (order.id, "served"),
        (extra.id, "cancelled"),
    ]
    assert meals.first_orderable_day == day


def test_an_order_is_served_only_on_its_day_at_its_school(database: str) -> None:
    school, other_school = make_school(), make_school()
    parent, pupil = enrolled_child(school, balance=10_000)
    till, foreign_till = make_device(school.id, "till"), make_device(other_school.id, "till")
    day = city_today() + timedelta(days=2)
    (soup,) = service.publish_menu(
        school.staff.principal, school.id, day, MenuIn(items=[SOUP])
    ).items
    order = service.order_meal(parent.principal, pupil.id, MealOrderIn(day=day, items=[soup.id]))
    assert _serve(till, "early", pupil.uid, order.id, _at(day, 12) - timedelta(days=1)) == [
        "cards_order_not_found"
    ]
    assert _serve(foreign_till, "far", pupil.uid, order.id, _at(day, 12)) == [
        "cards_card_of_another_school"
    ]
    assert _serve(till, "on-time", pupil.uid, order.id, _at(day, 12)) == ["accepted"]


def test_the_subsidy_pays_first_and_is_not_carried_to_the_next_day(database: str) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=20_000)
    till = make_device(school.id, "till")
    today = city_today()
    grant = SubsidyGrant(daily_amount=10_000, starts=today - timedelta(days=1), ends=today)
    subsidy = service.grant_subsidy(school.staff.principal, school.id, pupil.id, grant)
    assert subsidy.daily_amount == 10_000
    with unchanged("cards_subsidy_overlaps"):
        service.grant_subsidy(school.staff.principal, school.id, pupil.id, grant)
    with unchanged("cards_subsidy_period"):
        service.grant_subsidy(
            school.staff.principal,
            school.id,
            pupil.id,
            SubsidyGrant(daily_amount=10_000, starts=today + timedelta(days=5), ends=today),
        )
    with unchanged("forbidden"):
        service.grant_subsidy(parent.principal, school.id, pupil.id, grant)

    # Yesterday: 3,000 of the 10,000 used; the 7,000 left is not carried over.
    assert send(till, event("y1", "purchase", pupil.uid, yesterday_at(12), amount=3_000)).accepted
    # Today: 12,000 — 10,000 from the subsidy, 2,000 from the balance; then 4,000 all paid.
    now = utcnow()
    assert send(till, event("t1", "purchase", pupil.uid, now, amount=12_000)).accepted
    assert send(till, event("t2", "purchase", pupil.uid, now, amount=4_000)).accepted
    ledger = service.list_ledger(parent.principal, pupil.id)
    assert [(e.amount, e.subsidy) for e in ledger if e.kind == "purchase"] == [
        (-4_000, 0),
        (-2_000, 10_000),
        (0, 3_000),
    ]
    mine = service.get_my_pupil(parent.principal, pupil.id)
    assert (mine.balance, mine.spent_today) == (14_000, 6_000)
    assert service.pupil_meals(parent.principal, pupil.id).subsidy_left_today == 0
    # A refund gives back what the balance paid, not the subsidy's part.
    (mixed,) = (
        e for e in service.list_card_events(parent.principal, pupil.id) if e.amount == 12_000
    )
    refund = service.refund_purchase(school.staff.principal, Refund(event_id=mixed.id))
    assert refund.amount == 2_000
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 16_000

    # Tomorrow has no subsidy: the till holds the whole sum; today's left nothing to hold.
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(
            daily_amount=5_000, starts=today + timedelta(days=1), ends=today + timedelta(days=1)
        ),
    )
    answer = service.authorize_purchase(
        till.identity,
        AuthorizationAsk(request_id="a1", uid=pupil.uid, amount=7_000, at=now + timedelta(days=1)),
    )
    assert answer.approved
    assert service.get_my_pupil(parent.principal, pupil.id).available == 14_000  # 2,000 held


def test_a_subsidised_pupil_with_no_money_is_approved_for_the_allowance(database: str) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school)
    till = make_device(school.id, "till")
    today = city_today()
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(daily_amount=10_000, starts=today, ends=today + timedelta(days=30)),
    )
    ask = AuthorizationAsk(request_id="free", uid=pupil.uid, amount=9_000)
    approved = service.authorize_purchase(till.identity, ask)
    assert approved.approved
    over = service.authorize_purchase(
        till.identity, AuthorizationAsk(request_id="more", uid=pupil.uid, amount=12_000)
    )
    assert (over.approved, over.reason) == (False, "balance")
    batch = send(
        till,
        event(
            "free-1",
            "purchase",
            pupil.uid,
            utcnow(),
            amount=9_000,
            authorization_id=approved.authorization_id,
        ),
    )
    assert batch.accepted == 1
    mine = service.get_my_pupil(parent.principal, pupil.id)
    assert (mine.balance, mine.available) == (0, 0)
    assert service.pupil_meals(parent.principal, pupil.id).subsidy_left_today == 1_000


def test_the_api_of_menus_orders_and_the_till(client: TestClient) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=20_000)
    till = make_device(school.id, "till")
    day = city_today() + timedelta(days=3)
    staff = bearer(api_token(client, school.staff.identifier, school.staff.password))
    menu_url = f"/api/v1/cards/schools/{school.id}/menus/{day.isoformat()}"
    items = [SOUP.model_dump(), BUN.model_dump()]
    published = client.put(menu_url, json={"items": items}, headers=staff)
    assert published.status_code == 200, published.text
    assert [i["name"] for i in published.json()["items"]] == ["Суп куриный", "Булочка"]
    assert client.get(menu_url, headers=staff).json() == published.json()
    bad = client.put(menu_url, json={"items": [dict(items[0], category="beer")]}, headers=staff)
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "cards_unknown_category")

    subsidy = client.post(
        f"/api/v1/cards/schools/{school.id}/pupils/{pupil.id}/subsidies",
        json={"daily_amount": 5_000, "starts": day.isoformat(), "ends": day.isoformat()},
        headers=staff,
    )
    assert subsidy.status_code == 201, subsidy.text

    mine = bearer(api_token(client, parent.identifier, parent.password))
    soup_id = published.json()["items"][0]["id"]
    ordered = client.post(
        f"/api/v1/cards/pupils/{pupil.id}/meal-orders",
        json={"day": day.isoformat(), "items": [soup_id]},
        headers=mine,
    )
    assert ordered.status_code == 201, ordered.text
    assert ordered.json()["amount"] == 9_000
    meals = client.get(f"/api/v1/cards/pupils/{pupil.id}/meals", headers=mine).json()
    assert [o["id"] for o in meals["orders"]] == [ordered.json()["id"]]

    orders_url = f"/api/v1/cards/devices/meal-orders/{pupil.uid}"
    assert client.get(orders_url, headers={"X-Device-Key": till.key}).json() == []  # not today
    assert client.get(orders_url).status_code == 401
    cancelled = client.post(
        f"/api/v1/cards/pupils/{pupil.id}/meal-orders/{ordered.json()['id']}/cancel",
        headers=mine,
    )
    assert cancelled.json()["state"] == "cancelled"
    assert client.get(f"/api/v1/cards/pupils/{pupil.id}", headers=mine).json()["balance"] == 20_000
