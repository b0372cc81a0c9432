"""What runs behind the portal: closing sessions the controllers stopped reporting,
purging the identity log after its legal period, and the operators' statistics."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Row, Subquery, case, delete, func, literal, select, union_all, update

from infocity.connectivity import rules
from infocity.connectivity.models import WifiHotspot, WifiNetwork
from infocity.connectivity.rules import CloseCause, SessionState
from infocity.connectivity.schemas import DayCount, HotspotStats, NetworkStats
from infocity.connectivity.service.base import (
    CODES,
    HOTSPOTS,
    IDENTITY_LOG,
    SESSIONS,
    _scoped_organisations,
)
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_tz
from infocity.core.db import utcnow
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork

# The identity log is kept this long by law unless the city's order says more.
IDENTITY_LOG_DAYS = 183
MAX_STATS_DAYS = 92


def close_stale_sessions(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> int:
    """Close the sessions with no accounting for too long (a lost Stop, a controller
    gone quiet), ending them at their last update; they are kept, never deleted."""
    actor = authorize(actor, Action.WIFI_NETWORKS_MANAGE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        closed = dml(
            uow.session,
            update(SESSIONS)
            .where(
                SESSIONS.c.state == SessionState.OPEN.value,
                SESSIONS.c.updated_at < now - rules.STALE_AFTER,
            )
            .values(
                state=rules.SESSION_TRANSITIONS[(SessionState.OPEN, CloseCause.STALE)].value,
                close_cause=CloseCause.STALE.value,
                stopped_at=SESSIONS.c.updated_at,
            ),
        ).rowcount
        uow.commit()
        return int(closed)


def purge_identity_log(
    actor: Principal | None,
    *,
    keep_days: int = IDENTITY_LOG_DAYS,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> int:
    """Delete the identity log's entries older than the legal period, and the one-time
    codes of the past day; the number of entries deleted."""
    actor = authorize(actor, Action.WIFI_NETWORKS_MANAGE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        purged = dml(
            uow.session,
            delete(IDENTITY_LOG).where(IDENTITY_LOG.c.created_at < now - timedelta(days=keep_days)),
        ).rowcount
        dml(uow.session, delete(CODES).where(CODES.c.created_at < now - timedelta(days=1)))
        if purged:
            audit.record(uow.session, actor, "connectivity.identity_log.purge", detail=str(purged))
        uow.commit()
        return int(purged)


def _session_figures(
    uow: UnitOfWork, spots: list[WifiHotspot], start: datetime, ends: list[datetime], now: datetime
) -> tuple[
    dict[tuple[int, int], int],
    dict[Any, tuple[Row[Any], int]],
    dict[Any, tuple[Row[Any], int]],
    dict[int, int],
]:
    """The sessions started from ``start`` to the last of ``ends`` (each city day's end),
    aggregated by the database, not read row by row: connections by (network, day index),
    figures by network and by hotspot (NAS identifier), the peak of sessions open at once
    by network."""
    network = HOTSPOTS.c.network_id
    window = (
        select(SESSIONS, network.label("network_id"))
        .join(HOTSPOTS, HOTSPOTS.c.nas_identifier == SESSIONS.c.nas_identifier)
        .where(
            SESSIONS.c.started_at >= start,
            SESSIONS.c.started_at < ends[-1],
            HOTSPOTS.c.id.in_([spot.id for spot in spots]),
        )
        .subquery()
    )
    # The city day of a session: the first day whose end is after its start.
    day = case(*[(window.c.started_at < end, i) for i, end in enumerate(ends)], else_=len(ends))
    per_day = {
        (row.network_id, row.day): row.connections
        for row in uow.session.execute(
            select(window.c.network_id, day.label("day"), func.count().label("connections"))
            .group_by(window.c.network_id, day)
        )
    }  # fmt: skip
    figures = (
        func.count().label("connections"),
        func.coalesce(func.sum(window.c.input_octets), 0).label("input_octets"),
        func.coalesce(func.sum(window.c.output_octets), 0).label("output_octets"),
    )

    def grouped(key: str) -> dict[Any, tuple[Row[Any], int]]:
        """The figures by ``key``, with its unique devices: counted over the distinct
        (key, MAC) pairs, which PostgreSQL hashes, rather than by count(DISTINCT), which
        sorts every session."""
        column = window.c[key]
        pairs = select(column.label("key"), window.c.mac).distinct().subquery()
        devices: dict[Any, int] = dict(
            uow.session.execute(select(pairs.c.key, func.count()).group_by(pairs.c.key)).all()
        )
        return {
            row[0]: (row, int(devices.get(row[0], 0)))
            for row in uow.session.execute(select(column, *figures).group_by(column))
        }

    return per_day, grouped("network_id"), grouped("nas_identifier"), _peaks(window, now, uow)


def _peaks(window: Subquery, now: datetime, uow: UnitOfWork) -> dict[int, int]:
    """The most sessions open at once, by network."""
    # The peak: a sweep over starts (+1) and ends (-1) as a running sum, ends first at
    # the same instant (a session ending as another starts is not two at once).
    end = func.coalesce(
        window.c.stopped_at,
        case((window.c.state == SessionState.OPEN.value, now), else_=window.c.updated_at),
    )
    steps = union_all(
        select(window.c.network_id, window.c.started_at.label("at"), literal(1).label("step")),
        select(window.c.network_id, end.label("at"), literal(-1).label("step")),
    ).subquery()
    running = select(
        steps.c.network_id,
        func.sum(steps.c.step)
        .over(partition_by=steps.c.network_id, order_by=(steps.c.at, steps.c.step), rows=(None, 0))
        .label("open"),
    ).subquery()
    return {
        row.network_id: int(row.peak or 0)
        for row in uow.session.execute(
            select(running.c.network_id, func.max(running.c.open).label("peak"))
            .group_by(running.c.network_id)
        )
    }  # fmt: skip


def wifi_statistics(
    actor: Principal | None,
    first_day: date,
    last_day: date,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[NetworkStats]:
    """Per network of the operator (every network for analysts), from ``first_day`` to
    ``last_day`` (city days): connections a day, unique devices, the peak of sessions
    open at once, traffic, and each hotspot's figures."""
    scope = _scoped_organisations(actor, Action.WIFI_STATS_READ)
    now = now or utcnow()
    last_day = min(last_day, first_day + timedelta(days=MAX_STATS_DAYS - 1))
    tz = city_tz()
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=tz)
    ends = [datetime.combine(d + timedelta(days=1), datetime.min.time(), tzinfo=tz) for d in days]
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
        per_day, by_network, by_hotspot, peaks = _session_figures(uow, spots, start, ends, now)
        result = []
        for network in networks:
            totals, devices = by_network.get(network.id, (None, 0))
            result.append(
                NetworkStats(
                    network_id=network.id,
                    name=network.name,
                    days=[
                        DayCount(day=d, value=per_day.get((network.id, i), 0))
                        for i, d in enumerate(days)
                    ],
                    unique_devices=devices,
                    peak_concurrent=peaks.get(network.id, 0),
                    input_octets=int(totals.input_octets) if totals else 0,
                    output_octets=int(totals.output_octets) if totals else 0,
                    hotspots=[
                        HotspotStats(
                            hotspot_id=spot.id,
                            name=spot.name,
                            connections=figures.connections if figures else 0,
                            unique_devices=spot_devices,
                            octets=int(figures.input_octets + figures.output_octets)
                            if figures
                            else 0,
                        )
                        for spot in spots
                        if spot.network_id == network.id
                        for figures, spot_devices in [
                            by_hotspot.get(spot.nas_identifier, (None, 0))
                        ]
                    ],
                )
            )
        return result
