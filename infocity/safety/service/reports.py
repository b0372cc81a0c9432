"""Reports: uptime of cameras, buildings and districts over a period, coverage of schools
by working perimeter cameras, the current outages, and the uptime as CSV."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select

from infocity.city import service as city
from infocity.core.auth import Action, Principal, allowed, authorize
from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.safety import errors
from infocity.safety.models import Building, Camera, Outage, StatusSpan
from infocity.safety.rules import Health, Placement, ProbeStatus, Span, observed_and_up, share
from infocity.safety.schemas import (
    CoverageRead,
    DistrictStateRead,
    OutageRead,
    UptimeReport,
    UptimeRow,
)
from infocity.safety.service.base import _outage_read, _visible_buildings


def _row(
    kind: str, id_: int | None, name: str, observed: float, up: float, name_en: str | None = None
) -> UptimeRow:
    return UptimeRow(
        kind=kind,
        id=id_,
        name=name,
        name_en=name_en,
        uptime=share(up, observed),
        observed_hours=observed / 3600,
    )


def _district_names(uow: UnitOfWork) -> dict[int | None, tuple[str, str | None]]:
    names: dict[int | None, tuple[str, str | None]] = {
        d.id: (d.name, d.name_en) for d in city.list_districts(uow=uow)
    }
    names[None] = ("—", "—")
    return names


def uptime_report(
    actor: Principal | None,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> UptimeReport:
    """The share of the observed time each camera, building and district worked in
    ``[start, end)`` (analysts and city administrators)."""
    authorize(actor, Action.SAFETY_REPORTS)
    if end <= start:
        raise errors.PeriodInvalid()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        districts = _district_names(uow)
        buildings = {
            b.id: (b.address, b.district_id)
            for b in uow.session.execute(
                select(Building.id, Building.address, Building.district_id)
            )
        }
        cameras = uow.session.execute(
            select(Camera.id, Camera.code, Camera.building_id).order_by(Camera.code)
        ).all()
        spans: dict[int, list[Span]] = defaultdict(list)
        rows = uow.session.execute(
            select(
                StatusSpan.camera_id, StatusSpan.status, StatusSpan.started_at, StatusSpan.ended_at
            ).where(
                StatusSpan.started_at < end,
                (StatusSpan.ended_at.is_(None)) | (StatusSpan.ended_at > start),
            )
        )
        for row in rows:
            spans[row.camera_id].append(Span(ProbeStatus(row.status), row.started_at, row.ended_at))
    per_camera: list[UptimeRow] = []
    # [observed seconds, working seconds] of each building and each district
    per_building: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0])
    per_district: dict[int | None, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for camera in cameras:
        observed, up = observed_and_up(spans[camera.id], start, end, now)
        per_camera.append(_row("camera", camera.id, camera.code, observed, up))
        district_id = buildings[camera.building_id][1]
        for bucket in (per_building[camera.building_id], per_district[district_id]):
            bucket[0] += observed
            bucket[1] += up
    return UptimeReport(
        start=start,
        end=end,
        cameras=per_camera,
        buildings=[
            _row("building", b, buildings[b][0], per_building[b][0], per_building[b][1])
            for b in sorted(per_building)
        ],
        districts=[
            _row(
                "district",
                d,
                districts[d][0],
                per_district[d][0],
                per_district[d][1],
                name_en=districts[d][1],
            )
            for d in sorted(per_district, key=lambda d: d or 0)
        ],
    )


def uptime_csv(report: UptimeReport) -> str:
    """The uptime report as CSV: one line per camera, building and district."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kind", "id", "name", "uptime", "observed_hours"])
    for row in [*report.districts, *report.buildings, *report.cameras]:
        uptime = "" if row.uptime is None else f"{row.uptime:.4f}"
        writer.writerow([row.kind, row.id or "", row.name, uptime, f"{row.observed_hours:.2f}"])
    return out.getvalue()


