"""Tables of school video surveillance.

A building here is an education building (a school's id and the building's address, as
the education directory names it) with the district and the security staff responsible
for it. A camera's status history is compact: one row per stretch of one probe status,
with the number of probes it lasted, never a row per probe.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId
from infocity.safety.rules import Health, Placement, ProbeStatus


def _one_of(column: str, values: type[Placement] | type[Health] | type[ProbeStatus]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Building(Base):
    __tablename__ = "safety_buildings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    address: Mapped[str] = mapped_column(String(500))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("school_id", "address"),)


class BuildingStaff(Base):
    """Security staff responsible for a building: they see it and are told of its outages."""

    __tablename__ = "safety_building_staff"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("safety_buildings.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)

    __table_args__ = (UniqueConstraint("building_id", "user_id"),)


class Camera(Base):
    __tablename__ = "safety_cameras"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("safety_buildings.id"), index=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)  # the inventory number
    stream_url: Mapped[str] = mapped_column(String(500), unique=True)
    placement: Mapped[str] = mapped_column(String(20))
    model: Mapped[str] = mapped_column(String(200))
    installed_on: Mapped[date | None] = mapped_column(Date)
    # Login and password as one Fernet token (credentials.py); never stored in clear.
    credentials: Mapped[str | None] = mapped_column(Text)
    health: Mapped[str] = mapped_column(String(10), default=Health.UNKNOWN.value)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # failed probes in a row
    successes: Mapped[int] = mapped_column(Integer, default=0)  # good probes in a row
    status: Mapped[str | None] = mapped_column(String(20))  # the last probe's status
    probed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The slow cycle's last picture: its hash (a frozen stream repeats it) and verdict.
    frame_hash: Mapped[str | None] = mapped_column(String(64))
    frame_status: Mapped[str | None] = mapped_column(String(20))
    frame_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # ONVIF device service, asked directly (no discovery) when credentials exist, and what
    # its GetDeviceInformation last said (or why it could not be read).
    onvif_url: Mapped[str | None] = mapped_column(String(500))
    device_manufacturer: Mapped[str | None] = mapped_column(String(200))
    device_model: Mapped[str | None] = mapped_column(String(200))
    device_firmware: Mapped[str | None] = mapped_column(String(200))
    device_serial: Mapped[str | None] = mapped_column(String(200))
    device_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_error: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        CheckConstraint(_one_of("placement", Placement), name="placement"),
        CheckConstraint(_one_of("health", Health), name="health"),
        CheckConstraint(f"status IS NULL OR {_one_of('status', ProbeStatus)}", name="status"),
    )


class StatusSpan(Base):
    """One stretch of one probe status of a camera; ``ended_at`` NULL: the current one."""

    __tablename__ = "safety_status_spans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("safety_cameras.id"))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_probe_at: Mapped[datetime] = mapped_column(UTCDateTime)
    probes: Mapped[int] = mapped_column(Integer, default=1)
    detail: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        CheckConstraint(_one_of("status", ProbeStatus), name="status"),
        Index("ix_safety_status_spans_camera", "camera_id", "started_at"),
        # At most one current stretch per camera.
        Index(
            "uq_safety_status_spans_current",
            "camera_id",
            unique=True,
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )


class Outage(Base):
    """A camera out of order (``camera_id`` set) or a whole building dark (NULL).

    ``announced``: its staff were told it opened, so they are told it closed; a camera
    that went dark with its whole building is covered by the building's one message."""

    __tablename__ = "safety_outages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    building_id: Mapped[int] = mapped_column(ForeignKey("safety_buildings.id"), index=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("safety_cameras.id"), index=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    announced: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        # One open outage per camera, and one open "building dark" per building: a second
        # recorder racing to open the same one inserts nothing and tells no one.
        Index(
            "uq_safety_outages_open_camera",
            "camera_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL AND camera_id IS NOT NULL"),
            postgresql_where=text("closed_at IS NULL AND camera_id IS NOT NULL"),
        ),
        Index(
            "uq_safety_outages_open_building",
            "building_id",
            unique=True,
            sqlite_where=text("closed_at IS NULL AND camera_id IS NULL"),
            postgresql_where=text("closed_at IS NULL AND camera_id IS NULL"),
        ),
    )


class OutageEvent(Base):
    """One outage opened or closed, queued in the probe's transaction; the worker fans it
    out to the building's security staff (``fanned_out_at``), so the probe cycle never
    looks up recipients or renders messages."""

    __tablename__ = "safety_outage_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    outage_id: Mapped[int] = mapped_column(ForeignKey("safety_outages.id"), index=True)
    event: Mapped[str] = mapped_column(String(10))  # opened | closed
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint("event IN ('opened', 'closed')", name="event"),
        # One event per outage and kind: opening and closing are each told once.
        UniqueConstraint("outage_id", "event"),
        Index("ix_safety_outage_events_fan_out", "fanned_out_at", "id"),
    )
