"""School meals: the day's menu, subsidised meals (an allowance per day, never carried
to the next) and pre-orders from the menu, with their cut-off and their one transitions
table."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from infocity.core.i18n import N_

# A day's meal is ordered (or cancelled) until 10:00 of the day before, city time.
ORDER_CUTOFF = time(10, 0)
# And at most this many days ahead: a month of menus.
MAX_DAYS_AHEAD = 31
# A day's menu and one order stay short: a canteen's board, a child's tray.
MAX_MENU_ITEMS = 40
MAX_ORDER_ITEMS = 10
# A subsidy is granted for a school year at most.
MAX_SUBSIDY_DAYS = 366


class OrderState(StrEnum):
    PAID = "paid"  # ordered and paid from the balance: the canteen prepares it
    SERVED = "served"  # the till served it (once)
    CANCELLED = "cancelled"  # cancelled before the cut-off: the money is back


class SubsidyChangeKind(StrEnum):
    """What the representatives are told of an allowance."""

    GRANTED = "granted"
    REVOKED = "revoked"


class OrderMove(StrEnum):
    SERVE = "serve"
    CANCEL = "cancel"


# Which state may follow which. Any move absent here is refused.
ORDER_TRANSITIONS: dict[tuple[OrderState, OrderMove], OrderState] = {
    (OrderState.PAID, OrderMove.SERVE): OrderState.SERVED,
    (OrderState.PAID, OrderMove.CANCEL): OrderState.CANCELLED,
}

ORDER_STATE_LABELS = {
    OrderState.PAID: N_("Ordered and paid"),
    OrderState.SERVED: N_("Served"),
    OrderState.CANCELLED: N_("Cancelled"),
}


def order_state_before(move: OrderMove) -> OrderState:
    """The one state an order may be in for ``move`` (the guard of its UPDATE)."""
    (before,) = {state for (state, step) in ORDER_TRANSITIONS if step == move}
    return before


def order_state_after(move: OrderMove) -> OrderState:
    """Where ``move`` leads."""
    (after,) = {target for (_s, step), target in ORDER_TRANSITIONS.items() if step == move}
    return after


def order_cutoff(day: date, tz: tzinfo) -> datetime:
    """The last moment a meal of ``day`` may be ordered or cancelled: 10:00 the day
    before, in the city's time zone ``tz``."""
    return datetime.combine(day - timedelta(days=1), ORDER_CUTOFF, tz)


class OrderWindow(StrEnum):
    OPEN = "open"
    CLOSED = "closed"  # the cut-off has passed (or the day is past)
    TOO_FAR = "too_far"  # more than MAX_DAYS_AHEAD ahead


def order_window(day: date, now: datetime, tz: tzinfo) -> OrderWindow:
    """Whether a meal of ``day`` may be ordered or cancelled at ``now``."""
    today = now.astimezone(tz).date()
    if day <= today or now >= order_cutoff(day, tz):
        return OrderWindow.CLOSED
    if day > today + timedelta(days=MAX_DAYS_AHEAD):
        return OrderWindow.TOO_FAR
    return OrderWindow.OPEN


def first_orderable_day(now: datetime, tz: tzinfo) -> date:
    """The nearest day whose meal may still be ordered at ``now``."""
    day = now.astimezone(tz).date() + timedelta(days=1)
    while order_window(day, now, tz) is not OrderWindow.OPEN:
        day += timedelta(days=1)
    return day


def subsidy_share(amount: int, allowance: int, used: int) -> int:
    """What the day's subsidy pays of a purchase of ``amount``: first, up to what is left
    of the day's ``allowance`` (nothing carried from another day)."""
    return max(0, min(amount, allowance - used))