def coverage(
    actor: Principal | None,
    start: datetime,
    end: datetime,
    *,
    min_perimeter: int = 2,
    min_uptime: float = 0.95,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CoverageRead:
    """The schools with at least ``min_perimeter`` perimeter cameras in every building
    working now, and over the period (each such camera up at least ``min_uptime`` of it)."""
    report = uptime_report(actor, start, end, now=now, uow=uow)
    uptime = {r.id: r.uptime for r in report.cameras}
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(
                Building.school_id, Building.id, Camera.id, Camera.health, Camera.placement
            ).join(Camera, Camera.building_id == Building.id, isouter=True)
        ).all()
    now_ok: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    period_ok: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for school_id, building_id, camera_id, health, placement in rows:
        now_ok[school_id][building_id] += 0
        period_ok[school_id][building_id] += 0
        if camera_id is None or placement != Placement.PERIMETER.value:
            continue
        now_ok[school_id][building_id] += health == Health.UP.value
        period_ok[school_id][building_id] += (uptime.get(camera_id) or 0) >= min_uptime
    schools = len(now_ok)
    covered_now = sum(all(n >= min_perimeter for n in b.values()) for b in now_ok.values())
    covered_period = sum(all(n >= min_perimeter for n in b.values()) for b in period_ok.values())
    return CoverageRead(
        min_perimeter=min_perimeter,
        schools=schools,
        covered_now=covered_now,
        covered_over_period=covered_period,
        share_now=share(covered_now, schools),
        share_over_period=share(covered_period, schools),
    )


def current_outages(actor: Principal | None, *, uow: UnitOfWork | None = None) -> list[OutageRead]:
    """The outages open now, oldest first (security staff: of their buildings; analysts
    and city administrators: all)."""
    if actor is not None and allowed(actor, Action.SAFETY_REPORTS):
        actor = authorize(actor, Action.SAFETY_REPORTS)
    else:
        actor = authorize(actor, Action.SAFETY_MONITOR)
    uow = uow or UnitOfWork()
    with uow:
        visible = _visible_buildings(uow.session, actor)
        query = (
            select(Outage, Building, Camera.code)
            .join(Building, Building.id == Outage.building_id)
            .join(Camera, Camera.id == Outage.camera_id, isouter=True)
            .where(Outage.closed_at.is_(None), Outage.announced.is_(True))
            .order_by(Outage.opened_at, Outage.id)
        )
        if visible is not None:
            query = query.where(Outage.building_id.in_(visible))
        return [_outage_read(o, b, code) for o, b, code in uow.session.execute(query).all()]


def district_states(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[DistrictStateRead]:
    """Each district's cameras, those out of order and the buildings dark now (the map)."""
    authorize(actor, Action.SAFETY_REPORTS)
    uow = uow or UnitOfWork()
    with uow:
        names = _district_names(uow)
        rows = uow.session.execute(
            select(Building.district_id, Building.id, Camera.health).join(
                Camera, Camera.building_id == Building.id
            )
        ).all()
    cameras: dict[int | None, int] = defaultdict(int)
    down: dict[int | None, int] = defaultdict(int)
    working: dict[tuple[int | None, int], int] = defaultdict(int)
    for district_id, building_id, health in rows:
        cameras[district_id] += 1
        down[district_id] += health == Health.DOWN.value
        working[(district_id, building_id)] += health != Health.DOWN.value
    dark: dict[int | None, int] = defaultdict(int)
    for (district_id, _building), count in working.items():
        dark[district_id] += count == 0
    return [
        DistrictStateRead(
            district_id=d,
            name=names.get(d, ("—", None))[0],
            name_en=names.get(d, ("—", None))[1],
            cameras=cameras[d],
            down=down[d],
            buildings_dark=dark[d],
        )
        for d in sorted(cameras, key=lambda d: names.get(d, ("—", None))[0])
    ]
