"""Periodic jobs of cards (run by ``infocity worker``); thin: each calls the service."""

from __future__ import annotations

from datetime import timedelta

from infocity.cards import service
from infocity.core.auth import SYSTEM
from infocity.core.jobs import periodic


@periodic("cards.social_stop_list", every=timedelta(hours=1))
def social_stop_list() -> int:
    """Export the day's signed stop-list of blocked social cards (once per city day: the
    hourly runs after the first return the one written); the number of UIDs."""
    return service.export_social_stop_list(SYSTEM).uid_count
