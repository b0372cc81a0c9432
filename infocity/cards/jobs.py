"""Periodic jobs of cards (run by ``infocity worker``); thin: each calls the service."""

from __future__ import annotations

import time
from datetime import timedelta

from infocity.cards import service
from infocity.core.auth import SYSTEM
from infocity.core.jobs import periodic

FAN_OUT_SECONDS = 2.0


@periodic("cards.social_stop_list", every=timedelta(hours=1))
def social_stop_list() -> int:
    """Export the day's signed stop-list of blocked social cards (once per city day: the
    hourly runs after the first return the one written); the number of UIDs."""
    return service.export_social_stop_list(SYSTEM).uid_count


# A short lease: a worker killed mid-run holds the job no longer than this before another
# takes it up (the default ten minutes would leave parents untold all that time). Two runs
# overlapping are safe: batches are locked and skipped, and a notice is unique.
@periodic("cards.fan_out", every=timedelta(seconds=1), lease=timedelta(seconds=15))
def fan_out() -> int:
    """Tell representatives of new card events: batches until none wait, for at most
    ``FAN_OUT_SECONDS`` so that deliveries and other jobs take their turn; the number
    of events. Every second: a parent hears of an entry within seconds at the morning peak."""
    events = 0
    deadline = time.monotonic() + FAN_OUT_SECONDS
    while time.monotonic() < deadline:
        batch = service.fan_out_card_events(SYSTEM)
        events += batch
        if not batch:
            break
    return events


# As the card events' fan-out: a short lease, and a run cut short tells no one twice.
@periodic("cards.subsidy_notices", every=timedelta(seconds=10), lease=timedelta(seconds=15))
def subsidy_notices() -> int:
    """Tell representatives of subsidised meals granted or revoked: batches until none
    wait, for at most ``FAN_OUT_SECONDS``; the number of changes told of. A school grants
    and revokes a few a day, so every ten seconds is soon enough."""
    changes = 0
    deadline = time.monotonic() + FAN_OUT_SECONDS
    while time.monotonic() < deadline:
        batch = service.fan_out_subsidy_changes(SYSTEM)
        changes += batch
        if not batch:
            break
    return changes


@periodic("cards.expire_holds", every=timedelta(minutes=1))
def expire_holds() -> int:
    """Give back the sums of till approvals no purchase used in time."""
    return service.expire_holds(SYSTEM)


@periodic("cards.daily_digest", every=timedelta(hours=1))
def daily_digest() -> int:
    """Send yesterday's digests to the representatives who chose them (hourly: the runs
    after the first that day find them sent)."""
    return service.send_daily_digests(SYSTEM)
