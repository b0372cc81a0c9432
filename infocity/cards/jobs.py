"""Periodic jobs of cards (run by ``infocity worker``); thin: each calls the service."""

from __future__ import annotations

from datetime import timedelta

from infocity.cards import service
from infocity.cards.service.notices import FAN_OUT_BATCH
from infocity.core.auth import SYSTEM
from infocity.core.jobs import periodic


@periodic("cards.social_stop_list", every=timedelta(hours=1))
def social_stop_list() -> int:
    """Export the day's signed stop-list of blocked social cards (once per city day: the
    hourly runs after the first return the one written); the number of UIDs."""
    return service.export_social_stop_list(SYSTEM).uid_count


# Prompt: run beside the long jobs, and again at once while a batch comes back full (the
# morning peak), so a parent hears of an entry within seconds. A short lease: a worker
# killed mid-run holds the job no longer than this before another takes it up (the default
# ten minutes would leave parents untold all that time). Two runs overlapping are safe:
# batches are locked and skipped, and a notice is unique.
@periodic(
    "cards.fan_out",
    every=timedelta(seconds=1),
    lease=timedelta(seconds=15),
    prompt=True,
    batch=FAN_OUT_BATCH,
)
def fan_out() -> int:
    """Tell representatives of up to ``FAN_OUT_BATCH`` new card events; how many were
    told of (a full batch: the worker calls again at once)."""
    return service.fan_out_card_events(SYSTEM, batch=FAN_OUT_BATCH)


# As the card events' fan-out: prompt, a short lease, and a run cut short tells no one
# twice. A school grants and revokes a few a day, so every ten seconds is soon enough.
@periodic(
    "cards.subsidy_notices",
    every=timedelta(seconds=10),
    lease=timedelta(seconds=15),
    prompt=True,
    batch=FAN_OUT_BATCH,
)
def subsidy_notices() -> int:
    """Tell representatives of up to ``FAN_OUT_BATCH`` subsidised-meal allowances granted
    or revoked; how many changes were told of."""
    return service.fan_out_subsidy_changes(SYSTEM, batch=FAN_OUT_BATCH)


@periodic("cards.expire_holds", every=timedelta(minutes=1))
def expire_holds() -> int:
    """Give back the sums of till approvals no purchase used in time."""
    return service.expire_holds(SYSTEM)


@periodic("cards.daily_digest", every=timedelta(hours=1))
def daily_digest() -> int:
    """Send yesterday's digests to the representatives who chose them (hourly: the runs
    after the first that day find them sent)."""
    return service.send_daily_digests(SYSTEM)
