"""The pure rules of school meals: the order cut-off and window, the day's subsidy share,
the order's one transitions table."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from infocity.cards.rules.meals import (
    ORDER_TRANSITIONS,
    OrderMove,
    OrderState,
    OrderWindow,
    first_orderable_day,
    order_cutoff,
    order_state_after,
    order_state_before,
    order_window,
    subsidy_share,
)

MOSCOW = ZoneInfo("Europe/Moscow")
DAY = date(2027, 3, 10)


def test_a_meal_is_ordered_until_ten_the_day_before_in_the_city() -> None:
    cutoff = order_cutoff(DAY, MOSCOW)
    assert cutoff == datetime(2027, 3, 9, 10, 0, tzinfo=MOSCOW)
    assert order_window(DAY, cutoff - timedelta(seconds=1), MOSCOW) is OrderWindow.OPEN
    assert order_window(DAY, cutoff, MOSCOW) is OrderWindow.CLOSED
    # The same moment told in UTC is judged by the city's clock.
    assert order_window(DAY, datetime(2027, 3, 9, 6, 59, tzinfo=ZoneInfo("UTC")), MOSCOW) == (
        OrderWindow.OPEN
    )
    assert order_window(DAY, datetime(2027, 3, 9, 7, 0, tzinfo=ZoneInfo("UTC")), MOSCOW) == (
        OrderWindow.CLOSED
    )
    assert order_window(DAY - timedelta(days=3), cutoff, MOSCOW) is OrderWindow.CLOSED
    assert order_window(date.min, cutoff, MOSCOW) is OrderWindow.CLOSED


def test_at_most_31_days_ahead_and_the_first_day_still_open() -> None:
    morning = datetime(2027, 3, 1, 9, 0, tzinfo=MOSCOW)
    assert order_window(date(2027, 4, 1), morning, MOSCOW) is OrderWindow.OPEN
    assert order_window(date(2027, 4, 2), morning, MOSCOW) is OrderWindow.TOO_FAR
    assert first_orderable_day(morning, MOSCOW) == date(2027, 3, 2)
    assert first_orderable_day(morning.replace(hour=10), MOSCOW) == date(2027, 3, 3)


def test_the_subsidy_pays_first_and_only_what_is_left_of_the_day() -> None:
    assert subsidy_share(12_000, 10_000, 0) == 10_000
    assert subsidy_share(3_000, 10_000, 0) == 3_000
    assert subsidy_share(3_000, 10_000, 8_500) == 1_500
    assert subsidy_share(3_000, 10_000, 10_000) == 0


def test_an_order_is_served_or_cancelled_only_while_paid() -> None:
    assert order_state_before(OrderMove.SERVE) is OrderState.PAID
    assert order_state_after(OrderMove.SERVE) is OrderState.SERVED
    assert order_state_after(OrderMove.CANCEL) is OrderState.CANCELLED
    assert all(state is OrderState.PAID for state, _move in ORDER_TRANSITIONS)
