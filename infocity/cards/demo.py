"""The demo city's school cards: the demo school issues a card to Anna's school-age
daughter, Anna activates the service and tops the card up, and the school's turnstile
and till report the day so far (through the service functions and the device ingest).
The school publishes its menus of the coming school days and grants the daughter a
subsidised lunch, so her lunch today and the lunch Anna orders ahead cost her balance
only what the allowance does not pay.

Call ``load_demo_cards()`` after ``infocity.demo.load_demo_city()``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from infocity.accounts import service as accounts
from infocity.accounts.schemas import DeviceKeyCreate
from infocity.cards import service
from infocity.cards.rules.meals import MAX_DAYS_AHEAD, first_orderable_day
from infocity.cards.schemas.cards import Activation, CardIssue
from infocity.cards.schemas.events import ItemIn
from infocity.cards.schemas.ledger import TopUp
from infocity.cards.schemas.meals import MealOrderIn, MenuIn, SubsidyGrant
from infocity.core.auth import SYSTEM, Principal
from infocity.core.clock import city_today, city_tz
from infocity.core.db import utcnow

DEMO_CARD_UID = "04A1DE00000001"
TOP_UP = 50_000  # kopecks: 500 roubles
LUNCH = (("Обед: суп, котлета с гречкой", "hot_meal", 15_000), ("Компот", "drinks", 2_000))
# The canteen's menu of each school day: the set lunch costs what the subsidised-meal
# allowance pays a day, the rest is bought with the card's balance.
SUBSIDY = 15_000  # kopecks a day
MENU = (
    ("Комплексный обед: суп, котлета с гречкой, компот", "hot_meal", SUBSIDY),
    ("Сырники со сметаной", "hot_meal", 9_500),
    ("Булочка с корицей", "bakery", 3_500),
    ("Сок яблочный", "drinks", 4_000),
    ("Яблоко", "fruit", 2_000),
)


def _today_at(hour: int, minute: int) -> datetime:
    """A moment of today in the city, but never later than now (devices may not report
    the future) nor before midnight (the page shows today)."""
    midnight = datetime.combine(city_today(), time(0), city_tz())
    planned = datetime.combine(city_today(), time(hour, minute), city_tz())
    return max(midnight, min(planned, utcnow()))


def _device(school_id: int, kind: str, name: str) -> accounts.DeviceIdentity:
    _read, key = accounts.register_device(
        SYSTEM, DeviceKeyCreate(organisation_id=school_id, kind=kind, name=name)
    )
    return accounts.authenticate_device(key)


def _school_days(first: date, last: date) -> list[date]:
    """Monday to Friday from ``first`` to ``last``."""
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [day for day in days if day.weekday() < 5]


def _load_menus(school_staff: Principal, school_id: int) -> list[date]:
    """The menus of the school days a parent may order for (and today's); their days."""
    today = city_today()
    days = _school_days(today, today + timedelta(days=MAX_DAYS_AHEAD))
    items = [ItemIn(name=name, category=category, price=price) for name, category, price in MENU]
    for day in days:
        service.publish_menu(school_staff, school_id, day, MenuIn(items=items))
    return days


def load_demo_cards(
    school_staff: Principal, parent: Principal, school_id: int, child_person_id: int
) -> None:
    """The card of the parent's child, activated, topped up, with a subsidised lunch,
    today's entry and lunch, and the lunch of the first day still open ordered ahead."""
    card = service.issue_card(
        school_staff, CardIssue(school_id=school_id, person_id=child_person_id, uid=DEMO_CARD_UID)
    )
    service.activate_card_service(parent, Activation(child_id=child_person_id))
    today = city_today()
    service.grant_subsidy(
        school_staff,
        school_id,
        card.pupil_id,
        SubsidyGrant(daily_amount=SUBSIDY, starts=today, ends=today + timedelta(days=300)),
    )
    menu_days = _load_menus(school_staff, school_id)
    # Paid in before school, so the ledger reads in the order of the day.
    service.top_up_card(
        parent,
        card.pupil_id,
        TopUp(amount=TOP_UP, reference="demo-top-up-1"),
        now=_today_at(7, 30),
    )
    turnstile = _device(school_id, "turnstile", "Турникет, главный вход")
    till = _device(school_id, "till", "Касса столовой")
    entry_at = _today_at(8, 12)
    service.record_device_events(
        turnstile,
        [
            {
                "event_id": "demo-entry-1",
                "kind": "entry",
                "uid": DEMO_CARD_UID,
                "at": entry_at.isoformat(),
            }
        ],
    )
    service.record_device_events(
        till,
        [
            {
                "event_id": "demo-lunch-1",
                "kind": "purchase",
                "uid": DEMO_CARD_UID,
                "at": max(entry_at, _today_at(12, 35)).isoformat(),
                "amount": sum(price for _name, _category, price in LUNCH),
                "items": [
                    {"name": name, "category": category, "price": price}
                    for name, category, price in LUNCH
                ],
            }
        ],
    )
    # Anna orders the set lunch and a bun for the first school day still open: the
    # allowance pays the lunch, the balance the bun.
    now = utcnow()
    open_day = first_orderable_day(now, city_tz())
    day = next(day for day in menu_days if day >= open_day)
    menu = service.pupil_menu(parent, card.pupil_id, day)
    lunch, _pancakes, bun = (item.id for item in menu.items[:3])
    service.order_meal(parent, card.pupil_id, MealOrderIn(day=day, items=[lunch, bun]), now=now)
