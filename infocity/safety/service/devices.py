"""ONVIF device information: manufacturer, model, firmware and serial number of the
cameras that have credentials and an ONVIF address, asked directly (no discovery).

A round reads its targets, asks the devices outside any transaction, then records every
answer in one transaction (one bulk statement)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update

from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.safety import credentials, onvif
from infocity.safety.models import Camera
from infocity.safety.schemas import DeviceCycleRead

_CAMERAS = cast(Table, Camera.__table__)


def device_targets(
    actor: Principal | None, *, batch: int | None = None, uow: UnitOfWork | None = None
) -> list[onvif.DeviceTarget]:
    """The cameras with credentials and an ONVIF address, asked longest ago first."""
    authorize(actor, Action.SAFETY_PROBE)
    batch = batch or get_settings().safety_device_batch
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(Camera.id, Camera.onvif_url, Camera.credentials)
            .where(Camera.onvif_url.is_not(None), Camera.credentials.is_not(None))
            .order_by(Camera.device_checked_at.is_not(None), Camera.device_checked_at, Camera.id)
            .limit(batch)
        ).all()
    targets = []
    for row in rows:
        secret = credentials.decrypt(row.credentials)
        if secret is not None and row.onvif_url:
            targets.append(
                onvif.DeviceTarget(row.id, row.onvif_url, secret.username, secret.password)
            )
    return targets


def record_device_information(
    actor: Principal | None,
    answers: Sequence[onvif.DeviceInformation],
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> DeviceCycleRead:
    """Store what each device said; a device that could not be read keeps what it said
    last, with the reason it could not be read now."""
    authorize(actor, Action.SAFETY_PROBE)
    now = now or utcnow()
    read = [a for a in answers if a.error is None]
    failed = [a for a in answers if a.error is not None]
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if read:
            rows: list[dict[str, Any]] = [
                {
                    "b_id": a.camera_id,
                    "b_manufacturer": a.manufacturer,
                    "b_model": a.model,
                    "b_firmware": a.firmware,
                    "b_serial": a.serial,
                }
                for a in read
            ]
            session.execute(
                update(_CAMERAS)
                .where(_CAMERAS.c.id == bindparam("b_id"))
                .values(
                    device_manufacturer=bindparam("b_manufacturer"),
                    device_model=bindparam("b_model"),
                    device_firmware=bindparam("b_firmware"),
                    device_serial=bindparam("b_serial"),
                    device_checked_at=now,
                    device_error=None,
                ),
                rows,
            )
        if failed:
            session.execute(
                update(_CAMERAS)
                .where(_CAMERAS.c.id == bindparam("b_id"))
                .values(device_checked_at=now, device_error=bindparam("b_error")),
                [{"b_id": a.camera_id, "b_error": (a.error or "")[:300]} for a in failed],
            )
        uow.commit()
    return DeviceCycleRead(asked=len(answers), read=len(read), failed=len(failed))


def run_device_cycle(actor: Principal | None, *, now: datetime | None = None) -> DeviceCycleRead:
    """Ask the cameras with credentials for their ONVIF device information and store it."""
    settings = get_settings()
    targets = device_targets(actor)
    answers = onvif.read_devices(
        targets,
        concurrency=settings.safety_probe_concurrency,
        timeout=settings.safety_probe_timeout_seconds,
    )
    return record_device_information(actor, answers, now=now)
