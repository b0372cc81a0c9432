"""What turnstiles and tills report, and which of it a representative is told."""

from __future__ import annotations

from enum import StrEnum

from infocity.core.i18n import N_


class EventKind(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"
    PURCHASE = "purchase"
    DECLINED = "declined"  # a till's authorization refused
    LOW_BALANCE = "low_balance"  # the balance fell below the representative's level


# What devices send; the other kinds the city records itself.
DEVICE_KINDS = (EventKind.ENTRY, EventKind.EXIT, EventKind.PURCHASE)

EVENT_LABELS = {
    EventKind.ENTRY: N_("Entered the school"),
    EventKind.EXIT: N_("Left the school"),
    EventKind.PURCHASE: N_("Canteen purchase"),
    EventKind.DECLINED: N_("Purchase declined"),
    EventKind.LOW_BALANCE: N_("Low balance"),
}


class Topic(StrEnum):
    """What a representative chooses to be told of."""

    PASSES = "passes"  # entries and exits
    PURCHASES = "purchases"  # purchases and declined ones
    LOW_BALANCE = "low_balance"
    DIGEST = "digest"  # one message a day


TOPIC_OF: dict[EventKind, Topic] = {
    EventKind.ENTRY: Topic.PASSES,
    EventKind.EXIT: Topic.PASSES,
    EventKind.PURCHASE: Topic.PURCHASES,
    EventKind.DECLINED: Topic.PURCHASES,
    EventKind.LOW_BALANCE: Topic.LOW_BALANCE,
}

CHANNELS = ("inbox", "email", "sms")

# A batch from one device: a turnstile buffers a few minutes of passes at most.
MAX_BATCH = 500
