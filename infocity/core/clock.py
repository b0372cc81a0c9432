"""The city's calendar: its time zone and the date there (``core.db.utcnow`` is the clock)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from infocity.core.db import utcnow
from infocity.core.settings import get_settings


def city_tz() -> ZoneInfo:
    """The city's time zone (settings: ``city_timezone``)."""
    return get_settings().city_tz


def city_date(instant: datetime) -> date:
    """The city's calendar date at ``instant``."""
    return instant.astimezone(city_tz()).date()


def city_today() -> date:
    """Today's date in the city: ages, deadlines and "not in the future" are judged by it."""
    return city_date(utcnow())
