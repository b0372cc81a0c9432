"""Reminders and the one-click links in them (confirm, cancel)."""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import exists, func, select, update

from infocity.core.db import utcnow
from infocity.core.settings import get_settings
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.health import errors
from infocity.health.metrics import counted
from infocity.health.models import Appointment
from infocity.health.rules import AppointmentStatus
from infocity.health.schemas import AppointmentRead
from infocity.health.service.base import (
    APPOINTMENT_COLUMNS,
    APPOINTMENTS,
    JOB_BATCH,
    REMINDERS,
    _appointment_read,
    _notify,
)
from infocity.health.service.booking import _cancel

LINK_ACTIONS = ("confirm", "cancel")


def _link_serializer(action: str) -> URLSafeSerializer:
    if action not in LINK_ACTIONS:
        raise ValueError(f"unknown link action {action!r}")
    # The salt scopes a token to its action: a "confirm" token cannot cancel.
    return URLSafeSerializer(get_settings().secret_key, salt=f"health.appointment.{action}")


def appointment_link_token(appointment_id: int, action: str, starts_at: datetime) -> str:
    """A signed token for a one-click ``confirm`` or ``cancel`` of one appointment, valid
    until the appointment starts."""
    return _link_serializer(action).dumps({"a": appointment_id, "e": int(starts_at.timestamp())})


def _check_link(appointment_id: int, action: str, token: str, now: datetime) -> None:
    try:
        payload = _link_serializer(action).loads(token)
    except BadSignature as exc:
        raise errors.InvalidLink() from exc
    if (
        not isinstance(payload, dict)
        or payload.get("a") != appointment_id
        or not isinstance(payload.get("e"), int)
        or payload["e"] <= now.timestamp()
    ):
        raise errors.InvalidLink()


def verify_appointment_link(
    appointment_id: int, action: str, token: str, *, now: datetime | None = None
) -> None:
    """Refuse (``invalid_link``) a token that is not a valid ``action`` link of this
    appointment; writes nothing."""
    if action not in LINK_ACTIONS:
        raise errors.InvalidLink()
    _check_link(appointment_id, action, token, now or utcnow())


def appointment_links(appointment_id: int, starts_at: datetime) -> dict[str, str]:
    """The one-click confirm and cancel URLs of an appointment: pages that open from an
    e-mail (GET), show the appointment and do it with one button."""
    base = get_settings().base_url.rstrip("/")
    return {
        f"{action}_link": (
            f"{base}/health/appointments/{appointment_id}/{action}"
            f"?token={appointment_link_token(appointment_id, action, starts_at)}"
        )
        for action in LINK_ACTIONS
    }


def reminder_offsets() -> list[int]:
    """The configured reminder offsets in hours, largest first."""
    offsets = set()
    for part in get_settings().reminder_offsets_hours.split(","):
        if part.strip():
            offsets.add(int(part))
    return sorted((h for h in offsets if h > 0), reverse=True)


def send_due_reminders(*, now: datetime | None = None, uow: UnitOfWork | None = None) -> int:
    """Queue the reminders that are due, once per appointment and offset (periodic job);
    return how many appointments were reminded."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    offsets = reminder_offsets()
    sent = 0
    for index, hours in enumerate(offsets):
        # Due: starting within ``hours`` but not yet within the next, smaller offset
        # (that one reminds instead), and booked before this reminder's moment.
        nearer = offsets[index + 1] if index + 1 < len(offsets) else 0
        with uow:
            session = uow.session
            candidates = session.execute(
                select(APPOINTMENTS.c.id, APPOINTMENTS.c.clinic_id, APPOINTMENTS.c.starts_at,
                       APPOINTMENTS.c.created_at)
                .where(
                    APPOINTMENTS.c.status == AppointmentStatus.BOOKED,
                    APPOINTMENTS.c.starts_at > now + timedelta(hours=nearer),
                    APPOINTMENTS.c.starts_at <= now + timedelta(hours=hours),
                    ~exists().where(
                        REMINDERS.c.appointment_id == APPOINTMENTS.c.id,
                        REMINDERS.c.offset_hours == hours,
                    ),
                )
                .order_by(APPOINTMENTS.c.starts_at)
                .limit(JOB_BATCH)
            ).all()  # fmt: skip
            rows = [
                {"appointment_id": c.id, "offset_hours": hours, "clinic_id": c.clinic_id,
                 "queued_at": now}
                for c in candidates
                if c.created_at <= c.starts_at - timedelta(hours=hours)
            ]  # fmt: skip
            if not rows:
                continue
            # The claim: the primary key (appointment, offset) lets one insert win, so
            # two workers never queue the same reminder; only what we inserted is sent.
            claimed = list(
                session.scalars(
                    upsert_insert(session)(REMINDERS)
                    .values(rows)
                    .on_conflict_do_nothing(index_elements=["appointment_id", "offset_hours"])
                    .returning(REMINDERS.c.appointment_id)
                )
            )
            for row in session.execute(
                select(*APPOINTMENT_COLUMNS).where(APPOINTMENTS.c.id.in_(claimed))
            ):
                appointment = _appointment_read(row)
                _notify(
                    uow,
                    appointment,
                    "appointment_reminder",
                    appointment_links(appointment.id, appointment.starts_at),
                )
            sent += len(claimed)
            uow.commit()
    return sent


def confirm_by_link(
    appointment_id: int,
    token: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Confirm an appointment from a reminder's one-click link."""
    now = now or utcnow()
    _check_link(appointment_id, "confirm", token, now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        # Guarded: only a booked, future appointment is confirmed; a second click keeps
        # the first confirmation time.
        confirmed = dml(
            session,
            update(APPOINTMENTS)
            .where(
                APPOINTMENTS.c.id == appointment_id,
                APPOINTMENTS.c.status == AppointmentStatus.BOOKED,
                APPOINTMENTS.c.starts_at > now,
            )
            .values(confirmed_at=func.coalesce(APPOINTMENTS.c.confirmed_at, now))
            .returning(*APPOINTMENT_COLUMNS),
        ).one_or_none()
        if confirmed is None:
            if session.get(Appointment, appointment_id) is None:
                raise errors.InvalidLink()
            raise errors.AppointmentNotActive()
        result = _appointment_read(confirmed)
        uow.commit()
        return result


@counted("cancel")
def cancel_by_link(
    appointment_id: int,
    token: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AppointmentRead:
    """Cancel an appointment from a reminder's one-click link (the slot is freed at once
    and offered to the waiting list)."""
    now = now or utcnow()
    _check_link(appointment_id, "cancel", token, now)
    uow = uow or UnitOfWork()
    with uow:
        appointment = uow.session.get(Appointment, appointment_id)
        if appointment is None:
            raise errors.InvalidLink()
        result = _cancel(uow, appointment, None, now)
        uow.commit()
        return result
