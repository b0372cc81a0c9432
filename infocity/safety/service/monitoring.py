"""The probe cycles and what they change: the compact status history, each camera's
health, the outages and the messages to each building's security staff.

A cycle probes outside any transaction (the network may take seconds) and records all
its outcomes in one. Every change that tells someone is guarded: a camera's health moves
by ``UPDATE … WHERE health = <expected>`` and an outage opens by an insert that a unique
index lets happen once, so two workers recording the same change tell the staff once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.outbox import notify
from infocity.core.settings import get_settings
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.safety import credentials, probes
from infocity.safety.models import Building, Camera, Outage, StatusSpan
from infocity.safety.rules import PICTURE_FAILURES, Counters, Health, ProbeStatus, next_counters
from infocity.safety.schemas import CycleRead
from infocity.safety.service.base import _staff_of


def probe_targets(
    actor: Principal | None, *, frames: int | None = None, uow: UnitOfWork | None = None
) -> list[probes.ProbeTarget]:
    """Every camera's stream with its decrypted credentials (the fast cycle), or the
    ``frames`` cameras whose frame was checked longest ago (the slow cycle)."""
    authorize(actor, Action.SAFETY_PROBE)
    query = select(Camera.id, Camera.stream_url, Camera.credentials).order_by(Camera.id)
    if frames is not None:
        query = (
            select(Camera.id, Camera.stream_url, Camera.credentials)
            .order_by(Camera.frame_checked_at.is_not(None), Camera.frame_checked_at, Camera.id)
            .limit(frames)
        )
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(query).all()
    targets = []
    for row in rows:
        secret = credentials.decrypt(row.credentials) if row.credentials else None
        targets.append(
            probes.ProbeTarget(
                row.id,
                row.stream_url,
                secret.username if secret else None,
                secret.password if secret else None,
            )
        )
    return targets


@dataclass
class _Changes:
    went_down: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    came_up: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    opened: int = 0
    closed: int = 0


def _effective(camera: Camera, outcome: probes.ProbeOutcome, frame_check: bool) -> ProbeStatus:
    """The status to record: a frame check compares the picture with the last one; a fast
    probe that reaches a stream whose picture was bad keeps the picture's verdict, since
    only a new frame can clear it."""
    if frame_check:
        if outcome.status != ProbeStatus.OK:
            return outcome.status
        if camera.frame_hash is not None and camera.frame_hash == outcome.frame_hash:
            return ProbeStatus.FROZEN
        return ProbeStatus.OK
    if outcome.status == ProbeStatus.OK and camera.frame_status in PICTURE_FAILURES:
        return ProbeStatus(camera.frame_status)
    return outcome.status


def _record_span(
    session: Session,
    span: StatusSpan | None,
    camera_id: int,
    status: ProbeStatus,
    detail: str,
    now: datetime,
) -> None:
    if span is not None and span.status == status.value:
        span.probes += 1
        span.last_probe_at = now
        span.detail = detail[:300] or span.detail
        return
    if span is not None:
        span.ended_at = now
        session.flush()  # the current stretch ends before the next one begins (unique)
    session.add(
        StatusSpan(
            camera_id=camera_id,
            status=status.value,
            started_at=now,
            last_probe_at=now,
            probes=1,
            detail=detail[:300] or None,
        )
    )


def _move_health(session: Session, camera: Camera, ok: bool) -> Health | None:
    """Count the probe against the camera; the new health if it changed (guarded)."""
    settings = get_settings()
    current = Counters(Health(camera.health), camera.failures, camera.successes)
    after = next_counters(
        current,
        ok,
        failures_to_open=settings.safety_failures_to_open,
        successes_to_close=settings.safety_successes_to_close,
    )
    moved = dml(
        session,
        update(Camera)
        .where(Camera.id == camera.id, Camera.health == current.health.value)
        .values(health=after.health.value, failures=after.failures, successes=after.successes)
        .execution_options(synchronize_session=False),
    ).rowcount
    if moved != 1 or after.health == current.health:
        return None
    return after.health


def record_probe_results(
    actor: Principal | None,
    outcomes: Sequence[probes.ProbeOutcome],
    *,
    frame_check: bool = False,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CycleRead:
    """Record one cycle's outcomes: the status history, each camera's health, and the
    outages it opens or closes, each told to the building's security staff once."""
    authorize(actor, Action.SAFETY_PROBE)
    now = now or utcnow()
    by_camera = {o.camera_id: o for o in outcomes}
    changes = _Changes()
    failed = 0
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        cameras = list(
            session.scalars(select(Camera).where(Camera.id.in_(by_camera)).order_by(Camera.id))
        )
        spans = {
            s.camera_id: s
            for s in session.scalars(
                select(StatusSpan).where(
                    StatusSpan.camera_id.in_(by_camera), StatusSpan.ended_at.is_(None)
                )
            )
        }
        for camera in cameras:
            outcome = by_camera[camera.id]
            status = _effective(camera, outcome, frame_check)
            failed += status != ProbeStatus.OK
            _record_span(session, spans.get(camera.id), camera.id, status, outcome.detail, now)
            camera.status = status.value
            camera.probed_at = now
            if frame_check:
                camera.frame_checked_at = now
                camera.frame_status = status.value
                camera.frame_hash = outcome.frame_hash or camera.frame_hash
            session.flush()
            moved = _move_health(session, camera, status == ProbeStatus.OK)
            if moved == Health.DOWN:
                changes.went_down[camera.building_id].append(camera.id)
            elif moved == Health.UP:
                changes.came_up[camera.building_id].append(camera.id)
        session.expire_all()
        for building_id in sorted(set(changes.went_down) | set(changes.came_up)):
            _building_outages(session, building_id, changes, now)
        result = CycleRead(
            probed=len(cameras),
            failed=failed,
            went_down=sum(len(v) for v in changes.went_down.values()),
            came_up=sum(len(v) for v in changes.came_up.values()),
            outages_opened=changes.opened,
            outages_closed=changes.closed,
        )
        uow.commit()
        return result


