"""Message catalogues (Babel) and the locale of the current request or job.

Message ids are English; ``ru`` is the default locale. Each service keeps its own
catalogue, ``infocity/locale/<locale>/LC_MESSAGES/<service>.po`` (``messages.po`` for
the core and the web shell); they are merged and compiled in memory on first use, so
there is no build step and no stale ``.mo`` file.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

from infocity.core.settings import get_settings

LOCALES = ("ru", "en")
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_current_locale: ContextVar[str | None] = ContextVar("infocity_locale", default=None)


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> Translations:
    """The compiled catalogues of ``locale``, merged into one."""
    merged: Translations | None = None
    for po_path in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        # Merging into an empty catalogue would keep its English plural rule (two forms);
        # the first real one brings the language's own (Russian has three).
        if merged is None:
            merged = Translations(fp=buffer)
        else:
            merged.merge(Translations(fp=buffer))
    return merged if merged is not None else Translations()


@lru_cache(maxsize=8)
def _babel_locale(locale: str) -> Locale:
    """Babel's locale of that name, parsed once: given a name, Babel parses it again for
    every date and number it formats (a fan-out formats thousands a second)."""
    return Locale.parse(locale)


def current_locale() -> str:
    return _current_locale.get() or get_settings().default_locale


def set_locale(locale: str | None) -> None:
    _current_locale.set(locale if locale in LOCALES else None)


@contextmanager
def use_locale(locale: str | None) -> Iterator[None]:
    """Render inside the block in ``locale`` (the worker renders in the recipient's)."""
    token = _current_locale.set(locale if locale in LOCALES else None)
    try:
        yield
    finally:
        _current_locale.reset(token)


def gettext(message: str, **params: object) -> str:
    """Translate ``message`` into the current locale and fill ``%(name)s`` params."""
    text = translations(current_locale()).gettext(message)
    return text % params if params else text


def ngettext(singular: str, plural: str, n: int, **params: object) -> str:
    text = translations(current_locale()).ngettext(singular, plural, n)
    return text % {"num": n, **params}


_ = gettext


def N_(message: str) -> str:  # noqa: N802 - the conventional name of the marker
    """Mark ``message`` for extraction; it is translated where it is shown."""
    return message


def negotiate_locale(cookie: str | None, accept_language: str | None) -> str:
    """The locale for a request: the user's explicit choice, then the browser's, then ru."""
    if cookie in LOCALES:
        return cookie
    if accept_language:
        for part in accept_language.split(","):
            tag = part.split(";")[0].strip().lower()[:2]
            if tag in LOCALES:
                return tag
    return get_settings().default_locale


# One way to write a date in each language, the locale's own long form ("30 ноября
# 2026 г.", "November 30, 2026"), and a time after it on the 24-hour clock of the city.
DATE_FORMAT = "long"
MONTH_FORMAT = "LLLL y"  # a billing period: "ноябрь 2026", "November 2026"
# Babel's named styles for a date with a time; pages show them all as ``format_moment``.
_MOMENT_STYLES = frozenset({"short", "medium"})
RUB = N_("RUB")
# "13:15, 2 декабря 2026": what a notification says; no seconds, no zone name (the city's
# zone is the only one its readers live in).
MESSAGE_FORMAT = "HH:mm, d MMMM y"


def format_day(value: date | datetime) -> str:
    """A calendar date (a timestamp: its date in the city) in the language's one format."""
    if isinstance(value, datetime):
        value = value.astimezone(get_settings().city_tz).date()
    return babel_format_date(value, DATE_FORMAT, locale=_babel_locale(current_locale()))


def format_moment(value: datetime) -> str:
    """A UTC timestamp as the city's date in the language's one format and the time."""
    local = value.astimezone(get_settings().city_tz)
    return f"{format_day(local.date())}, {local:%H:%M}"


def format_month(value: date) -> str:
    """The month of ``value``, e.g. a bill's period."""
    return babel_format_date(value, MONTH_FORMAT, locale=_babel_locale(current_locale()))


def format_number(value: Decimal | int | float, places: int = 3) -> str:
    """A quantity with the language's separators, at most ``places`` decimals, no trailing
    zeros: 365,5 in Russian, 365.5 in English; thousands grouped (12 345,6)."""
    pattern = "#,##0." + "#" * places if places else "#,##0"
    return format_decimal(value, format=pattern, locale=_babel_locale(current_locale()))


def format_amount(value: Decimal | int | float) -> str:
    """A sum of roubles, always with kopecks: 8 573,84 in Russian, 8,573.84 in English."""
    return format_decimal(value, format="#,##0.00", locale=_babel_locale(current_locale()))


def format_money(value: Decimal | int | float) -> str:
    """A sum with its currency: "8 573,84 руб.", "8,573.84 RUB" (never split across lines)."""
    return f"{format_amount(value)}\u00a0{gettext(RUB)}"


def format_datetime(value: datetime, fmt: str = "medium") -> str:
    """A UTC timestamp shown in the city's time zone and the current locale. The named
    styles "short" and "medium" give the one date-and-time format (``format_moment``);
    ``"message"`` is the notifications' one; any other style or pattern is Babel's."""
    if fmt in _MOMENT_STYLES:
        return format_moment(value)
    pattern = MESSAGE_FORMAT if fmt == "message" else fmt
    return babel_format_datetime(
        value, pattern, tzinfo=get_settings().city_tz, locale=_babel_locale(current_locale())
    )


def warm_up() -> None:
    """Load every language's catalogues and Babel's locale data now (a server process
    starting), not in the first requests that need them: loading takes a few hundred
    milliseconds of CPU a language, which in a release rush the first bookings paid
    while holding their slots (docs/benchmarks.md, section 2)."""
    moment = datetime(2000, 1, 1, tzinfo=get_settings().city_tz)
    for locale in LOCALES:
        translations(locale)
        with use_locale(locale):
            format_datetime(moment, "message")
            format_day(moment)
