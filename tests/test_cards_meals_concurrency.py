"""School meals under real races on PostgreSQL: orders at once for the last of the
balance buy one meal; tills serving one order at once serve it once; tills at once
never take more of a day's subsidy than it grants."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import TypeVar

import pytest

from infocity.cards import service
from infocity.cards.schemas.events import ItemIn
from infocity.cards.schemas.meals import MealOrderIn, MenuIn, SubsidyGrant
from infocity.core.clock import city_today, city_tz
from infocity.core.db import utcnow
from infocity.core.errors import AppError
from tests.cards_builders import enrolled_child, event, make_device, make_school, send

RACERS = 8
T = TypeVar("T")
SOUP = ItemIn(name="Суп", category="hot_meal", price=9_000)


def _race(act: Callable[[int], T]) -> list[T | str]:
    """``act(i)`` in RACERS threads released at once; each one's result or refusal code."""
    barrier = threading.Barrier(RACERS)
    results: list[T | str] = [""] * RACERS

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = act(index)
        except AppError as refusal:
            results[index] = refusal.code

    threads = [threading.Thread(target=run, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.slow
def test_orders_and_servings_at_once_pay_once_and_serve_once(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    school = make_school()
    parent, pupil = enrolled_child(school, balance=SOUP.price)  # the last meal's worth
    tills = [make_device(school.id, "till") for _ in range(RACERS)]
    day = city_today() + timedelta(days=1)
    morning = datetime.combine(city_today(), time(9, 0), city_tz())
    (soup,) = service.publish_menu(
        school.staff.principal, school.id, day, MenuIn(items=[SOUP])
    ).items

    orders = _race(
        lambda _i: service.order_meal(
            parent.principal, pupil.id, MealOrderIn(day=day, items=[soup.id]), now=morning
        )
    )
    paid = [o for o in orders if not isinstance(o, str)]
    assert len(paid) == 1
    assert sorted(o for o in orders if isinstance(o, str)) == ["cards_not_enough_money"] * 7
    mine = service.get_my_pupil(parent.principal, pupil.id)
    assert (mine.balance, mine.available) == (0, 0)

    (order,) = service.pupil_meals(parent.principal, pupil.id, now=morning).orders
    lunch = datetime.combine(day, time(12, 0), city_tz())
    batches = _race(
        lambda i: service.record_device_events(
            tills[i].identity,
            [event(f"serve-{i}", "purchase", pupil.uid, lunch, order_id=order.id)],
            now=lunch,
        )
    )
    accepted = [b for b in batches if not isinstance(b, str) and b.accepted]
    assert len(accepted) == 1
    (served,) = service.till_meal_orders(tills[0].identity, pupil.uid, now=lunch)
    assert served.state == "served"
    day_events = service.list_card_events(parent.principal, pupil.id, now=lunch)
    assert [(e.kind, e.amount) for e in day_events] == [("purchase", SOUP.price)]


@pytest.mark.slow
def test_tills_at_once_take_no_more_of_the_day_subsidy_than_granted(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    school = make_school()
    parent, pupil = enrolled_child(school)  # nothing on the card: the subsidy alone pays
    tills = [make_device(school.id, "till") for _ in range(RACERS)]
    today = city_today()
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(daily_amount=10_000, starts=today, ends=today),
    )
    now = utcnow()
    batches = _race(
        lambda i: send(tills[i], event(f"meal-{i}", "purchase", pupil.uid, now, amount=4_000))
    )
    accepted = sum(b.accepted for b in batches if not isinstance(b, str))
    assert accepted == 2  # 8,000 of 10,000; a third would need 2,000 from an empty balance
    ledger = service.list_ledger(parent.principal, pupil.id)
    assert sorted(e.subsidy for e in ledger) == [4_000, 4_000]
    assert service.pupil_meals(parent.principal, pupil.id).subsidy_left_today == 2_000
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 0
