"""What the use cases of school video surveillance take and give."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from infocity.core.schemas import Id, InputModel, OutputModel


class BuildingCreate(InputModel):
    school_id: Id
    address: str = Field(min_length=1, max_length=500)


class BuildingRead(OutputModel):
    id: int
    school_id: int
    address: str
    district_id: int | None


class CameraRead(OutputModel):
    id: int
    building_id: int
    code: str
    stream_url: str
    placement: str
    model: str
    installed_on: date | None
    has_credentials: bool
    device_manufacturer: str | None = None
    device_model: str | None = None
    device_firmware: str | None = None
    device_serial: str | None = None
    health: str
    status: str | None
    probed_at: datetime | None


class CameraImportRead(OutputModel):
    created: int
    buildings: int


class OutageRead(OutputModel):
    id: int
    building_id: int
    address: str
    district_id: int | None
    camera_id: int | None  # None: the whole building is dark
    camera_code: str | None
    opened_at: datetime
    closed_at: datetime | None


class BuildingStatusRead(OutputModel):
    building: BuildingRead
    cameras: list[CameraRead]
    outages: list[OutageRead]


class DeviceCycleRead(OutputModel):
    """What one round of ONVIF device information found."""

    asked: int
    read: int
    failed: int


class CycleRead(OutputModel):
    """What one probe cycle found and changed."""

    probed: int
    failed: int
    went_down: int
    came_up: int
    outages_opened: int
    outages_closed: int


class UptimeRow(OutputModel):
    kind: str  # camera | building | district
    id: int | None
    name: str
    name_en: str | None = None
    uptime: float | None  # share of the observed time working; None: never observed
    observed_hours: float


class UptimeReport(OutputModel):
    start: datetime
    end: datetime
    cameras: list[UptimeRow]
    buildings: list[UptimeRow]
    districts: list[UptimeRow]


class CoverageRead(OutputModel):
    min_perimeter: int
    schools: int
    covered_now: int
    covered_over_period: int
    share_now: float | None
    share_over_period: float | None


class DistrictStateRead(OutputModel):
    """A district's cameras now, for the outage map."""

    district_id: int | None
    name: str
    name_en: str | None
    cameras: int
    down: int
    buildings_dark: int


class StaffMemberRead(OutputModel):
    user_id: int
    name: str


class BuildingStaffRead(OutputModel):
    """A building with the security staff responsible for it."""

    building: BuildingRead
    staff: list[StaffMemberRead]


class StaffBoardRead(OutputModel):
    """Who guards which building, and the security staff who may be assigned."""

    buildings: list[BuildingStaffRead]
    security_staff: list[StaffMemberRead]
