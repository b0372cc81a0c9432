"""School video surveillance made for tests through the real service functions."""

from __future__ import annotations

from infocity.core.auth import SYSTEM, Role
from infocity.education.schemas.directory import SchoolRead
from infocity.safety import service
from infocity.safety.schemas import BuildingCreate, BuildingRead
from tests.builders import Account, make_staff
from tests.education_builders import make_school

CSV_HEADER = "school_id,address,code,stream_url,placement,model,installed_on,username,password\n"


def camera_line(
    school: SchoolRead,
    building: int,
    code: str,
    url: str,
    placement: str = "perimeter",
    *,
    login: str = "",
    password: str = "",
) -> str:
    """One CSV line of a camera in the school's ``building``-th building."""
    address = school.buildings[building]
    return (
        f'{school.id},"{address}",{code},{url},{placement},Hikvision DS-2CD,2024-09-01,'
        f"{login},{password}\n"
    )


def guarded_building(school: SchoolRead, building: int) -> tuple[BuildingRead, Account]:
    """A registered school building with a security staff member responsible for it."""
    registered = service.register_building(
        SYSTEM, BuildingCreate(school_id=school.id, address=school.buildings[building])
    )
    guard = make_staff(Role.SECURITY_STAFF)
    service.assign_building_staff(SYSTEM, registered.id, guard.id)
    return registered, guard


def one_guarded_building(cameras: dict[str, str]) -> tuple[BuildingRead, Account, dict[str, int]]:
    """A school of one building, its guard, and its cameras (code: stream address) by id."""
    school = make_school(buildings=1)
    building, guard = guarded_building(school, 0)
    lines = [camera_line(school, 0, code, url) for code, url in cameras.items()]
    service.import_cameras(SYSTEM, CSV_HEADER + "".join(lines))
    status = service.get_building_status(SYSTEM, building.id)
    return building, guard, {c.code: c.id for c in status.cameras}


__all__ = ["CSV_HEADER", "camera_line", "guarded_building", "make_school", "one_guarded_building"]
