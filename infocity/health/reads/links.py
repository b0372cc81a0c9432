"""An appointment opened from a reminder's signed link (no login: the token is the authority)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from infocity.core.db import utcnow
from infocity.core.uow import UnitOfWork
from infocity.health import errors, service
from infocity.health.reads.base import APPOINTMENTS, _one_appointment
from infocity.health.reads.shapes import LinkedAppointment


def appointment_by_link(
    appointment_id: int,
    action: str,
    token: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LinkedAppointment:
    """The appointment a reminder's signed link is for (no login: the token is the
    authority); a forged, altered or expired link is ``invalid_link``."""
    now = now or utcnow()
    service.verify_appointment_link(appointment_id, action, token, now=now)
    uow = uow or UnitOfWork()
    with uow:
        try:
            appointment = _one_appointment(uow, appointment_id, now)
        except errors.AppointmentNotFound as exc:
            raise errors.InvalidLink() from exc
        confirmed_at = uow.session.scalar(
            select(APPOINTMENTS.c.confirmed_at).where(APPOINTMENTS.c.id == appointment_id)
        )
        return LinkedAppointment(appointment, action, token, confirmed_at)
