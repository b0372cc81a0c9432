"""Tills selling and asking at the same moment never take a pupil's balance below zero
nor past the daily limit: the guarded updates decide, on PostgreSQL with real races."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from infocity.cards import service
from infocity.cards.schemas.events import AuthorizationAsk
from infocity.cards.schemas.ledger import SpendingRules
from infocity.core.db import utcnow
from tests.cards_builders import enrolled_child, event, make_device, make_school, send, top_up

TILLS = 8
MEAL = 7_000


@pytest.mark.slow
def test_tills_at_once_never_spend_more_than_there_is(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    school = make_school()
    parent, pupil = enrolled_child(school, balance=5 * MEAL)  # five meals' worth
    tills = [make_device(school.id, "till") for _ in range(TILLS)]
    barrier = threading.Barrier(TILLS)
    now = utcnow()
    sold: list[int] = [0] * TILLS

    def sell(index: int) -> None:
        barrier.wait()
        # Each till sells twice: once without asking, once through an approval.
        batch = send(
            tills[index],
            event(f"s{index}", "purchase", pupil.uid, now - timedelta(seconds=index), amount=MEAL),
        )
        sold[index] += batch.accepted
        answer = service.authorize_purchase(
            tills[index].identity,
            AuthorizationAsk(request_id=f"r{index}", uid=pupil.uid, amount=MEAL),
        )
        if answer.approved:
            batch = send(
                tills[index],
                event(
                    f"h{index}",
                    "purchase",
                    pupil.uid,
                    now,
                    amount=MEAL,
                    authorization_id=answer.authorization_id,
                ),
            )
            sold[index] += batch.accepted

    threads = [threading.Thread(target=sell, args=(i,)) for i in range(TILLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    mine = service.get_my_pupil(parent.principal, pupil.id)
    assert sum(sold) == 5
    assert (mine.balance, mine.available) == (0, 0)

    # The daily limit holds the same way: two more meals today, eight tills asking.
    top_up(parent, pupil.id, 10 * MEAL)
    service.set_spending_rules(parent.principal, pupil.id, SpendingRules(daily_limit=7 * MEAL))
    approved: list[bool] = [False] * TILLS

    def ask(index: int) -> None:
        barrier.wait()
        approved[index] = service.authorize_purchase(
            tills[index].identity,
            AuthorizationAsk(request_id=f"limit{index}", uid=pupil.uid, amount=MEAL),
        ).approved

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(TILLS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(approved) == 2
    assert service.get_my_pupil(parent.principal, pupil.id).available == 8 * MEAL
