"""Outage notifications: the probe cycle's transaction only queues one event per outage
opened or closed; the worker's job tells each of the building's security staff once
per event, and a whole building going dark is one incident with one message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from infocity.core.auth import SYSTEM, Role
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.safety import jobs, service
from infocity.safety.models import OutageEvent
from infocity.safety.probes import ProbeOutcome
from infocity.safety.rules import ProbeStatus
from tests.builders import make_staff
from tests.safety_builders import one_guarded_building

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _inbox(uow: UnitOfWork, user_id: int) -> list[str]:
    with uow:
        return list(
            uow.session.scalars(
                select(OutboxMessage.kind)
                .where(OutboxMessage.user_id == user_id, OutboxMessage.channel == "inbox")
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        )


def _events(uow: UnitOfWork) -> int:
    with uow:
        return int(uow.session.scalar(select(func.count()).select_from(OutageEvent)) or 0)


def _probe(ids: dict[str, int], statuses: dict[str, ProbeStatus], minutes: range) -> None:
    for minute in minutes:
        service.record_probe_results(
            SYSTEM,
            [ProbeOutcome(ids[code], status) for code, status in statuses.items()],
            now=T0 + timedelta(minutes=minute),
        )


def test_each_outage_open_and_close_is_told_once_by_the_worker(uow: UnitOfWork) -> None:
    building, guard, ids = one_guarded_building(
        {"N-1": "rtsp://192.0.2.21/a", "N-2": "rtsp://192.0.2.22/a", "N-3": "rtsp://192.0.2.23/a"}
    )
    deputy = make_staff(Role.SECURITY_STAFF)
    service.assign_building_staff(SYSTEM, building.id, deputy.id)
    ok, refused = ProbeStatus.OK, ProbeStatus.REFUSED

    # One camera fails three times in a row: one outage, one event, nobody told yet.
    _probe(ids, {"N-1": refused, "N-2": ok, "N-3": ok}, range(3))
    assert _events(uow) == 1
    assert _inbox(uow, guard.id) == []
    assert service.fan_out_outage_events(SYSTEM) == 2  # the guard and the deputy
    assert service.fan_out_outage_events(SYSTEM) == 0  # told once, however often it runs
    assert _inbox(uow, guard.id) == _inbox(uow, deputy.id) == ["safety.outage_opened"]
    assert [o.camera_code for o in service.current_outages(guard.principal)] == ["N-1"]

    # The rest of the building goes dark: one incident, one message, not one per camera.
    _probe(ids, {"N-1": refused, "N-2": refused, "N-3": refused}, range(3, 6))
    jobs.fan_out()  # the worker's periodic job
    assert _inbox(uow, guard.id) == ["safety.outage_opened"] * 2
    dark = service.current_outages(guard.principal)
    assert [o.camera_id for o in dark] == [ids["N-1"], None]  # oldest first

    # One camera is back: the building's incident closes with one message, and the
    # cameras still out of order, quiet while the building was dark, are told now.
    _probe(ids, {"N-2": ok}, range(6, 8))
    jobs.fan_out()
    told = sorted(_inbox(uow, guard.id))
    assert told == ["safety.outage_closed"] + ["safety.outage_opened"] * 3
    assert [o.camera_code for o in service.current_outages(guard.principal)] == ["N-1", "N-3"]
    # The first camera back: its outage closes with one message; nothing is told twice.
    _probe(ids, {"N-1": ok}, range(8, 10))
    jobs.fan_out()
    told = sorted(_inbox(uow, guard.id))
    assert told == ["safety.outage_closed"] * 2 + ["safety.outage_opened"] * 3
    assert sorted(_inbox(uow, deputy.id)) == told
    assert [o.camera_code for o in service.current_outages(guard.principal)] == ["N-3"]
    assert service.fan_out_outage_events(SYSTEM) == 0
