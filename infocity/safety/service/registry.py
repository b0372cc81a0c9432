"""The registry: school buildings linked to the education directory, the security staff
responsible for each, and their cameras imported from a CSV file."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core import audit
from infocity.core.auth import Action, Principal, Role, authorize
from infocity.core.errors import NotFound
from infocity.core.i18n import N_
from infocity.core.uow import UnitOfWork
from infocity.education import service as education
from infocity.safety import credentials, errors
from infocity.safety.errors import RowProblem
from infocity.safety.models import Building, BuildingStaff, Camera, Outage
from infocity.safety.rules import CameraRow, parse_camera_csv
from infocity.safety.schemas import (
    BuildingCreate,
    BuildingRead,
    BuildingStaffRead,
    BuildingStatusRead,
    CameraImportRead,
    StaffBoardRead,
    StaffMemberRead,
)
from infocity.safety.service.base import (
    _building_read,
    _camera_read,
    _outage_read,
    _visible_buildings,
)


def _education_building(school_id: int, address: str, uow: UnitOfWork) -> int | None:
    """The school's district if the education directory has this building, else refuse."""
    try:
        school = education.get_school(school_id, uow=uow)
    except NotFound as exc:
        raise errors.NotASchoolBuilding() from exc
    if address not in school.buildings:
        raise errors.NotASchoolBuilding()
    return school.district_id


def _find_building(session: Session, school_id: int, address: str) -> Building | None:
    return session.scalar(
        select(Building).where(Building.school_id == school_id, Building.address == address)
    )


