"""Telling security staff of their buildings' outages, after the probe cycle committed.

The probe cycle queues one ``OutageEvent`` per outage opened or closed; the worker fans
each out here to the building's security staff, so the cycle's transaction looks up no
recipient and renders no message however many outages it opens.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.outbox import notify
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.safety.models import Building, Camera, Outage, OutageEvent
from infocity.safety.service.base import _staff_of

FAN_OUT_BATCH = 200


def fan_out_outage_events(
    actor: Principal | None,
    *,
    batch: int = FAN_OUT_BATCH,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> int:
    """Tell each building's security staff of up to ``batch`` outages opened or closed
    and not told yet; how many messages were queued (one per event and person)."""
    authorize(actor, Action.SAFETY_PROBE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        # Locked and skipped: two workers share the backlog instead of racing for it.
        rows = session.execute(
            select(OutageEvent, Outage, Building)
            .join(Outage, Outage.id == OutageEvent.outage_id)
            .join(Building, Building.id == Outage.building_id)
            .where(OutageEvent.fanned_out_at.is_(None))
            .order_by(OutageEvent.id)
            .limit(batch)
            .with_for_update(of=OutageEvent, skip_locked=True)
        ).all()
        told = 0
        for event, outage, building in rows:
            # Taken by a guarded update: an event is told once, whoever gets to it.
            taken = dml(
                session,
                update(OutageEvent)
                .where(OutageEvent.id == event.id, OutageEvent.fanned_out_at.is_(None))
                .values(fanned_out_at=now)
                .execution_options(synchronize_session=False),
            ).rowcount
            if taken == 1:
                told += _tell(uow, event, outage, building)
        uow.commit()
        return told


def _tell(uow: UnitOfWork, event: OutageEvent, outage: Outage, building: Building) -> int:
    session = uow.session
    code = (
        session.scalar(select(Camera.code).where(Camera.id == outage.camera_id))
        if outage.camera_id is not None
        else None
    )
    cameras = session.scalar(
        select(func.count()).select_from(Camera).where(Camera.building_id == building.id)
    )
    staff = _staff_of(session, building.id)
    for user_id in staff:
        notify(
            session,
            accounts.recipient_for_user(session, user_id),
            kind=f"safety.outage_{event.event}",
            template=f"safety/messages/outage_{event.event}.txt",
            context={
                "address": building.address,
                "camera": code,
                "cameras": cameras,
                "at": event.at,
            },
            link=f"/safety/buildings/{building.id}",
        )
    return len(staff)
