"""FHIR search parameters as health's filters: references, tokens, date ranges, paging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from infocity.core.clock import city_tz
from infocity.health import errors, service

MAX_COUNT = 200
DEFAULT_COUNT = 50
MAX_OFFSET = 1000


def _invalid(name: str) -> errors.InvalidSearch:
    return errors.InvalidSearch(name)


def reference_id(value: str | None, kind: str, name: str) -> int | None:
    """``Schedule/12``, a full URL ending so, or ``12`` -> 12."""
    if value is None:
        return None
    tail = value.rstrip("/").rsplit("/", 2)
    if len(tail) >= 2 and tail[-2] != kind:
        raise _invalid(name)
    try:
        number = int(tail[-1])
    except ValueError as exc:
        raise _invalid(name) from exc
    if not 1 <= number <= 2**62:
        raise _invalid(name)
    return number


def token_code(value: str | None, system: str, name: str) -> str | None:
    """``system|code`` or ``code`` -> code (another system matches nothing we have)."""
    if value is None:
        return None
    if "|" in value:
        given, _, code = value.partition("|")
        if given and given != system:
            raise _invalid(name)
        value = code
    if not value or len(value) > 40:
        raise _invalid(name)
    return value


@dataclass(frozen=True)
class StartRange:
    """A ``start`` filter: instants from (inclusive) and before (exclusive)."""

    after: datetime | None = None
    before: datetime | None = None


def _moment(text: str, name: str) -> tuple[datetime, datetime]:
    """A FHIR date or dateTime as the range of instants it names (a date: its city day)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime.combine(day, datetime.min.time(), tzinfo=city_tz())
            return start, start + timedelta(days=1)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise _invalid(name) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=city_tz())
    return moment, moment + timedelta(seconds=1)


def start_range(values: Sequence[str], name: str = "start") -> StartRange:
    """``start=ge2026-03-01&start=lt2026-03-08`` (prefixes ge, gt, le, lt, eq)."""
    after: datetime | None = None
    before: datetime | None = None
    for value in values:
        prefix, text = (value[:2], value[2:]) if value[:2].isalpha() else ("eq", value)
        low, high = _moment(text, name)
        if prefix in ("ge", "eq"):
            after = max(after, low) if after else low
        if prefix == "gt":
            after = max(after, high) if after else high
        if prefix in ("lt",):
            before = min(before, low) if before else low
        if prefix in ("le", "eq"):
            before = min(before, high) if before else high
        if prefix not in ("ge", "gt", "le", "lt", "eq"):
            raise _invalid(name)
    return StartRange(after, before)


def paging(count: int | None, offset: int | None) -> tuple[int, int]:
    """``_count`` and ``_offset`` within their bounds."""
    count = DEFAULT_COUNT if count is None else count
    offset = offset or 0
    if not 0 <= count <= MAX_COUNT:
        raise _invalid("_count")
    if not 0 <= offset <= MAX_OFFSET:
        raise _invalid("_offset")
    return count, offset


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def cursor_of(page: service.SlotPage) -> str:
    """The position after a page's last slot, as the ``_cursor`` of the next link:
    ``<microseconds since 1970 UTC>.<slot id>``."""
    micros = (page.starts_at - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}.{page.id}"


def cursor(value: str | None) -> service.SlotPage | None:
    """A ``_cursor`` as the position it names; a malformed one is a search not understood."""
    if value is None:
        return None
    micros, _, id_ = value.partition(".")
    if not (micros.isdigit() and id_.isdigit()) or len(value) > 40:
        raise _invalid("_cursor")
    return service.SlotPage(_EPOCH + timedelta(microseconds=int(micros)), int(id_))
