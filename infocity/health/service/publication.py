"""Publication of free times to other systems (SMART Scheduling Links): every free,
released, future slot of the city, read in batches by id so that no transaction stays
open while a large file is written out."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health.models import Practitioner
from infocity.health.rules import SlotStatus
from infocity.health.schemas import SlotRead
from infocity.health.service.base import SLOTS

PUBLISH_BATCH = 5000


def published_slots(
    after_id: int = 0,
    *,
    limit: int = PUBLISH_BATCH,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[SlotRead]:
    """The next ``limit`` bookable slots of the city after ``after_id``, by id: free,
    released and not started (what the app and the portal would offer)."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        query = (
            select(
                SLOTS.c.id,
                SLOTS.c.clinic_id,
                SLOTS.c.practitioner_id,
                Practitioner.name.label("practitioner_name"),
                Practitioner.room,
                SLOTS.c.specialty_id,
                SLOTS.c.starts_at,
                SLOTS.c.ends_at,
            )
            .join(Practitioner, Practitioner.id == SLOTS.c.practitioner_id)
            .where(
                SLOTS.c.id > after_id,
                SLOTS.c.status == SlotStatus.FREE,
                SLOTS.c.release_at <= now,
                SLOTS.c.starts_at > now,
            )
            .order_by(SLOTS.c.id)
            .limit(limit)
        )
        return [
            SlotRead.model_validate(row, from_attributes=True) for row in uow.session.execute(query)
        ]
