"""The city administrator's pages of school video surveillance: importing cameras from a
CSV file (refused whole, with the problems by line) and making security staff
responsible for buildings; in Russian and English, and closed to everyone else."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.core.auth import Role
from infocity.core.uow import UnitOfWork
from infocity.safety.models import BuildingStaff, Camera
from tests.builders import logged_in, make_staff
from tests.safety_builders import CSV_HEADER, camera_line, make_school
from tests.support.forms import form_token


def _count(uow: UnitOfWork, model: type[Camera] | type[BuildingStaff]) -> int:
    with uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_an_administrator_imports_cameras_and_assigns_a_guard(
    uow: UnitOfWork, client: TestClient
) -> None:
    school = make_school(buildings=2)
    guard = make_staff(Role.SECURITY_STAFF, display_name="Охранов Олег Олегович")
    browser = logged_in(client, make_staff(Role.CITY_ADMIN))
    page = browser.get("/safety/cameras/import")
    assert page.status_code == 200
    assert "Загрузка камер" in page.text
    token = form_token(page)

    bad = (
        CSV_HEADER
        + camera_line(school, 0, "P-1", "rtsp://192.0.2.1/a")
        + camera_line(school, 0, "P-2", "http://192.0.2.2/a")
        + camera_line(school, 1, "P-1", "rtsp://192.0.2.3/a")
    )
    refused = browser.post(
        "/safety/cameras/import",
        data={"csrf_token": token},
        files={"file": ("cameras.csv", bad.encode())},
    )
    assert refused.status_code == 422
    assert 'data-label="Строка">3<' in refused.text
    assert 'data-label="Строка">4<' in refused.text
    assert "rtsp://" in refused.text  # the message of line 3 says what an address must be
    assert _count(uow, Camera) == 0
    not_text = browser.post(
        "/safety/cameras/import",
        data={"csrf_token": token},
        files={"file": ("cameras.csv", b"\xff\xfe\x00bad")},
    )
    assert not_text.status_code == 422
    assert "UTF-8" in not_text.text

    good = (
        CSV_HEADER
        + camera_line(school, 0, "P-1", "rtsp://192.0.2.1/a")
        + camera_line(school, 1, "P-2", "rtsp://192.0.2.2/a", "entrance")
    )
    imported = browser.post(
        "/safety/cameras/import",
        data={"csrf_token": token},
        files={"file": ("cameras.csv", ("\ufeff" + good).encode())},
    )
    assert imported.status_code == 200
    assert "Загружено камер: 2, зданий: 2." in imported.text
    assert _count(uow, Camera) == 2

    staff = browser.get("/safety/staff")
    assert staff.status_code == 200
    assert "Охранов Олег Олегович" in staff.text
    assert school.buildings[1] in staff.text
    with uow:
        building_id = uow.session.scalars(
            select(Camera.building_id).where(Camera.code == "P-2")
        ).one()
    assigned = browser.post(
        "/safety/staff",
        data={"csrf_token": form_token(staff), "building_id": building_id, "user_id": guard.id},
        follow_redirects=True,
    )
    assert assigned.status_code == 200
    assert "Сотрудник охраны назначен ответственным за здание." in assigned.text
    assert _count(uow, BuildingStaff) == 1
    wrong = browser.post(
        "/safety/staff",
        data={"csrf_token": form_token(staff), "building_id": building_id, "user_id": "x"},
    )
    assert wrong.status_code == 422
    assert "Выберите здание и сотрудника охраны." in wrong.text

    english = browser.get("/lang/en?next=/safety/staff", follow_redirects=True)
    assert "Security staff of buildings" in english.text
    assert "Guarded by" in english.text

    # The guard now sees the building, and may not open the administrator's pages.
    client.cookies.clear()
    guarded = logged_in(client, guard)
    assert school.buildings[1] in guarded.get("/safety").text
    assert guarded.get("/safety/staff").status_code == 403
    assert guarded.get("/safety/cameras/import").status_code == 403
