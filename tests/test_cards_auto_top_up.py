"""Automatic top-ups: a purchase taking the balance below the parent's trigger asks for
one top-up per period, however many purchases cross it (at once too, on PostgreSQL); the
payment carrying the request's reference settles it and is counted once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from infocity.cards import service
from infocity.cards.schemas.cards import AutoTopUpRule, TrustedAdultAdd
from infocity.cards.schemas.ledger import TopUp
from infocity.core.db import utcnow
from infocity.core.errors import AppError
from tests.builders import api_token, bearer, logged_in, make_citizen
from tests.cards_builders import enrolled_child, event, make_device, make_school, send
from tests.support.forms import form_token

TILLS = 6


def test_one_automatic_top_up_per_period_settled_by_its_payment(client: TestClient) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school, balance=10_000)
    grandmother = make_citizen(first_name="Галина")
    service.add_trusted_adult(
        parent.principal, pupil.id, TrustedAdultAdd(contact=grandmother.identifier)
    )
    with pytest.raises(AppError) as refused:
        service.set_auto_top_up(grandmother.principal, pupil.id, AutoTopUpRule(below=5_000))
    assert refused.value.code == "cards_right_refused"
    rule = AutoTopUpRule(below=5_000, amount=30_000, period="week")
    assert service.set_auto_top_up(parent.principal, pupil.id, rule).auto_top_up == rule

    till = make_device(school.id, "till")
    # One instant for the three purchases, so they fall in one week whatever today is
    # (seconds apart, they could straddle the city's Monday midnight).
    bought_at = utcnow() - timedelta(seconds=1)
    send(till, event("p1", "purchase", pupil.uid, bought_at, amount=4_000))
    assert service.get_my_pupil(parent.principal, pupil.id).auto_top_ups == []
    # Below the trigger twice in the week: one request.
    send(till, event("p2", "purchase", pupil.uid, bought_at, amount=2_000))
    send(till, event("p3", "purchase", pupil.uid, bought_at, amount=1_000))
    [asked] = service.get_my_pupil(parent.principal, pupil.id).auto_top_ups
    assert (asked.amount, asked.state) == (30_000, "pending")

    # The bank's payment arrives with the request's reference, twice: counted once.
    payment = TopUp(amount=asked.amount, reference=asked.reference)
    paid = service.top_up_card(parent.principal, pupil.id, payment)
    with pytest.raises(AppError) as again:
        service.top_up_card(parent.principal, pupil.id, payment)
    assert again.value.code == "cards_payment_counted"
    assert paid.balance == 3_000 + 30_000
    assert [r.state for r in paid.auto_top_ups] == ["settled"]

    # The pupil's page shows the request settled and takes a new rule; the API turns it off.
    browser = logged_in(client, parent)
    page = browser.get(f"/cards/pupils/{pupil.id}")
    assert "Автопополнение на 300,00" in page.text.replace("\xa0", " ")
    saved = browser.post(
        f"/cards/pupils/{pupil.id}/auto-top-up",
        data={
            "csrf_token": form_token(page),
            "auto_below": "80",
            "auto_amount": "500",
            "auto_period": "month",
        },
    )
    assert "Автопополнение сохранено" in saved.text
    rule = AutoTopUpRule(below=8_000, amount=50_000, period="month")
    assert service.get_my_pupil(parent.principal, pupil.id).auto_top_up == rule
    token = api_token(client, parent.identifier, parent.password)
    off = client.put(
        f"/api/v1/cards/pupils/{pupil.id}/auto-top-up", json={"below": None}, headers=bearer(token)
    )
    assert off.status_code == 200, off.text
    assert off.json()["auto_top_up"] is None


@pytest.mark.slow
def test_purchases_at_once_crossing_the_trigger_ask_once(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    school = make_school()
    parent, pupil = enrolled_child(school, balance=TILLS * 1_000)
    service.set_auto_top_up(
        parent.principal, pupil.id, AutoTopUpRule(below=TILLS * 1_000, period="day")
    )
    tills = [make_device(school.id, "till") for _ in range(TILLS)]
    barrier = threading.Barrier(TILLS)
    now = utcnow()

    def sell(index: int) -> None:
        barrier.wait()
        send(tills[index], event(f"s{index}", "purchase", pupil.uid, now, amount=1_000))

    threads = [threading.Thread(target=sell, args=(i,)) for i in range(TILLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    mine = service.get_my_pupil(parent.principal, pupil.id)
    assert mine.balance == 0
    assert [r.state for r in mine.auto_top_ups] == ["pending"]
