"""The pupil's money: amounts in kopecks, what a purchase may be, the daily limit's day.

Amounts are whole kopecks everywhere (integers, never floats). A balance never goes
below zero, and the part held for a till's approved purchase is not spendable elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from infocity.core.i18n import N_

# The largest single amount a till or a top-up may carry (100,000 roubles): anything
# larger is a typing or device error, refused rather than counted.
MAX_AMOUNT = 10_000_000
# A balance's alert level until the representative sets one (100 roubles).
DEFAULT_LOW_BALANCE = 10_000
# An approved till authorization holds the amount this long for its purchase.
HOLD_TTL = timedelta(minutes=5)

CATEGORIES = ("hot_meal", "bakery", "sweets", "drinks", "fruit", "snacks")
CATEGORY_LABELS = {
    "hot_meal": N_("Hot meals"),
    "bakery": N_("Bakery"),
    "sweets": N_("Sweets"),
    "drinks": N_("Drinks"),
    "fruit": N_("Fruit"),
    "snacks": N_("Snacks"),
}


class EntryKind(StrEnum):
    TOP_UP = "top_up"
    PURCHASE = "purchase"
    REFUND = "refund"


ENTRY_LABELS = {
    EntryKind.TOP_UP: N_("Top-up"),
    EntryKind.PURCHASE: N_("Purchase"),
    EntryKind.REFUND: N_("Refund"),
}


class HoldState(StrEnum):
    HELD = "held"
    USED = "used"  # the purchase that followed took it
    EXPIRED = "expired"  # not used in time: the amount is spendable again


class TopUpPeriod(StrEnum):
    """How often an automatic top-up may be asked for: at most once per period."""

    DAY = "day"
    WEEK = "week"  # Monday to Sunday
    MONTH = "month"


TOP_UP_PERIOD_LABELS = {
    TopUpPeriod.DAY: N_("Once a day at most"),
    TopUpPeriod.WEEK: N_("Once a week at most"),
    TopUpPeriod.MONTH: N_("Once a month at most"),
}


def period_start(day: date, period: TopUpPeriod) -> date:
    """The first city day of the period ``day`` falls in: the key of "once per period"."""
    if period is TopUpPeriod.WEEK:
        return day - timedelta(days=day.weekday())
    if period is TopUpPeriod.MONTH:
        return day.replace(day=1)
    return day


class AutoTopUpState(StrEnum):
    PENDING = "pending"  # asked of the parent's bank; the money has not arrived
    SETTLED = "settled"  # a top-up with the request's reference arrived


# The one transition: a pending request is settled by the top-up carrying its reference.
AUTO_TOP_UP_TRANSITIONS = {AutoTopUpState.PENDING: AutoTopUpState.SETTLED}


class Decline(StrEnum):
    """Why a till's purchase is declined."""

    BALANCE = "balance"
    LIMIT = "limit"
    BANNED = "banned"
    BLOCKED = "blocked"


DECLINE_LABELS = {
    Decline.BALANCE: N_("Not enough money on the card."),
    Decline.LIMIT: N_("The daily spending limit is reached."),
    Decline.BANNED: N_("A banned category of food."),
    Decline.BLOCKED: N_("The card is blocked."),
}


@dataclass(frozen=True)
class Item:
    name: str
    category: str
    price: int  # kopecks


def banned_items(items: Iterable[Item], banned: Iterable[str]) -> list[Item]:
    """The items of a purchase that fall in a banned category."""
    refused = set(banned)
    return [item for item in items if item.category in refused]


def spending_refusal(
    balance: int, held: int, daily_limit: int | None, spent_today: int, amount: int
) -> Decline | None:
    """Why ``amount`` may not be set aside or spent now, or None: the money first, then
    the daily limit (what is spent today and held counts against it)."""
    if balance - held < amount:
        return Decline.BALANCE
    if daily_limit is not None and spent_today + held + amount > daily_limit:
        return Decline.LIMIT
    return None


def crossed_low(balance_before: int, balance_after: int, level: int) -> bool:
    """A debit took the balance from at or above ``level`` to below it."""
    return balance_before >= level > balance_after
