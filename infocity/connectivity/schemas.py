"""What the use cases of the city's Wi-Fi take and give."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from infocity.connectivity.rules import (
    DEFAULT_BANDWIDTH_KBPS,
    DEFAULT_BINDING_DAYS,
    DEFAULT_SESSION_SECONDS,
    NetworkKind,
)
from infocity.core.schemas import Id, InputModel, OutputModel


class NetworkCreate(InputModel):
    organisation_id: Id
    code: str = Field(min_length=2, max_length=40, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    name: str = Field(min_length=2, max_length=200)
    kind: NetworkKind
    binding_days: int = Field(default=DEFAULT_BINDING_DAYS, ge=1, le=3660)
    session_seconds: int = Field(default=DEFAULT_SESSION_SECONDS, ge=60, le=7 * 86400)
    bandwidth_down_kbps: int = Field(default=DEFAULT_BANDWIDTH_KBPS, ge=64, le=10_000_000)
    bandwidth_up_kbps: int = Field(default=DEFAULT_BANDWIDTH_KBPS, ge=64, le=10_000_000)


class NetworkRead(OutputModel):
    id: int
    organisation_id: int
    code: str
    name: str
    kind: NetworkKind
    binding_days: int
    session_seconds: int
    bandwidth_down_kbps: int
    bandwidth_up_kbps: int
    hotspots: int = 0


class HotspotRead(OutputModel):
    id: int
    network_id: int
    network_code: str
    name: str
    address: str
    latitude: float
    longitude: float
    ssid: str
    nas_identifier: str
    nas_address: str
    access_points: list[str] = Field(default_factory=list)


class HotspotSecretRead(OutputModel):
    """A hotspot's RADIUS shared secret, for the operator to configure its controller."""

    nas_identifier: str
    nas_address: str
    radius_secret: str


class HotspotImportRead(OutputModel):
    created: int
    updated: int
    # Secrets of the hotspots the file added: shown once, on the import's answer.
    secrets: list[HotspotSecretRead]


class PortalContext(OutputModel):
    """Who is at the portal: the device, the hotspot and its network."""

    mac: str
    randomised: bool
    hotspot_id: int
    hotspot_name: str
    network_name: str
    bound_until: datetime | None  # the device already passes here until then


class CodeRequest(InputModel):
    mac: str = Field(max_length=40)
    hotspot: str = Field(max_length=64)  # the NAS identifier the controller sent
    phone: str = Field(max_length=40)


class CodeSent(OutputModel):
    challenge: str
    phone_masked: str
    expires_at: datetime


class CodeConfirm(InputModel):
    challenge: str = Field(max_length=64)
    code: str = Field(max_length=20)


class DeviceBind(InputModel):
    mac: str = Field(max_length=40)
    hotspot: str = Field(max_length=64)


class BindingRead(OutputModel):
    identity_id: int
    mac: str
    network_id: int
    expires_at: datetime
    method: str  # sms | account | cookie


class DayCount(OutputModel):
    day: date
    value: int


class HotspotStats(OutputModel):
    hotspot_id: int
    name: str
    connections: int
    unique_devices_busiest_day: int = Field(
        description="Unique devices (MACs) at the hotspot on the period's busiest day"
    )
    octets: int


class NetworkStats(OutputModel):
    network_id: int
    name: str
    days: list[DayCount] = Field(description="Connections (sessions started) per city day")
    devices_by_day: list[DayCount] = Field(description="Unique devices (MACs) per city day")
    unique_devices_busiest_day: int = Field(
        description="Unique devices (MACs) on the period's busiest day"
    )
    peak_concurrent: int
    input_octets: int
    output_octets: int
    hotspots: list[HotspotStats]
