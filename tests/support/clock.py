"""Fixed "todays" for the tests whose outcome depends on the calendar.

A test marked ``@pytest.mark.calendar`` runs once at the real time and once at each
instant below, with the whole process's clock (``utcnow``, ``datetime.now``,
``date.today``, ``time.time``) moved there and ticking on (``time-machine``). The
database is never asked for the time, so moving the process's clock is enough; the real
time runs on both databases, each fixed instant on one of them, alternating
(``FIXED_TODAY_DATABASE`` in ``tests/conftest.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MOSCOW = ZoneInfo("Europe/Moscow")

FIXED_TODAYS: dict[str, datetime] = {
    "jan31": datetime(2026, 1, 31, 9, 0, tzinfo=MOSCOW),  # a month's end (Saturday)
    "feb28": datetime(2026, 2, 28, 12, 0, tzinfo=MOSCOW),  # February's end, no leap day
    "monday": datetime(2026, 3, 2, 10, 0, tzinfo=MOSCOW),
    "sunday": datetime(2026, 11, 29, 15, 0, tzinfo=MOSCOW),
    "nye2330": datetime(2026, 12, 31, 23, 30, tzinfo=MOSCOW),  # the year's last half hour
    "ny0010": datetime(2027, 1, 1, 0, 10, tzinfo=MOSCOW),  # just into the new year
    # Either side of the city's midnight (UTC 21:00), at a month's end.
    "before_midnight": datetime(2026, 11, 30, 20, 59, 59, tzinfo=UTC),
    "after_midnight": datetime(2026, 11, 30, 21, 0, 1, tzinfo=UTC),
}
