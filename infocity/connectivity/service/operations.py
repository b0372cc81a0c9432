"""What runs behind the portal: closing sessions the controllers stopped reporting,
purging the identity log after its legal period, and the operators' statistics."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import delete, select, update

from infocity.connectivity import rules
from infocity.connectivity.models import WifiHotspot, WifiNetwork
from infocity.connectivity.rules import CloseCause, SessionState
from infocity.connectivity.schemas import DayCount, HotspotStats, NetworkStats
from infocity.connectivity.service.base import (
    CODES,
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


def _hotspot_stats(
    spots: list[WifiHotspot], sessions: list[tuple[str, str, int]]
) -> list[HotspotStats]:
    connections: Counter[str] = Counter()
    devices: dict[str, set[str]] = defaultdict(set)
    octets: Counter[str] = Counter()
    for nas, mac, traffic in sessions:
        connections[nas] += 1
        devices[nas].add(mac)
        octets[nas] += traffic
    return [
        HotspotStats(
            hotspot_id=spot.id,
            name=spot.name,
            connections=connections[spot.nas_identifier],
            unique_devices=len(devices[spot.nas_identifier]),
            octets=octets[spot.nas_identifier],
        )
        for spot in spots
    ]


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
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=tz)
    end = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
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
        rows = uow.session.execute(
            select(
                SESSIONS.c.nas_identifier,
                SESSIONS.c.mac,
                SESSIONS.c.started_at,
                SESSIONS.c.stopped_at,
                SESSIONS.c.updated_at,
                SESSIONS.c.state,
                SESSIONS.c.input_octets,
                SESSIONS.c.output_octets,
            ).where(
                SESSIONS.c.started_at >= start,
                SESSIONS.c.started_at < end,
                SESSIONS.c.nas_identifier.in_([s.nas_identifier for s in spots]),
            )
        ).all()
        network_of = {spot.nas_identifier: spot.network_id for spot in spots}
        result = []
        for network in networks:
            mine = [row for row in rows if network_of[row.nas_identifier] == network.id]
            per_day = Counter(row.started_at.astimezone(tz).date() for row in mine)
            days = [
                DayCount(
                    day=first_day + timedelta(days=i), value=per_day[first_day + timedelta(days=i)]
                )
                for i in range((last_day - first_day).days + 1)
            ]
            intervals = [
                (
                    row.started_at,
                    row.stopped_at or (now if row.state == SessionState.OPEN else row.updated_at),
                )
                for row in mine
            ]
            result.append(
                NetworkStats(
                    network_id=network.id,
                    name=network.name,
                    days=days,
                    unique_devices=len({row.mac for row in mine}),
                    peak_concurrent=rules.peak_concurrent(intervals),
                    input_octets=sum(row.input_octets for row in mine),
                    output_octets=sum(row.output_octets for row in mine),
                    hotspots=_hotspot_stats(
                        [s for s in spots if s.network_id == network.id],
                        [(r.nas_identifier, r.mac, r.input_octets + r.output_octets) for r in mine],
                    ),
                )
            )
        return result
