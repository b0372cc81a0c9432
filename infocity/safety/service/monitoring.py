"""The probe cycles and what they change: the compact status history, each camera's
health, the outages and the messages to each building's security staff.

A cycle probes outside any transaction (the network may take seconds) and records all
its outcomes in one, in bulk statements. Every change that tells someone is guarded: a
camera's health moves by ``UPDATE … WHERE health = <expected>`` and an outage opens by an
insert that a unique index lets happen once, so two workers recording the same change
queue one event; the worker fans it out to the staff (``notices``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, String, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.settings import get_settings
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.safety import credentials, probes
from infocity.safety.models import Camera, Outage, OutageEvent, StatusSpan
from infocity.safety.rules import PICTURE_FAILURES, Counters, Health, ProbeStatus, next_counters
from infocity.safety.schemas import CycleRead


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


@dataclass(frozen=True)
class _Probed:
    """A camera's row as the recording needs it (read once for the whole cycle)."""

    id: int
    building_id: int
    health: str
    failures: int
    successes: int
    frame_hash: str | None
    frame_status: str | None


def _effective(camera: _Probed, outcome: probes.ProbeOutcome, frame_check: bool) -> ProbeStatus:
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


_SPANS = cast(Table, StatusSpan.__table__)
_CAMERAS = cast(Table, Camera.__table__)


def _record_spans(
    session: Session,
    current: dict[int, tuple[int, str]],
    statuses: dict[int, tuple[ProbeStatus, str]],
    now: datetime,
) -> None:
    """The compact history in three bulk statements: stretches that go on count one more
    probe, stretches that end are closed, and the new ones are inserted after them (the
    unique index allows one current stretch per camera)."""
    going_on: list[dict[str, Any]] = []
    ending: list[dict[str, Any]] = []
    starting: list[dict[str, Any]] = []
    for camera_id, (status, detail) in statuses.items():
        span = current.get(camera_id)
        if span is not None and span[1] == status.value:
            going_on.append({"b_id": span[0], "b_detail": detail[:300] or None})
            continue
        if span is not None:
            ending.append({"b_id": span[0]})
        starting.append(
            {
                "camera_id": camera_id,
                "status": status.value,
                "started_at": now,
                "last_probe_at": now,
                "probes": 1,
                "detail": detail[:300] or None,
            }
        )
    if going_on:
        session.execute(
            update(_SPANS)
            .where(_SPANS.c.id == bindparam("b_id"))
            .values(
                probes=_SPANS.c.probes + 1,
                last_probe_at=now,
                detail=func.coalesce(bindparam("b_detail", type_=String), _SPANS.c.detail),
            ),
            going_on,
        )
    if ending:
        session.execute(
            update(_SPANS).where(_SPANS.c.id == bindparam("b_id")).values(ended_at=now), ending
        )
    if starting:
        session.execute(insert(_SPANS), starting)


def _record_cameras(
    session: Session,
    cameras: list[_Probed],
    statuses: dict[int, tuple[ProbeStatus, str]],
    hashes: dict[int, str | None],
    frame_check: bool,
    now: datetime,
    changes: _Changes,
) -> None:
    """Each camera's last status and probe counters; its health moves by a guarded update.

    Cameras whose health stays (or that are seen working for the first time) go in one
    bulk statement, still guarded on the health read, so a recorder that lost a race
    changes nothing; a camera going down or coming back is updated alone and counts only
    if its row count says this recorder moved it."""
    settings = get_settings()
    values: dict[str, Any] = {
        "health": bindparam("b_health"),
        "failures": bindparam("b_failures"),
        "successes": bindparam("b_successes"),
        "status": bindparam("b_status"),
        "probed_at": now,
    }
    if frame_check:
        values |= {
            "frame_checked_at": now,
            "frame_status": bindparam("b_status"),
            "frame_hash": func.coalesce(bindparam("b_hash", type_=String), _CAMERAS.c.frame_hash),
        }
    statement = (
        update(_CAMERAS)
        .where(_CAMERAS.c.id == bindparam("b_id"), _CAMERAS.c.health == bindparam("b_expected"))
        .values(**values)
    )
    staying: list[tuple[_Probed, Counters, dict[str, Any]]] = []
    moving: list[tuple[_Probed, Counters, dict[str, Any]]] = []
    for camera in cameras:
        status = statuses[camera.id][0]
        current = Counters(Health(camera.health), camera.failures, camera.successes)
        after = next_counters(
            current,
            status == ProbeStatus.OK,
            failures_to_open=settings.safety_failures_to_open,
            successes_to_close=settings.safety_successes_to_close,
        )
        row = {
            "b_id": camera.id,
            "b_expected": current.health.value,
            "b_health": after.health.value,
            "b_failures": after.failures,
            "b_successes": after.successes,
            "b_status": status.value,
            "b_hash": hashes.get(camera.id),
        }
        # A camera seen working for the first time opens or closes nothing: it goes with
        # the bulk (a city coming up at once is thousands of them).
        quiet = after.health == current.health or (
            current.health == Health.UNKNOWN and after.health == Health.UP
        )
        (staying if quiet else moving).append((camera, after, row))
    if staying:
        session.execute(statement, [row for _camera, _after, row in staying])
    for camera, after, row in moving:
        if cast(CursorResult[Any], session.execute(statement, row)).rowcount != 1:
            continue  # another recorder moved it first: it tells, not this one
        target = changes.went_down if after.health == Health.DOWN else changes.came_up
        target[camera.building_id].append(camera.id)


