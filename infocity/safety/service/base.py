"""What the use cases of school video surveillance share: which buildings an actor may
see, and the rows shaped for reading."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from infocity.core.auth import Principal, Role
from infocity.safety.models import Building, BuildingStaff, Camera, Outage
from infocity.safety.schemas import BuildingRead, CameraRead, OutageRead


def _visible_buildings(session: Session, actor: Principal) -> set[int] | None:
    """The ids of the buildings ``actor`` may see; None: all of them (city administrators
    and the system). Security staff see the buildings they are responsible for."""
    if actor.is_system or Role.CITY_ADMIN in actor.roles or Role.ANALYST in actor.roles:
        return None
    return set(
        session.scalars(
            select(BuildingStaff.building_id).where(BuildingStaff.user_id == actor.user_id)
        )
    )


def _building_read(building: Building) -> BuildingRead:
    return BuildingRead.model_validate(building, from_attributes=True)


def _camera_read(camera: Camera) -> CameraRead:
    return CameraRead(
        id=camera.id,
        building_id=camera.building_id,
        code=camera.code,
        stream_url=camera.stream_url,
        placement=camera.placement,
        model=camera.model,
        installed_on=camera.installed_on,
        has_credentials=camera.credentials is not None,
        device_manufacturer=camera.device_manufacturer,
        device_model=camera.device_model,
        device_firmware=camera.device_firmware,
        device_serial=camera.device_serial,
        health=camera.health,
        status=camera.status,
        probed_at=camera.probed_at,
    )


def _outage_read(outage: Outage, building: Building, camera_code: str | None) -> OutageRead:
    return OutageRead(
        id=outage.id,
        building_id=building.id,
        address=building.address,
        district_id=building.district_id,
        camera_id=outage.camera_id,
        camera_code=camera_code,
        opened_at=outage.opened_at,
        closed_at=outage.closed_at,
    )


def _staff_of(session: Session, building_id: int) -> list[int]:
    """The users responsible for a building, told of its outages."""
    return list(
        session.scalars(
            select(BuildingStaff.user_id)
            .where(BuildingStaff.building_id == building_id)
            .order_by(BuildingStaff.user_id)
        )
    )
