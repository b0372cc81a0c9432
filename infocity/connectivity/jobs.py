"""Periodic jobs of the city's Wi-Fi (run by ``infocity worker``); thin: each calls the
service as ``SYSTEM``."""

from __future__ import annotations

from datetime import timedelta

from infocity.connectivity import service
from infocity.core.auth import SYSTEM
from infocity.core.jobs import periodic


@periodic("connectivity.close_stale_sessions", every=timedelta(minutes=5))
def close_stale_sessions() -> int:
    """Close the RADIUS sessions with no accounting for too long; the number closed."""
    return service.close_stale_sessions(SYSTEM)


@periodic("connectivity.purge_identity_log", every=timedelta(hours=6), lease=timedelta(hours=1))
def purge_identity_log() -> int:
    """Delete the identity log past its legal period; the number of entries deleted."""
    return service.purge_identity_log(SYSTEM)


@periodic("connectivity.roll_up_statistics", every=timedelta(hours=1), lease=timedelta(hours=1))
def roll_up_statistics() -> int:
    """Write the statistics of the city days ended and not rolled up yet; the days
    written."""
    return service.roll_up_wifi_statistics(SYSTEM)