def record_probe_results(
    actor: Principal | None,
    outcomes: Sequence[probes.ProbeOutcome],
    *,
    frame_check: bool = False,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CycleRead:
    """Record one cycle's outcomes: the status history, each camera's health, and the
    outages it opens or closes, each queued once for the building's security staff."""
    authorize(actor, Action.SAFETY_PROBE)
    now = now or utcnow()
    by_camera = {o.camera_id: o for o in outcomes}
    changes = _Changes()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        cameras = [
            _Probed(*row)
            for row in session.execute(
                select(
                    Camera.id,
                    Camera.building_id,
                    Camera.health,
                    Camera.failures,
                    Camera.successes,
                    Camera.frame_hash,
                    Camera.frame_status,
                )
                .where(Camera.id.in_(by_camera))
                .order_by(Camera.id)
            )
        ]
        current = {
            row.camera_id: (row.id, row.status)
            for row in session.execute(
                select(StatusSpan.id, StatusSpan.camera_id, StatusSpan.status).where(
                    StatusSpan.camera_id.in_(by_camera), StatusSpan.ended_at.is_(None)
                )
            )
        }
        statuses = {
            c.id: (_effective(c, by_camera[c.id], frame_check), by_camera[c.id].detail)
            for c in cameras
        }
        hashes = {c.id: by_camera[c.id].frame_hash for c in cameras}
        _record_spans(session, current, statuses, now)
        _record_cameras(session, cameras, statuses, hashes, frame_check, now, changes)
        for building_id in sorted(set(changes.went_down) | set(changes.came_up)):
            _building_outages(session, building_id, changes, now)
        result = CycleRead(
            probed=len(cameras),
            failed=sum(status != ProbeStatus.OK for status, _detail in statuses.values()),
            went_down=sum(len(v) for v in changes.went_down.values()),
            came_up=sum(len(v) for v in changes.came_up.values()),
            outages_opened=changes.opened,
            outages_closed=changes.closed,
        )
        uow.commit()
        return result


def _open(
    session: Session, building_id: int, camera_id: int | None, announced: bool, now: datetime
) -> int | None:
    """Open an outage unless the same one is open already; its id, or None (then nothing
    is told)."""
    insert_ = upsert_insert(session)
    opened: int | None = session.execute(
        insert_(Outage)
        .values(building_id=building_id, camera_id=camera_id, opened_at=now, announced=announced)
        .on_conflict_do_nothing()
        .returning(Outage.id)
    ).scalar_one_or_none()
    return opened


def _close(session: Session, outage_id: int, now: datetime) -> bool:
    """Close an open outage; False if someone closed it first."""
    statement = (
        update(Outage)
        .where(Outage.id == outage_id, Outage.closed_at.is_(None))
        .values(closed_at=now)
        .execution_options(synchronize_session=False)
    )
    return dml(session, statement).rowcount == 1


def _queue(session: Session, outage_id: int, event: str, now: datetime) -> None:
    """One event for the worker to tell the building's staff (``notices``); nobody is
    looked up and nothing rendered here, inside the probe cycle's transaction."""
    session.execute(insert(OutageEvent).values(outage_id=outage_id, event=event, at=now))


def _building_outages(session: Session, building_id: int, changes: _Changes, now: datetime) -> None:
    working = session.scalar(
        select(func.count())
        .select_from(Camera)
        .where(Camera.building_id == building_id, Camera.health != Health.DOWN.value)
    )
    dark = working == 0
    down = changes.went_down.get(building_id, [])
    # The whole building going dark is one incident: its cameras' own outages open quietly.
    if down and dark and (whole_id := _open(session, building_id, None, True, now)):
        changes.opened += 1
        _queue(session, whole_id, "opened", now)
    for camera_id in down:
        if outage_id := _open(session, building_id, camera_id, not dark, now):
            changes.opened += 1
            if not dark:
                _queue(session, outage_id, "opened", now)
    for camera_id in changes.came_up.get(building_id, []):
        outage = session.execute(
            select(Outage.id, Outage.announced).where(
                Outage.camera_id == camera_id, Outage.closed_at.is_(None)
            )
        ).first()
        if outage is not None and _close(session, outage.id, now):
            changes.closed += 1
            if outage.announced:
                _queue(session, outage.id, "closed", now)
    if not dark:
        whole = session.scalar(
            select(Outage.id).where(
                Outage.building_id == building_id,
                Outage.camera_id.is_(None),
                Outage.closed_at.is_(None),
            )
        )
        if whole is not None and _close(session, whole, now):
            changes.closed += 1
            _queue(session, whole, "closed", now)
            _announce_still_down(session, building_id, now)


def _announce_still_down(session: Session, building_id: int, now: datetime) -> None:
    """The building is back but some of its cameras are not: their outages, opened
    quietly with the building's, are told now (once each, by a guarded update)."""
    quiet = session.scalars(
        select(Outage.id).where(
            Outage.building_id == building_id,
            Outage.camera_id.is_not(None),
            Outage.closed_at.is_(None),
            Outage.announced.is_(False),
        )
    ).all()
    for outage_id in quiet:
        told = dml(
            session,
            update(Outage)
            .where(Outage.id == outage_id, Outage.announced.is_(False))
            .values(announced=True)
            .execution_options(synchronize_session=False),
        ).rowcount
        if told == 1:
            _queue(session, outage_id, "opened", now)


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
