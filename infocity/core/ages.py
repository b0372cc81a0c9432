"""Ages, as every city service counts them (pure)."""

from __future__ import annotations

from datetime import date

ADULT_AGE = 18  # the age of majority: adult clinics, own accounts


def age_on(birth_date: date, today: date) -> int:
    """Full years on ``today``; someone born on 29 February turns a year older on 1 March."""
    before_birthday = (today.month, today.day) < (birth_date.month, birth_date.day)
    return today.year - birth_date.year - int(before_birthday)