def register_building(
    actor: Principal | None, data: BuildingCreate, *, uow: UnitOfWork | None = None
) -> BuildingRead:
    """Register a school building of the education directory for video surveillance."""
    actor = authorize(actor, Action.SAFETY_REGISTRY_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        district_id = _education_building(data.school_id, data.address, uow)
        if _find_building(uow.session, data.school_id, data.address) is not None:
            raise errors.BuildingAlreadyRegistered()
        building = Building(school_id=data.school_id, address=data.address, district_id=district_id)
        uow.session.add(building)
        uow.session.flush()
        audit.record(uow.session, actor, "safety.building.register", detail=str(building.id))
        result = _building_read(building)
        uow.commit()
        return result


def assign_building_staff(
    actor: Principal | None, building_id: int, user_id: int, *, uow: UnitOfWork | None = None
) -> None:
    """Make a security staff member responsible for a building (city administrators)."""
    actor = authorize(actor, Action.SAFETY_REGISTRY_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        if uow.session.get(Building, building_id) is None:
            raise errors.BuildingNotFound()
        staff = accounts.principal_for_user(user_id, uow=uow)
        if staff is None or Role.SECURITY_STAFF not in staff.roles:
            raise errors.NotSecurityStaff()
        exists = uow.session.scalar(
            select(BuildingStaff.id).where(
                BuildingStaff.building_id == building_id, BuildingStaff.user_id == user_id
            )
        )
        if exists is None:
            uow.session.add(BuildingStaff(building_id=building_id, user_id=user_id))
            audit.record(
                uow.session, actor, "safety.staff.assign", detail=f"{building_id}:{user_id}"
            )
        uow.commit()


def staff_board(actor: Principal | None, *, uow: UnitOfWork | None = None) -> StaffBoardRead:
    """Every building with its security staff, and who may be assigned (administrators)."""
    authorize(actor, Action.SAFETY_REGISTRY_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        guards = accounts.staff_with_role(session, Role.SECURITY_STAFF)
        assigned: dict[int, list[int]] = {}
        for row in session.execute(
            select(BuildingStaff.building_id, BuildingStaff.user_id).order_by(BuildingStaff.id)
        ):
            assigned.setdefault(row.building_id, []).append(row.user_id)
        buildings = session.scalars(select(Building).order_by(Building.address, Building.id))
        return StaffBoardRead(
            buildings=[
                BuildingStaffRead(
                    building=_building_read(b),
                    staff=[
                        StaffMemberRead(user_id=u, name=guards.get(u, f"#{u}"))
                        for u in assigned.get(b.id, [])
                    ],
                )
                for b in buildings
            ],
            security_staff=[StaffMemberRead(user_id=u, name=n) for u, n in guards.items()],
        )


def _already_registered(session: Session, rows: list[CameraRow]) -> list[RowProblem]:
    codes = {r.code for r in rows}
    urls = {r.stream_url for r in rows}
    taken = session.execute(
        select(Camera.code, Camera.stream_url).where(
            or_(Camera.code.in_(codes), Camera.stream_url.in_(urls))
        )
    ).all()
    taken_codes = {t.code for t in taken}
    taken_urls = {t.stream_url for t in taken}
    return [
        RowProblem(r.line, N_("This camera is already registered."), {})
        for r in rows
        if r.code in taken_codes or r.stream_url in taken_urls
    ]


def _buildings_of(
    rows: list[CameraRow], uow: UnitOfWork
) -> tuple[dict[tuple[int, str], Building], list[RowProblem]]:
    """The building of every row, registered on the way; rows naming no school building."""
    found: dict[tuple[int, str], Building] = {}
    problems: list[RowProblem] = []
    for row in rows:
        key = (row.school_id, row.address)
        if key in found:
            continue
        building = _find_building(uow.session, *key)
        if building is None:
            try:
                district_id = _education_building(row.school_id, row.address, uow)
            except errors.NotASchoolBuilding:
                problems.append(
                    RowProblem(
                        row.line,
                        N_("The education directory has no such building of this school."),
                        {},
                    )
                )
                continue
            building = Building(
                school_id=row.school_id, address=row.address, district_id=district_id
            )
            uow.session.add(building)
            uow.session.flush()
        found[key] = building
    return found, problems


def import_cameras(
    actor: Principal | None, text: str, *, uow: UnitOfWork | None = None
) -> CameraImportRead:
    """Import cameras from a CSV file, all or nothing: a file with any problem (a bad row,
    a camera already registered, a building the education directory does not have) is
    refused with every problem by line; buildings are registered on the way."""
    actor = authorize(actor, Action.SAFETY_REGISTRY_MANAGE)
    rows, problems = parse_camera_csv(text)
    uow = uow or UnitOfWork()
    with uow:
        if rows:
            problems += _already_registered(uow.session, rows)
        buildings, missing = _buildings_of(rows, uow)
        problems += missing
        if problems:
            raise errors.CameraFileRefused(sorted(problems, key=lambda p: p.line))
        for row in rows:
            secret = None
            if row.username is not None:
                secret = credentials.encrypt(
                    credentials.Credentials(row.username, row.password or "")
                )
            uow.session.add(
                Camera(
                    building_id=buildings[(row.school_id, row.address)].id,
                    code=row.code,
                    stream_url=row.stream_url,
                    placement=row.placement.value,
                    model=row.model,
                    installed_on=row.installed_on,
                    credentials=secret,
                    onvif_url=row.onvif_url,
                )
            )
        uow.session.flush()
        audit.record(uow.session, actor, "safety.cameras.import", detail=str(len(rows)))
        result = CameraImportRead(created=len(rows), buildings=len(buildings))
        uow.commit()
        return result


def list_my_buildings(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[BuildingRead]:
    """The school buildings the actor watches (security staff: those they guard)."""
    actor = authorize(actor, Action.SAFETY_MONITOR)
    uow = uow or UnitOfWork()
    with uow:
        visible = _visible_buildings(uow.session, actor)
        query = select(Building).order_by(Building.address, Building.id)
        if visible is not None:
            query = query.where(Building.id.in_(visible))
        return [_building_read(b) for b in uow.session.scalars(query)]


def get_building_status(
    actor: Principal | None, building_id: int, *, uow: UnitOfWork | None = None
) -> BuildingStatusRead:
    """A building's cameras with their health, and its outages, open ones first."""
    actor = authorize(actor, Action.SAFETY_MONITOR)
    uow = uow or UnitOfWork()
    with uow:
        visible = _visible_buildings(uow.session, actor)
        building = uow.session.get(Building, building_id)
        if building is None or (visible is not None and building_id not in visible):
            raise errors.BuildingNotFound()
        cameras = list(
            uow.session.scalars(
                select(Camera).where(Camera.building_id == building_id).order_by(Camera.code)
            )
        )
        codes = {c.id: c.code for c in cameras}
        outages = uow.session.scalars(
            select(Outage)
            .where(Outage.building_id == building_id, Outage.announced.is_(True))
            .order_by(Outage.closed_at.is_not(None), Outage.opened_at.desc())
            .limit(50)
        )
        return BuildingStatusRead(
            building=_building_read(building),
            cameras=[_camera_read(c) for c in cameras],
            outages=[
                _outage_read(o, building, codes.get(o.camera_id) if o.camera_id else None)
                for o in outages
            ],
        )


def rotate_camera_credentials(actor: Principal | None, *, uow: UnitOfWork | None = None) -> int:
    """Re-encrypt every camera's credentials with the newest key; how many were."""
    actor = authorize(actor, Action.SAFETY_REGISTRY_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        cameras = uow.session.scalars(select(Camera).where(Camera.credentials.is_not(None)))
        count = 0
        for camera in cameras:
            assert camera.credentials is not None
            camera.credentials = credentials.rotate(camera.credentials)
            count += 1
        audit.record(uow.session, actor, "safety.credentials.rotate", detail=str(count))
        uow.commit()
        return count
