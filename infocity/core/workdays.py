"""Terms counted in working days, as the city's legal deadlines are (pure)."""

from __future__ import annotations

from datetime import date, timedelta


def add_working_days(start: date, days: int) -> date:
    """``days`` working days (Monday to Friday) after ``start``.

    Public holidays are not in the calendar yet: a term is then a day or two short of
    the legal one, never longer.
    """
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current
