"""Camera probes against a real RTSP server on loopback (one good stream, one frozen, a
closed port, a silent host): the states they reach, the outages they open and close, and
exactly one message to the building's security staff per outage opened and closed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from infocity.core.auth import SYSTEM
from infocity.core.models import OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.safety import service
from infocity.safety.errors import CameraFileRefused
from infocity.safety.models import Camera, StatusSpan
from infocity.safety.probes import ProbeOutcome
from infocity.safety.rules import ProbeStatus
from tests.safety_builders import CSV_HEADER, camera_line, guarded_building, make_school
from tests.support.rtsp import Cameras, rtsp_cameras

__all__ = ["rtsp_cameras"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def quick_probes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("INFOCITY_SAFETY_FAILURES_TO_OPEN", "2")
    monkeypatch.setenv("INFOCITY_SAFETY_SUCCESSES_TO_CLOSE", "1")
    monkeypatch.setenv("INFOCITY_SAFETY_PROBE_TIMEOUT_SECONDS", "3")
    monkeypatch.setenv("INFOCITY_SAFETY_FRAME_TIMEOUT_SECONDS", "12")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _messages(uow: UnitOfWork, user_id: int) -> list[str]:
    """The staff's messages once the worker has fanned the outage events out."""
    service.fan_out_outage_events(SYSTEM)
    with uow:
        return list(
            uow.session.scalars(
                select(OutboxMessage.kind)
                .where(OutboxMessage.user_id == user_id, OutboxMessage.channel == "inbox")
                .order_by(OutboxMessage.created_at)
            )
        )


def _statuses(uow: UnitOfWork) -> dict[str, tuple[str | None, str]]:
    with uow:
        return {c.code: (c.status, c.health) for c in uow.session.scalars(select(Camera))}