def _open(
    session: Session, building_id: int, camera_id: int | None, announced: bool, now: datetime
) -> bool:
    """Open an outage unless the same one is open already (then nothing, and no message)."""
    insert = upsert_insert(session)
    opened = session.execute(
        insert(Outage)
        .values(building_id=building_id, camera_id=camera_id, opened_at=now, announced=announced)
        .on_conflict_do_nothing()
        .returning(Outage.id)
    ).scalar_one_or_none()
    return opened is not None


def _close(session: Session, outage_id: int, now: datetime) -> bool:
    """Close an open outage; False if someone closed it first."""
    statement = (
        update(Outage)
        .where(Outage.id == outage_id, Outage.closed_at.is_(None))
        .values(closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return dml(session, statement).rowcount == 1


def _building_outages(session: Session, building_id: int, changes: _Changes, now: datetime) -> None:
    building = session.get(Building, building_id)
    assert building is not None
    working = session.scalar(
        select(func.count())
        .select_from(Camera)
        .where(Camera.building_id == building_id, Camera.health != Health.DOWN.value)
    )
    dark = working == 0
    down = changes.went_down.get(building_id, [])
    codes: dict[int, str] = {
        row.id: row.code
        for row in session.execute(
            select(Camera.id, Camera.code).where(Camera.building_id == building_id)
        )
    }
    # The whole building going dark is one incident: its cameras' own outages open quietly.
    if down and dark and _open(session, building_id, None, True, now):
        changes.opened += 1
        _tell(session, building, "opened", None, codes, now)
    for camera_id in down:
        if _open(session, building_id, camera_id, not dark, now):
            changes.opened += 1
            if not dark:
                _tell(session, building, "opened", camera_id, codes, now)
    for camera_id in changes.came_up.get(building_id, []):
        outage = session.scalar(
            select(Outage).where(Outage.camera_id == camera_id, Outage.closed_at.is_(None))
        )
        if outage is not None and _close(session, outage.id, now):
            changes.closed += 1
            if outage.announced:
                _tell(session, building, "closed", camera_id, codes, now)
    if not dark:
        whole = session.scalar(
            select(Outage).where(
                Outage.building_id == building_id,
                Outage.camera_id.is_(None),
                Outage.closed_at.is_(None),
            )
        )
        if whole is not None and _close(session, whole.id, now):
            changes.closed += 1
            _tell(session, building, "closed", None, codes, now)


def _tell(
    session: Session,
    building: Building,
    event: str,
    camera_id: int | None,
    codes: dict[int, str],
    now: datetime,
) -> None:
    for user_id in _staff_of(session, building.id):
        notify(
            session,
            accounts.recipient_for_user(session, user_id),
            kind=f"safety.outage_{event}",
            template=f"safety/messages/outage_{event}.txt",
            context={
                "address": building.address,
                "camera": codes.get(camera_id) if camera_id else None,
                "cameras": len(codes),
                "at": now,
            },
            link=f"/safety/buildings/{building.id}",
        )


def run_fast_cycle(actor: Principal | None, *, now: datetime | None = None) -> CycleRead:
    """Probe every camera (TCP, then RTSP OPTIONS and DESCRIBE) and record the outcomes."""
    settings = get_settings()
    targets = probe_targets(actor)
    outcomes = probes.probe_streams(
        targets,
        concurrency=settings.safety_probe_concurrency,
        timeout=settings.safety_probe_timeout_seconds,
    )
    return record_probe_results(actor, outcomes, now=now)


def run_frame_cycle(actor: Principal | None, *, now: datetime | None = None) -> CycleRead:
    """Read one frame of the cameras checked longest ago, compare each with its last, and
    record the outcomes."""
    settings = get_settings()
    targets = probe_targets(actor, frames=settings.safety_frame_batch)
    outcomes = probes.grab_frames(
        targets,
        concurrency=settings.safety_frame_concurrency,
        timeout=settings.safety_frame_timeout_seconds,
    )
    return record_probe_results(actor, outcomes, frame_check=True, now=now)
