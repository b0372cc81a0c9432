"""The registry, who sees what, the reports and their pages; and two workers recording
the same failure at once on PostgreSQL open one outage and tell the guard once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import Forbidden
from infocity.core.models import OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.safety import credentials, errors, service
from infocity.safety.models import Building, Outage
from infocity.safety.probes import ProbeOutcome
from infocity.safety.rules import ProbeStatus
from infocity.safety.schemas import BuildingCreate
from tests.builders import api_token, bearer, logged_in, make_staff
from tests.safety_builders import (
    CSV_HEADER,
    camera_line,
    guarded_building,
    make_school,
    one_guarded_building,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _count(uow: UnitOfWork, model: type[Building] | type[Outage]) -> int:
    with uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_registry_scopes_and_reports(
    uow: UnitOfWork, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    school = make_school(buildings=2)
    (main, guard), (annex, _annex_guard) = guarded_building(school, 0), guarded_building(school, 1)
    buildings = _count(uow, Building)
    with pytest.raises(errors.NotASchoolBuilding):
        service.register_building(SYSTEM, BuildingCreate(school_id=school.id, address="Нет"))
    with pytest.raises(errors.BuildingAlreadyRegistered):
        service.register_building(
            SYSTEM, BuildingCreate(school_id=school.id, address=school.buildings[0])
        )
    with pytest.raises(errors.NotSecurityStaff):
        service.assign_building_staff(SYSTEM, main.id, make_staff(Role.ANALYST).id)
    assert _count(uow, Building) == buildings
    with pytest.raises(Forbidden):
        service.register_building(
            guard.principal, BuildingCreate(school_id=school.id, address=school.buildings[0])
        )

    # A file naming a building the education directory lacks is refused by line.
    with pytest.raises(errors.CameraFileRefused) as refused:
        service.import_cameras(
            SYSTEM, CSV_HEADER + f"{school.id},Нет такого,X-1,rtsp://h/x,perimeter,M,,,\n"
        )
    assert [p.line for p in refused.value.problems] == [2]
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    monkeypatch.setenv("INFOCITY_SAFETY_CREDENTIAL_KEYS", old_key)
    get_settings.cache_clear()
    service.import_cameras(
        SYSTEM,
        CSV_HEADER
        + camera_line(school, 0, "P-1", "rtsp://192.0.2.1/a", login="admin", password="pw")
        + camera_line(school, 0, "P-2", "rtsp://192.0.2.2/a")
        + camera_line(school, 1, "P-3", "rtsp://192.0.2.3/a"),
    )

    # Each guard sees their own building only.
    assert [b.id for b in service.list_my_buildings(guard.principal)] == [main.id]
    with pytest.raises(errors.BuildingNotFound):
        service.get_building_status(guard.principal, annex.id)
    with pytest.raises(Forbidden):
        service.uptime_report(guard.principal, T0, T0 + timedelta(hours=1))

    # Half an hour working, then the annex's camera fails for good.
    ids = {c.code: c.id for c in service.get_building_status(SYSTEM, main.id).cameras}
    ids |= {c.code: c.id for c in service.get_building_status(SYSTEM, annex.id).cameras}
    for minute, status in ((0, ProbeStatus.OK), (30, ProbeStatus.TIMEOUT)):
        service.record_probe_results(
            SYSTEM,
            [
                ProbeOutcome(ids["P-1"], ProbeStatus.OK),
                ProbeOutcome(ids["P-2"], ProbeStatus.OK),
                ProbeOutcome(ids["P-3"], status),
            ],
            now=T0 + timedelta(minutes=minute),
        )
    report = service.uptime_report(SYSTEM, T0, T0 + timedelta(hours=1), now=T0 + timedelta(hours=1))
    by_building = {b.id: b.uptime for b in report.buildings}
    assert by_building == {main.id: 1.0, annex.id: 0.5}
    assert report.districts[0].uptime == pytest.approx(2.5 / 3)
    assert service.coverage(SYSTEM, T0, T0 + timedelta(hours=1), min_perimeter=1).schools == 1

    # Credentials are kept encrypted; a new key rotates them and the old one can go.
    monkeypatch.setenv("INFOCITY_SAFETY_CREDENTIAL_KEYS", f"{new_key},{old_key}")
    get_settings.cache_clear()
    try:
        (target,) = [t for t in service.probe_targets(SYSTEM) if t.username]
        assert (target.username, target.password) == ("admin", "pw")
        assert service.rotate_camera_credentials(SYSTEM) == 1
        monkeypatch.setenv("INFOCITY_SAFETY_CREDENTIAL_KEYS", new_key)
        get_settings.cache_clear()
        (target,) = [t for t in service.probe_targets(SYSTEM) if t.username]
        assert target.password == "pw"
        assert credentials.decrypt("not a token") is None
    finally:
        get_settings.cache_clear()

    # The JSON API answers the guard as the pages do.
    headers = bearer(api_token(client, guard.identifier, guard.password))
    assert [b["id"] for b in client.get("/api/v1/safety/buildings", headers=headers).json()] == [
        main.id
    ]
    assert client.get(f"/api/v1/safety/buildings/{annex.id}", headers=headers).status_code == 404
    assert client.get("/api/v1/safety/outages", headers=headers).json() == []

    # The pages: the guard's buildings; reports for analysts only.
    logged_in(client, guard)
    page = client.get("/safety")
    assert page.status_code == 200
    assert school.buildings[0] in page.text
    assert school.buildings[1] not in page.text
    assert "P-1" in client.get(f"/safety/buildings/{main.id}").text
    assert client.get(f"/safety/buildings/{annex.id}").status_code == 404
    assert client.get("/safety/reports").status_code == 403
    client.cookies.clear()
    logged_in(client, make_staff(Role.ANALYST))
    reports = client.get("/safety/reports")
    assert reports.status_code == 200
    assert "<svg" in reports.text
    exported = client.get("/safety/reports.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.startswith("kind,id,name,uptime,observed_hours")


@pytest.mark.slow
def test_two_recorders_at_once_open_one_outage_and_tell_once(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    _building, guard, ids = one_guarded_building(
        {"R-1": "rtsp://192.0.2.1/a", "R-2": "rtsp://192.0.2.2/a"}
    )
    failing = [
        ProbeOutcome(ids["R-1"], ProbeStatus.REFUSED),
        ProbeOutcome(ids["R-2"], ProbeStatus.OK),
    ]
    for minute in (0, 1):  # two of the three failures that open it
        service.record_probe_results(SYSTEM, failing, now=T0 + timedelta(minutes=minute))
    workers = 4
    barrier = threading.Barrier(workers)
    opened: list[int] = []

    def record() -> None:
        barrier.wait()
        cycle = service.record_probe_results(SYSTEM, failing, now=T0 + timedelta(minutes=2))
        opened.append(cycle.outages_opened)

    threads = [threading.Thread(target=record) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(opened) == [0, 0, 0, 1]
    # Two workers fan the one event out at once: the guard is told once.
    fanned: list[int] = []
    fan_barrier = threading.Barrier(2)

    def fan_out() -> None:
        fan_barrier.wait()
        fanned.append(service.fan_out_outage_events(SYSTEM))

    fans = [threading.Thread(target=fan_out) for _ in range(2)]
    for thread in fans:
        thread.start()
    for thread in fans:
        thread.join()
    assert sorted(fanned) == [0, 1]
    with UnitOfWork() as uow:
        told = uow.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.user_id == guard.id, OutboxMessage.channel == "inbox")
        )
        outages = uow.session.scalar(select(func.count()).select_from(Outage))
    assert (told, outages) == (1, 1)
