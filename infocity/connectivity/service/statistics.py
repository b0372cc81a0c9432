"""The operators' Wi-Fi statistics.

Counting them from the sessions reads every session of the period (3.3 million a day
at the city's volume). So after each city day a job rolls the day up — a row per hotspot
and day (connections, traffic, peak, the day's unique devices), and per network and day
(its peak and unique devices) — and the statistics read those rows for the days rolled
up and count only the others (today, or a day the job has not reached yet) from the
sessions, with the same statements the job uses: both ways give the same figures.
Unique devices are an operator's figure of a day (a period's is its busiest day's), so
no device list outlives the day's roll-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, delete, func, insert, literal, or_, select, union_all

from infocity.connectivity import rules
from infocity.connectivity.models import WifiHotspot, WifiNetwork
from infocity.connectivity.rules import SessionState
from infocity.connectivity.schemas import DayCount, HotspotStats, NetworkStats
from infocity.connectivity.service.base import (
    HOTSPOT_DAYS,
    HOTSPOTS,
    NETWORK_DAYS,
    NETWORKS,
    ROLLED_DAYS,
    SESSIONS,
    _scoped_organisations,
)
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date, city_tz
from infocity.core.db import UTCDateTime, utcnow
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork

MAX_STATS_DAYS = 92
# A run of the job catches up at most this many days (a first run over a long history
# goes on at the next runs), so that one run stays well within its lease.
ROLL_UP_DAYS_A_RUN = 7

# (hotspot id, day) -> connections, input octets, output octets
Traffic = dict[tuple[int, date], tuple[int, int, int]]
# (hotspot or network id, day) -> the day's unique devices
Devices = dict[tuple[int, date], int]


def _midnight(day: date) -> datetime:
    """The start of a city day (the zone's business when DST changes it)."""
    return datetime.combine(day, time.min, tzinfo=city_tz())


def _sessions(
    start: datetime,
    end: datetime,
    now: datetime,
    hotspot_ids: list[int] | None = None,
    *,
    lasting_into: datetime | None = None,
) -> Select[Any]:
    """The sessions started from ``start`` to ``end`` at known hotspots, with their
    hotspot, network, city day index (0 for the day starting at ``start``) and end: an
    open session lasts until ``now``, a closed one without a Stop until its last update.

    With ``lasting_into``, of the sessions started before it only those still open or
    last updated after it (a session never ends after its last update): the few that
    lasted into a day, found through the index on (state, updated_at), rather than every
    session of the day before."""
    ended = func.coalesce(
        SESSIONS.c.stopped_at,
        case(
            (SESSIONS.c.state == SessionState.OPEN.value, literal(now, UTCDateTime())),
            else_=SESSIONS.c.updated_at,
        ),
    )
    days = (city_date(end - timedelta(microseconds=1)) - city_date(start)).days + 1
    ends = [_midnight(city_date(start) + timedelta(days=i + 1)) for i in range(days)]
    day = case(*[(SESSIONS.c.started_at < e, i) for i, e in enumerate(ends)], else_=days)
    query = (
        select(
            SESSIONS.c.mac,
            SESSIONS.c.started_at,
            ended.label("ended_at"),
            SESSIONS.c.input_octets,
            SESSIONS.c.output_octets,
            day.label("day"),
            HOTSPOTS.c.id.label("hotspot_id"),
            HOTSPOTS.c.network_id,
        )
        .join(HOTSPOTS, HOTSPOTS.c.nas_identifier == SESSIONS.c.nas_identifier)
        .where(SESSIONS.c.started_at >= start, SESSIONS.c.started_at < end)
    )
    if hotspot_ids is not None:
        query = query.where(HOTSPOTS.c.id.in_(hotspot_ids))
    if lasting_into is not None:
        query = query.where(
            or_(
                SESSIONS.c.started_at >= lasting_into,
                SESSIONS.c.state == SessionState.OPEN.value,
                and_(
                    SESSIONS.c.state == SessionState.CLOSED.value,
                    SESSIONS.c.updated_at > lasting_into,
                ),
            )
        )
    return query


def _peaks(
    uow: UnitOfWork, day: date, key: str, now: datetime, hotspot_ids: list[int] | None = None
) -> dict[int, int]:
    """The most sessions open at once during the city ``day``, by ``key`` (hotspot or
    network): every session open in the day that started that day or the day before (of
    the day before's, only those that lasted into the day are read)."""
    start, end = _midnight(day), _midnight(day + timedelta(days=1))
    spans = _sessions(
        start - rules.PEAK_LOOKBACK, end, now, hotspot_ids, lasting_into=start
    ).subquery()
    within = spans.c.ended_at > literal(start, UTCDateTime())
    begins = case(
        (spans.c.started_at < literal(start, UTCDateTime()), literal(start, UTCDateTime())),
        else_=spans.c.started_at,
    )
    # A sweep over starts (+1) and ends (-1) as a running sum, ends first at the same
    # instant (a session ending as another starts is not two at once); the ends after
    # the day are not the day's.
    steps = union_all(
        select(spans.c[key].label("key"), begins.label("at"), literal(1).label("step"))
        .where(within),
        select(spans.c[key].label("key"), spans.c.ended_at.label("at"), literal(-1).label("step"))
        .where(within, spans.c.ended_at < literal(end, UTCDateTime())),
    ).subquery()  # fmt: skip
    running = select(
        steps.c.key,
        func.sum(steps.c.step)
        .over(partition_by=steps.c.key, order_by=(steps.c.at, steps.c.step), rows=(None, 0))
        .label("open"),
    ).subquery()
    return {
        int(row.key): int(row.peak or 0)
        for row in uow.session.execute(
            select(running.c.key, func.max(running.c.open).label("peak")).group_by(running.c.key)
        )
    }


def roll_up_wifi_day(
    actor: Principal | None,
    day: date,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> int:
    """Write the statistics of the city ``day`` (ended) from its sessions, replacing what
    an earlier run wrote for it; the number of hotspots with sessions that day."""
    authorize(actor, Action.WIFI_NETWORKS_MANAGE)
    now = now or utcnow()
    start, end = _midnight(day), _midnight(day + timedelta(days=1))
    uow = uow or UnitOfWork()
    with uow:
        for table in (HOTSPOT_DAYS, NETWORK_DAYS, ROLLED_DAYS):
            dml(uow.session, delete(table).where(table.c.day == day))
        sessions = _sessions(start, end, now).subquery()
        devices = _devices(uow, sessions, [day], "hotspot_id")
        traffic = _traffic(uow, sessions, [day])
        peaks = _peaks(uow, day, "hotspot_id", now)
        rows = [
            {
                "hotspot_id": spot,
                "day": day,
                "connections": connections,
                "input_octets": input_octets,
                "output_octets": output_octets,
                "peak_concurrent": peaks.get(spot, 0),
                "unique_devices": devices.get((spot, day), 0),
            }
            for spot in sorted({spot for spot, _ in traffic} | set(peaks))
            for connections, input_octets, output_octets in [traffic.get((spot, day), (0, 0, 0))]
        ]
        if rows:
            dml(uow.session, insert(HOTSPOT_DAYS).values(rows))
        network_peaks = _peaks(uow, day, "network_id", now)
        network_devices = _devices(uow, sessions, [day], "network_id")
        networks = [
            {
                "network_id": n,
                "day": day,
                "peak_concurrent": network_peaks.get(n, 0),
                "unique_devices": network_devices.get((n, day), 0),
            }
            for n in uow.session.scalars(select(NETWORKS.c.id))
        ]
        if networks:
            dml(uow.session, insert(NETWORK_DAYS).values(networks))
        dml(uow.session, insert(ROLLED_DAYS).values(day=day, rolled_at=now))
        uow.commit()
        return sum(1 for row in rows if row["connections"])


def roll_up_wifi_statistics(actor: Principal | None, *, now: datetime | None = None) -> int:
    """Roll up the ended city days not rolled up yet, in order from the day after the
    last one (or the first session's day), at most ``ROLL_UP_DAYS_A_RUN`` a run; the
    number of days written."""
    authorize(actor, Action.WIFI_NETWORKS_MANAGE)
    now = now or utcnow()
    with UnitOfWork() as uow:
        last = uow.session.scalar(select(func.max(ROLLED_DAYS.c.day)))
        first_session = uow.session.scalar(select(func.min(SESSIONS.c.started_at)))
    if last is not None:
        first = last + timedelta(days=1)
    elif first_session is not None:
        first = city_date(first_session)
    else:
        return 0
    days = [first + timedelta(days=i) for i in range((city_date(now) - first).days)]
    for day in days[:ROLL_UP_DAYS_A_RUN]:
        roll_up_wifi_day(actor, day, now=now)
    return min(len(days), ROLL_UP_DAYS_A_RUN)


def _traffic(uow: UnitOfWork, sessions: Any, days: list[date]) -> Traffic:
    """Connections and traffic by hotspot and city day of the ``sessions`` (a subquery
    of ``_sessions`` whose day 0 is ``days[0]``), for ``days`` only."""
    first = days[0]
    indexes = [(d - first).days for d in days]
    return {
        (row.hotspot_id, first + timedelta(days=row.day)): (
            int(row.connections),
            int(row.input_octets),
            int(row.output_octets),
        )
        for row in uow.session.execute(
            select(
                sessions.c.hotspot_id,
                sessions.c.day,
                func.count().label("connections"),
                func.coalesce(func.sum(sessions.c.input_octets), 0).label("input_octets"),
                func.coalesce(func.sum(sessions.c.output_octets), 0).label("output_octets"),
            )
            .where(sessions.c.day.in_(indexes))
            .group_by(sessions.c.hotspot_id, sessions.c.day)
        )
    }


def _devices(uow: UnitOfWork, sessions: Any, days: list[date], key: str) -> Devices:
    """The distinct devices (MACs) by ``key`` (hotspot or network) and city day of the
    ``sessions`` (a subquery of ``_sessions`` whose day 0 is ``days[0]``), for ``days``."""
    first = days[0]
    indexes = [(d - first).days for d in days]
    # Distinct triples counted afterwards: PostgreSQL hashes them, where
    # count(DISTINCT mac) would sort each group.
    seen = (
        select(sessions.c[key].label("key"), sessions.c.day, sessions.c.mac)
        .where(sessions.c.day.in_(indexes))
        .distinct()
        .subquery()
    )
    return {
        (int(row.key), first + timedelta(days=row.day)): int(row.devices)
        for row in uow.session.execute(
            select(seen.c.key, seen.c.day, func.count().label("devices")).group_by(
                seen.c.key, seen.c.day
            )
        )
    }


def _runs(days: list[date]) -> list[list[date]]:
    """``days`` (in order) as runs of consecutive days."""
    runs: list[list[date]] = []
    for day in days:
        if runs and runs[-1][-1] + timedelta(days=1) == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


@dataclass
class _Figures:
    """The period's figures, rolled-up and live days together."""

    traffic: Traffic
    network_peaks: dict[int, int]
    network_devices: Devices
    hotspot_devices: Devices


def _figures(uow: UnitOfWork, spots: list[int], days: list[date], now: datetime) -> _Figures:
    """The figures of the hotspots ``spots`` over ``days``: from the roll-up for the days
    it has, counted from the sessions for the others, each run of such days as its own
    range (a rolled day's sessions are never read)."""
    rolled = set(uow.session.scalars(select(ROLLED_DAYS.c.day).where(ROLLED_DAYS.c.day.in_(days))))
    live = [d for d in days if d not in rolled]
    traffic: Traffic = {}
    hotspot_devices: Devices = {}
    for row in uow.session.execute(
        select(HOTSPOT_DAYS).where(
            HOTSPOT_DAYS.c.day.in_(rolled), HOTSPOT_DAYS.c.hotspot_id.in_(spots)
        )
    ):
        traffic[row.hotspot_id, row.day] = (row.connections, row.input_octets, row.output_octets)
        hotspot_devices[row.hotspot_id, row.day] = row.unique_devices
    peaks: dict[int, int] = {}
    network_devices: Devices = {}
    for row in uow.session.execute(select(NETWORK_DAYS).where(NETWORK_DAYS.c.day.in_(rolled))):
        peaks[row.network_id] = max(peaks.get(row.network_id, 0), row.peak_concurrent)
        network_devices[row.network_id, row.day] = row.unique_devices
    for run in _runs(live):
        start, end = _midnight(run[0]), _midnight(run[-1] + timedelta(days=1))
        sessions = _sessions(start, end, now, spots).subquery()
        traffic |= _traffic(uow, sessions, run)
        hotspot_devices |= _devices(uow, sessions, run, "hotspot_id")
        network_devices |= _devices(uow, sessions, run, "network_id")
        for day in run:
            for network, peak in _peaks(uow, day, "network_id", now, spots).items():
                peaks[network] = max(peaks.get(network, 0), peak)
    return _Figures(traffic, peaks, network_devices, hotspot_devices)


def wifi_statistics(
    actor: Principal | None,
    first_day: date,
    last_day: date,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[NetworkStats]:
    """Per network of the operator (every network for analysts), from ``first_day`` to
    ``last_day`` (city days): connections and unique devices a day, the busiest day's
    unique devices, the peak of sessions open at once, traffic, and each hotspot's
    figures."""
    scope = _scoped_organisations(actor, Action.WIFI_STATS_READ)
    now = now or utcnow()
    last_day = min(last_day, first_day + timedelta(days=MAX_STATS_DAYS - 1))
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    uow = uow or UnitOfWork()
    with uow:
        networks_query = select(WifiNetwork).order_by(WifiNetwork.name, WifiNetwork.id)
        if scope is not None:
            networks_query = networks_query.where(WifiNetwork.organisation_id.in_(scope))
        networks = list(uow.session.scalars(networks_query))
        spots = list(
            uow.session.scalars(
                select(WifiHotspot)
                .where(WifiHotspot.network_id.in_([n.id for n in networks]))
                .order_by(WifiHotspot.name, WifiHotspot.id)
            )
        )
        figures = _figures(uow, [spot.id for spot in spots], days, now) if days else None
        return [_network_stats(network, spots, days, figures) for network in networks]


def _network_stats(
    network: WifiNetwork, spots: list[WifiHotspot], days: list[date], figures: _Figures | None
) -> NetworkStats:
    """One network's figures over ``days`` from the period's ``figures``."""
    traffic = figures.traffic if figures else {}
    network_devices = figures.network_devices if figures else {}
    hotspot_devices = figures.hotspot_devices if figures else {}
    mine = [spot for spot in spots if spot.network_id == network.id]

    def total(spot: WifiHotspot, index: int) -> int:
        return sum(traffic.get((spot.id, d), (0, 0, 0))[index] for d in days)

    def busiest(devices: Devices, key: int) -> int:
        return max((devices.get((key, d), 0) for d in days), default=0)

    return NetworkStats(
        network_id=network.id,
        name=network.name,
        days=[
            DayCount(day=d, value=sum(traffic.get((s.id, d), (0, 0, 0))[0] for s in mine))
            for d in days
        ],
        devices_by_day=[
            DayCount(day=d, value=network_devices.get((network.id, d), 0)) for d in days
        ],
        unique_devices_busiest_day=busiest(network_devices, network.id),
        peak_concurrent=figures.network_peaks.get(network.id, 0) if figures else 0,
        input_octets=sum(total(spot, 1) for spot in mine),
        output_octets=sum(total(spot, 2) for spot in mine),
        hotspots=[
            HotspotStats(
                hotspot_id=spot.id,
                name=spot.name,
                connections=total(spot, 0),
                unique_devices_busiest_day=busiest(hotspot_devices, spot.id),
                octets=total(spot, 1) + total(spot, 2),
            )
            for spot in mine
        ],
    )
