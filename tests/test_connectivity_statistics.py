"""The Wi-Fi statistics' roll-up by city day: the job's rows give the figures the live
statements give on the same sessions, re-running a day replaces it, missed days are
caught up (both databases, on a fixed calendar)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import delete, event, func, select

from infocity.connectivity import service
from infocity.connectivity.models import WifiHotspotDay, WifiRolledDay, WifiSession
from infocity.connectivity.schemas import NetworkStats
from infocity.core.auth import SYSTEM
from infocity.core.clock import city_tz
from infocity.core.db import get_engine
from infocity.core.uow import UnitOfWork
from tests.connectivity_builders import make_wifi_city

DAY = date(2026, 3, 27)


def at(days: int, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(DAY + timedelta(days=days), time(hour, minute), tzinfo=city_tz())


def add_sessions(sessions: list[tuple[str, int, datetime, datetime | None]], tag: str) -> None:
    """Sessions as FreeRADIUS writes them: (hotspot, device, start, end or None: open)."""
    with UnitOfWork() as uow:
        for n, (nas, device, start, end) in enumerate(sessions):
            uow.session.add(
                WifiSession(
                    acct_unique_id=f"{tag}-{n}", acct_session_id=f"{n}", nas_identifier=nas,
                    nas_address="10.0.0.1", mac=f"3c-22-fb-00-00-{device:02x}",
                    state="open" if end is None else "closed", started_at=start,
                    updated_at=end or start, stopped_at=end, input_octets=100 + n,
                    output_octets=10 * n,
                )
            )  # fmt: skip
        uow.commit()


def statements_on_sessions(run: Callable[[], object]) -> list[tuple[str, list[datetime]]]:
    """The statements ``run`` sends that read the sessions, each with its timestamps (in
    UTC, naive), as the database receives them."""
    sent: list[tuple[str, list[datetime]]] = []

    def stamp(value: object) -> datetime | None:
        if isinstance(value, str):  # SQLite's driver gets naive UTC as text
            try:
                value = datetime.fromisoformat(value)
            except ValueError:
                return None
        if not isinstance(value, datetime):
            return None
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value

    def record(_conn: object, _cursor: object, statement: str, parameters: object,
               _context: object, _many: bool) -> None:  # fmt: skip
        values = parameters.values() if isinstance(parameters, dict) else parameters
        if "wifi_sessions" in statement:
            stamps = [stamp(v) for v in values or ()]  # type: ignore[attr-defined]
            sent.append((statement, [s for s in stamps if s is not None]))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return sent


def test_rolled_up_days_give_the_live_figures(database: str) -> None:
    city = make_wifi_city(hotspots=2)
    first, second = (s.nas_identifier for s in city.hotspots.secrets)
    add_sessions(
        [
            (first, 1, at(-1, 23, 50), at(0, 0, 10)),  # across the city's midnight
            (first, 2, at(0, 0, 5), at(0, 0, 20)),  # two at once just after it
            (first, 1, at(0, 10), at(0, 11)),
            (second, 3, at(0, 10, 30), at(0, 10, 45)),
            (second, 5, at(0, 23, 30), at(1, 0, 30)),  # across the next midnight
            (second, 4, at(1, 0, 5), at(1, 1)),  # with it: two at once on day 1
            (first, 2, at(1, 9, 5), at(1, 9, 20)),
            (first, 6, at(2, 9), None),  # today: still open
        ],
        "s",
    )
    now = at(2, 12)
    period = (DAY - timedelta(days=1), DAY + timedelta(days=2))
    staff = city.staff.principal
    live = service.wifi_statistics(staff, *period, now=now)
    # A rolled day between days not rolled up: each side counted live on its own.
    service.roll_up_wifi_day(SYSTEM, DAY, now=now)
    assert service.wifi_statistics(staff, *period, now=now) == live
    with UnitOfWork() as uow:
        uow.session.execute(delete(WifiRolledDay))
        uow.commit()

    # The job catches up every ended day from the first session's; today stays live.
    assert service.roll_up_wifi_statistics(SYSTEM, now=now) == 3
    assert service.roll_up_wifi_statistics(SYSTEM, now=now) == 0
    rolled = service.wifi_statistics(staff, *period, now=now)
    assert rolled == live
    figures = rolled[0]
    assert [d.value for d in figures.days] == [1, 4, 2, 1]
    # Devices are counted per day (1 and 2 again on a later day count again there), a
    # device at two hotspots of the network once; the period shows its busiest day.
    assert [d.value for d in figures.devices_by_day] == [1, 4, 2, 1]
    assert figures.unique_devices_busiest_day == 4
    assert [h.unique_devices_busiest_day for h in figures.hotspots] == [2, 2]
    assert figures.peak_concurrent == 2
    assert sum(h.connections for h in figures.hotspots) == 8
    assert figures.input_octets == sum(100 + n for n in range(8))
    # A period of the rolled days alone, and one starting on a day after a midnight.
    two_days = [(DAY, DAY + timedelta(days=1)), (DAY + timedelta(days=1), DAY + timedelta(days=2))]
    busiest = [service.wifi_statistics(staff, *d, now=now)[0] for d in two_days]
    assert [f.unique_devices_busiest_day for f in busiest] == [4, 2]
    with UnitOfWork() as uow:
        day1 = sorted(
            (row.connections, row.peak_concurrent, row.unique_devices)
            for row in uow.session.scalars(
                select(WifiHotspotDay).where(WifiHotspotDay.day == DAY + timedelta(days=1))
            )
        )
    # The session from before midnight still counts in the next day's peak.
    assert day1 == [(1, 1, 1), (1, 2, 1)]

    # The roll-up is what is read: a session reported late for a rolled day shows once
    # the day is rolled up again, which replaces the day's rows rather than adding to them.
    add_sessions([(second, 7, at(0, 15), at(0, 16))], "late")
    assert service.wifi_statistics(staff, *period, now=now)[0].days[1].value == 4
    service.roll_up_wifi_day(SYSTEM, DAY, now=now)
    service.roll_up_wifi_day(SYSTEM, DAY, now=now)
    again = service.wifi_statistics(staff, *period, now=now)[0]
    assert [d.value for d in again.days] == [1, 5, 2, 1]
    assert [d.value for d in again.devices_by_day] == [1, 5, 2, 1]
    assert again.unique_devices_busiest_day == 5
    with UnitOfWork() as uow:
        rows = uow.session.scalar(select(func.count()).select_from(WifiHotspotDay))
    assert rows == 1 + 2 + 2  # day -1: one hotspot; days 0 and 1: both


def test_statistics_of_days_not_rolled_up_are_live(database: str) -> None:
    """Yesterday before the job has run: counted from the sessions, not shown as empty."""
    city = make_wifi_city(hotspots=1)
    add_sessions([(city.nas, 1, at(0, 8), at(0, 9)), (city.nas, 2, at(1, 8), None)], "y")
    service.roll_up_wifi_day(SYSTEM, DAY - timedelta(days=1), now=at(1, 9))
    stats = service.wifi_statistics(city.staff.principal, DAY, DAY + timedelta(days=1),
                                    now=at(1, 9))  # fmt: skip
    assert [d.value for d in stats[0].days] == [1, 1]
    assert [d.value for d in stats[0].devices_by_day] == [1, 1]
    assert stats[0].unique_devices_busiest_day == 1


def test_todays_peak_reads_only_the_sessions_lasting_into_today(database: str) -> None:
    """Yesterday rolled up: today's figures come from today's sessions and, of
    yesterday's, only those that lasted past midnight (found through the index on the
    sessions' state and last update) — not every session of yesterday."""
    city = make_wifi_city(hotspots=1)
    add_sessions(
        [
            (city.nas, 1, at(0, 9), at(0, 10)),  # yesterday: two at once
            (city.nas, 2, at(0, 9, 30), at(0, 10, 30)),
            (city.nas, 3, at(0, 23, 40), at(1, 0, 20)),  # across midnight
            (city.nas, 4, at(0, 23, 50), None),  # since yesterday, still open
            (city.nas, 5, at(1, 0, 10), at(1, 0, 15)),  # today: three at once with them
            (city.nas, 6, at(1, 8), None),
        ],
        "t",
    )
    now = at(1, 12)
    service.roll_up_wifi_day(SYSTEM, DAY, now=now)
    today = DAY + timedelta(days=1)
    figures: list[object] = []
    sent = statements_on_sessions(
        lambda: figures.extend(service.wifi_statistics(city.staff.principal, today, today, now=now))
    )
    (stats,) = figures
    assert isinstance(stats, NetworkStats)
    assert [d.value for d in stats.days] == [2]
    assert [d.value for d in stats.devices_by_day] == [2]
    assert stats.peak_concurrent == 3  # yesterday's two at once are not today's

    midnight = at(1, 0).astimezone(UTC).replace(tzinfo=None)
    assert sent, "today is counted from the sessions"
    for statement, stamps in sent:
        # A statement reaching before today's midnight only takes the sessions still
        # open, or last updated after it.
        if any(stamp < midnight for stamp in stamps):
            assert "wifi_sessions.updated_at >" in statement, statement
            assert midnight in stamps, statement
