"""Subsidised meals ordered ahead and revoked: a subsidised pupil's meal ordered ahead is
paid by that day's allowance (once a day: a second order of the day pays from the
balance); staff revoke an allowance from tomorrow, the days already eaten stay as they
were, and meals ordered for the days after lose the allowance (cancelled, what the
balance paid returned)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.cards import service
from infocity.cards.models.cards import CardPupil
from infocity.cards.models.ledger import LedgerEntry
from infocity.cards.models.meals import MealOrder, Subsidy
from infocity.cards.schemas.events import AuthorizationAsk, ItemIn
from infocity.cards.schemas.meals import MealOrderIn, MenuIn, SubsidyGrant
from infocity.core.clock import city_today, city_tz
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from tests.builders import api_token, bearer, logged_in
from tests.cards_builders import enrolled_child, event, make_device, make_school, send, yesterday_at
from tests.support.forms import form_token
from tests.support.refusals import refusals_change_nothing

LUNCH = ItemIn(name="Обед: суп, котлета, компот", category="hot_meal", price=15_000)
BUN = ItemIn(name="Булочка", category="bakery", price=3_000)


def _snapshot() -> object:
    with UnitOfWork() as uow:
        session = uow.session
        return (
            session.execute(select(CardPupil.id, CardPupil.balance).order_by(CardPupil.id)).all(),
            session.scalar(select(func.count()).select_from(LedgerEntry)),
            session.execute(select(MealOrder.id, MealOrder.state).order_by(MealOrder.id)).all(),
            session.execute(select(Subsidy.id, Subsidy.revoked_from).order_by(Subsidy.id)).all(),
        )


unchanged = refusals_change_nothing(_snapshot)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), city_tz())


def test_a_subsidised_pupils_ordered_meal_costs_nothing_once_a_day(database: str) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=30_000)
    today = city_today()
    morning = _at(today, 9)  # before the cut-off of tomorrow's orders
    tomorrow, after = today + timedelta(days=1), today + timedelta(days=2)
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(daily_amount=15_000, starts=today, ends=today + timedelta(days=30)),
    )
    ids = {}
    for day in (tomorrow, after):
        menu = service.publish_menu(
            school.staff.principal, school.id, day, MenuIn(items=[LUNCH, BUN])
        )
        ids[day] = [item.id for item in menu.items]

    def order(day: date, *items: int) -> tuple[int, int, int]:
        placed = service.order_meal(
            parent.principal, pupil.id, MealOrderIn(day=day, items=list(items)), now=morning
        )
        balance = service.get_my_pupil(parent.principal, pupil.id).balance
        return placed.id, placed.subsidy, balance

    lunch, bun = ids[tomorrow]
    free_id, free_subsidy, balance = order(tomorrow, lunch)
    assert (free_subsidy, balance) == (15_000, 30_000)  # the allowance paid it all
    ledger = service.list_ledger(parent.principal, pupil.id)
    assert [(e.amount, e.subsidy) for e in ledger if e.reference == f"order:{free_id}"] == [
        (0, 15_000)
    ]
    # Once a day: the second lunch of the same day is paid from the balance.
    _second, second_subsidy, balance = order(tomorrow, lunch)
    assert (second_subsidy, balance) == (0, 15_000)
    # The next day has its own allowance; what an order exceeds it by comes from the balance.
    lunch_after, bun_after = ids[after]
    _next, next_subsidy, balance = order(after, lunch_after, bun_after)
    assert (next_subsidy, balance) == (15_000, 12_000)

    # Cancelling the free lunch returns no money (none was taken) and frees the allowance.
    cancelled = service.cancel_meal_order(parent.principal, pupil.id, free_id, now=morning)
    assert cancelled.state == "cancelled"
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 12_000
    _bun, bun_subsidy, balance = order(tomorrow, bun)
    assert (bun_subsidy, balance) == (3_000, 12_000)
    # At the till tomorrow the allowance has 12,000 left for what is bought there.
    till = make_device(school.id, "till")
    ask = AuthorizationAsk(
        request_id="tomorrow", uid=pupil.uid, amount=12_000, at=_at(tomorrow, 12)
    )
    assert service.authorize_purchase(till.identity, ask).approved
    assert service.get_my_pupil(parent.principal, pupil.id).available == 12_000  # none held


def test_staff_revoke_a_subsidy_from_tomorrow_and_what_was_eaten_stays(database: str) -> None:
    school, other_school = make_school(), make_school()
    parent, pupil = enrolled_child(school, balance=30_000)
    till = make_device(school.id, "till")
    today = city_today()
    morning = _at(today, 9)
    tomorrow, after = today + timedelta(days=1), today + timedelta(days=2)
    subsidy = service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(
            daily_amount=10_000, starts=today - timedelta(days=1), ends=today + timedelta(days=30)
        ),
    )
    assert send(till, event("y1", "purchase", pupil.uid, yesterday_at(12), amount=3_000)).accepted
    assert send(till, event("t1", "purchase", pupil.uid, utcnow(), amount=4_000)).accepted
    menu = service.publish_menu(school.staff.principal, school.id, after, MenuIn(items=[LUNCH]))
    ordered = service.order_meal(
        parent.principal, pupil.id, MealOrderIn(day=after, items=[menu.items[0].id]), now=morning
    )
    assert (ordered.subsidy, ordered.amount) == (10_000, 15_000)
    assert service.get_my_pupil(parent.principal, pupil.id).balance == 25_000
    eaten = [(e.amount, e.subsidy) for e in service.list_ledger(parent.principal, pupil.id)]

    with unchanged("forbidden"):
        service.revoke_subsidy(parent.principal, school.id, subsidy.id, now=morning)
    with unchanged("forbidden"):
        service.revoke_subsidy(other_school.staff.principal, school.id, subsidy.id, now=morning)
    with unchanged("cards_subsidy_not_found"):
        service.revoke_subsidy(
            other_school.staff.principal, other_school.id, subsidy.id, now=morning
        )
    revoked = service.revoke_subsidy(school.staff.principal, school.id, subsidy.id, now=morning)
    assert revoked.revoked_from == tomorrow
    with unchanged("cards_subsidy_ended"):
        service.revoke_subsidy(school.staff.principal, school.id, subsidy.id, now=morning)

    # Nothing eaten changes, and today's allowance still pays today.
    mine = service.get_my_pupil(parent.principal, pupil.id)
    meals = service.pupil_meals(parent.principal, pupil.id, now=morning)
    assert meals.subsidy_left_today == 6_000
    # The meal ordered for after tomorrow lost the allowance: cancelled, its 5,000 back.
    assert [(o.id, o.state) for o in meals.orders] == [(ordered.id, "cancelled")]
    assert mine.balance == 30_000
    ledger = service.list_ledger(parent.principal, pupil.id)
    refund = f"order-refund:{ordered.id}"
    assert sorted((e.amount, e.subsidy) for e in ledger if e.reference != refund) == sorted(eaten)
    assert [(e.kind, e.amount) for e in ledger if e.reference == refund] == [("refund", 5_000)]
    # From tomorrow the till holds the whole sum, and an order pays it all.
    ask = AuthorizationAsk(request_id="t", uid=pupil.uid, amount=7_000, at=_at(tomorrow, 12))
    assert service.authorize_purchase(till.identity, ask).approved
    assert service.get_my_pupil(parent.principal, pupil.id).available == 23_000
    again = service.order_meal(
        parent.principal, pupil.id, MealOrderIn(day=after, items=[menu.items[0].id]), now=morning
    )
    assert again.subsidy == 0
    assert service.pupil_meals(parent.principal, pupil.id, now=_at(tomorrow, 9)).subsidy is None
    # The history says who revoked it; a new allowance may start tomorrow.
    history = service.card_history(school.staff.principal, pupil.id)
    assert "subsidy_revoke" in [h.action for h in history]
    service.grant_subsidy(
        school.staff.principal,
        school.id,
        pupil.id,
        SubsidyGrant(daily_amount=5_000, starts=tomorrow, ends=tomorrow + timedelta(days=7)),
    )


def test_staff_list_and_revoke_subsidies_through_the_api(client: TestClient) -> None:
    school = make_school()
    _parent, pupil = enrolled_child(school)
    staff = bearer(api_token(client, school.staff.identifier, school.staff.password))
    today = city_today()
    url = f"/api/v1/cards/schools/{school.id}/pupils/{pupil.id}/subsidies"
    granted = client.post(
        url,
        json={"daily_amount": 12_000, "starts": today.isoformat(), "ends": today.isoformat()},
        headers=staff,
    )
    assert granted.status_code == 201, granted.text
    subsidy_id = granted.json()["id"]
    revoke = f"/api/v1/cards/schools/{school.id}/subsidies/{subsidy_id}/revoke"
    # An allowance of today alone has no day left to revoke.
    ended = client.post(revoke, headers=staff)
    assert (ended.status_code, ended.json()["error"]["code"]) == (409, "cards_subsidy_ended")
    longer = client.post(
        url,
        json={
            "daily_amount": 12_000,
            "starts": (today + timedelta(days=1)).isoformat(),
            "ends": (today + timedelta(days=9)).isoformat(),
        },
        headers=staff,
    ).json()
    answer = client.post(
        f"/api/v1/cards/schools/{school.id}/subsidies/{longer['id']}/revoke", headers=staff
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["revoked_from"] == (today + timedelta(days=1)).isoformat()
    listed = client.get(url, headers=staff).json()
    assert [(s["id"], s["revoked_from"]) for s in listed] == [
        (longer["id"], (today + timedelta(days=1)).isoformat()),
        (subsidy_id, None),
    ]
    missing = client.post(
        f"/api/v1/cards/schools/{school.id}/subsidies/999999/revoke", headers=staff
    )
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        404,
        "cards_subsidy_not_found",
    )


def test_staff_grant_and_revoke_subsidised_meals_on_the_pupils_page(
    database: str, client: TestClient
) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school)
    logged_in(client, school.staff)
    url = f"/cards/school/pupils/{pupil.id}"
    page = client.get(url)
    assert "Льготного питания нет." in page.text
    today = city_today()
    fields = {
        "school_id": str(school.id),
        "daily_amount": "150",
        "starts": today.isoformat(),
        "ends": (today + timedelta(days=30)).isoformat(),
    }
    refused = client.post(
        f"{url}/subsidies",
        data={
            **fields,
            "ends": (today - timedelta(days=1)).isoformat(),
            "csrf_token": form_token(page),
        },
    )
    assert refused.status_code == 422
    assert "не более" in refused.text  # the period's rule, the form kept
    assert service.school_pupil_subsidies(school.staff.principal, school.id, pupil.id) == []
    granted = client.post(
        f"{url}/subsidies", data={**fields, "csrf_token": form_token(page)}, follow_redirects=True
    )
    assert granted.status_code == 200
    assert "Льготное питание назначено." in granted.text
    assert "150,00" in granted.text
    (subsidy,) = service.school_pupil_subsidies(school.staff.principal, school.id, pupil.id)
    assert subsidy.daily_amount == 15_000
    revoked = client.post(
        f"{url}/subsidies/{subsidy.id}/revoke",
        data={"school_id": str(school.id), "csrf_token": form_token(granted)},
        follow_redirects=True,
    )
    assert revoked.status_code == 200
    assert "Отменено с" in revoked.text
    again = client.post(
        f"{url}/subsidies/{subsidy.id}/revoke",
        data={"school_id": str(school.id), "csrf_token": form_token(revoked)},
    )
    assert again.status_code == 409
    assert "уже закончилась или отменена" in again.text
    # The parent's page still shows today's allowance: it stops tomorrow.
    assert service.pupil_meals(parent.principal, pupil.id).subsidy_left_today == 15_000