def test_probes_find_each_state_and_tell_staff_once_per_outage(
    uow: UnitOfWork, rtsp_cameras: Cameras, quick_probes: None
) -> None:
    school = make_school(buildings=2)
    (_main, guard), (_annex, annex_guard) = guarded_building(school, 0), guarded_building(school, 1)

    # A file with a bad line and a camera twice is refused whole, with the lines named.
    bad = (
        CSV_HEADER
        + camera_line(school, 0, "C-1", rtsp_cameras.good)
        + camera_line(school, 0, "C-2", "http://nowhere/")
        + camera_line(school, 0, "C-1", rtsp_cameras.good)
    )
    with pytest.raises(CameraFileRefused) as refused:
        service.import_cameras(SYSTEM, bad)
    assert [p.line for p in refused.value.problems] == [3, 4]
    good_file = (
        CSV_HEADER
        + camera_line(school, 0, "C-GOOD", rtsp_cameras.good, login="guard", password="s3cret")
        + camera_line(school, 0, "C-FROZEN", rtsp_cameras.frozen, "entrance")
        + camera_line(school, 0, "C-CLOSED", rtsp_cameras.closed, "corridor")
        + camera_line(school, 1, "C-SILENT", rtsp_cameras.silent)
    )
    assert service.import_cameras(SYSTEM, good_file).created == 4
    with pytest.raises(CameraFileRefused):  # the same cameras again
        service.import_cameras(SYSTEM, good_file)
    with uow:
        stored = uow.session.scalar(select(Camera.credentials).where(Camera.code == "C-GOOD"))
    assert stored is not None
    assert "s3cret" not in stored

    # Fast cycles: two failures in a row open the outages; the annex is dark as a whole.
    for minute in (0, 1):
        service.run_fast_cycle(SYSTEM, now=T0 + timedelta(minutes=minute))
    states = _statuses(uow)
    assert states["C-GOOD"] == ("ok", "up")
    assert states["C-FROZEN"] == ("ok", "up")
    assert states["C-CLOSED"] == ("refused", "down")
    assert states["C-SILENT"] == ("timeout", "down")
    assert _messages(uow, guard.id) == ["safety.outage_opened"]
    assert _messages(uow, annex_guard.id) == ["safety.outage_opened"]
    annex_outages = service.current_outages(annex_guard.principal)
    assert [(o.camera_id, o.address) for o in annex_outages] == [(None, school.buildings[1])]

    # Frame checks: the still picture repeats, the moving one does not.
    for minute in (2, 3):
        service.run_frame_cycle(SYSTEM, now=T0 + timedelta(minutes=minute))
    service.run_fast_cycle(SYSTEM, now=T0 + timedelta(minutes=4))
    states = _statuses(uow)
    assert states["C-GOOD"] == ("ok", "up")
    assert states["C-FROZEN"] == ("frozen", "down")
    assert _messages(uow, guard.id) == ["safety.outage_opened"] * 2
    mine = service.current_outages(guard.principal)
    assert {o.camera_code for o in mine} == {"C-CLOSED", "C-FROZEN"}

    # Repaired: one good probe closes each outage, told once; more good probes tell nothing.
    # (A picture failure is cleared only by a frame check that sees a new picture.)
    ids = _ids(uow)
    for minute in (5, 6):
        service.record_probe_results(
            SYSTEM,
            [
                ProbeOutcome(ids["C-CLOSED"], ProbeStatus.OK, frame_hash=f"closed{minute}"),
                ProbeOutcome(ids["C-SILENT"], ProbeStatus.OK, frame_hash=f"silent{minute}"),
            ],
            frame_check=True,
            now=T0 + timedelta(minutes=minute),
        )
    assert _messages(uow, guard.id) == ["safety.outage_opened"] * 2 + ["safety.outage_closed"]
    assert _messages(uow, annex_guard.id) == ["safety.outage_opened", "safety.outage_closed"]
    assert service.current_outages(annex_guard.principal) == []

    # The history is compact: the good camera's five probes are one stretch.
    with uow:
        spans = [
            (s.status, s.probes)
            for s in uow.session.scalars(
                select(StatusSpan).where(StatusSpan.camera_id == ids["C-GOOD"])
            )
        ]
    assert spans == [("ok", 5)]
    report = service.uptime_report(
        SYSTEM, T0, T0 + timedelta(minutes=10), now=T0 + timedelta(minutes=7)
    )
    uptime = {r.name: r.uptime for r in report.cameras}
    assert uptime["C-GOOD"] == 1.0
    assert uptime["C-CLOSED"] == pytest.approx(2 / 7)
    assert "C-GOOD" in service.uptime_csv(report)


def _ids(uow: UnitOfWork) -> dict[str, int]:
    with uow:
        return {r.code: r.id for r in uow.session.execute(select(Camera.code, Camera.id))}


def test_a_frame_grab_runs_below_the_city_s_processes_in_the_cpu_queue(tmp_path: Path) -> None:
    """A check of every camera must not take the cores from bookings and notices on the
    same machine: ffmpeg runs niced. A stand-in for ffmpeg writes its own niceness as the
    'frame', so the frame's hash says at what priority it ran."""
    import asyncio
    import hashlib
    import os
    import shutil

    from infocity.safety.probes import ProbeTarget, grab_frame

    if shutil.which("nice") is None:
        pytest.skip("no nice(1) on this machine: frame grabs run at the default priority")
    fake = tmp_path / "ffmpeg"
    fake.write_text("#!/bin/sh\nnice\n")  # nice(1) without a command prints the niceness
    fake.chmod(0o755)
    outcome = asyncio.run(
        grab_frame(ProbeTarget(1, "rtsp://camera.invalid/stream"), 10.0, ffmpeg=str(fake))
    )
    expected = min(os.nice(0) + 10, 19)
    assert outcome.status == ProbeStatus.OK
    assert outcome.frame_hash == hashlib.sha256(f"{expected}\n".encode()).hexdigest()
