"""Tables of the city's public Wi-Fi: networks, hotspots and their access points, the
people identified by phone, one-time codes, devices bound to people, the identity log and
the RADIUS sessions, and the statistics' roll-up by city day.

FreeRADIUS reads and writes some of them directly through its SQL module (see
docs/connectivity.md): the view ``radius_clients`` and the function ``radius_reply_for``
over the view ``radius_reply`` (made by the migrations, PostgreSQL only) and the table
``wifi_sessions``, which its accounting queries fill idempotently by
Acct-Unique-Session-Id.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from infocity.connectivity.rules import CodeState, NetworkKind, SessionState
from infocity.core.db import Base, UTCDateTime, utcnow
from infocity.core.models import BigId

_KINDS = ", ".join(f"'{kind}'" for kind in NetworkKind)
_CODE_STATES = ", ".join(f"'{state}'" for state in CodeState)
_SESSION_STATES = ", ".join(f"'{state}'" for state in SessionState)


class WifiNetwork(Base):
    """A network of one kind run by one Wi-Fi operator (an organisation)."""

    __tablename__ = "wifi_networks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    binding_days: Mapped[int] = mapped_column(Integer)
    session_seconds: Mapped[int] = mapped_column(Integer)
    bandwidth_down_kbps: Mapped[int] = mapped_column(Integer)
    bandwidth_up_kbps: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(f"kind IN ({_KINDS})", name="ck_wifi_networks_kind"),
        CheckConstraint("binding_days > 0", name="ck_wifi_networks_binding_days"),
    )


class WifiHotspot(Base):
    """A place with Wi-Fi: one controller (the RADIUS client, known by its NAS-Identifier
    and address) and its access points."""

    __tablename__ = "wifi_hotspots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("wifi_networks.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    ssid: Mapped[str] = mapped_column(String(32))
    nas_identifier: Mapped[str] = mapped_column(String(64), unique=True)
    nas_address: Mapped[str] = mapped_column(String(45), unique=True)
    # The RADIUS shared secret: FreeRADIUS needs it itself (it keys the packets' MD5), so
    # it cannot be hashed; made by InfoCity, shown to the operator once, read by
    # FreeRADIUS's own database role through the view radius_clients.
    radius_secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WifiAccessPoint(Base):
    __tablename__ = "wifi_access_points"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    hotspot_id: Mapped[int] = mapped_column(ForeignKey("wifi_hotspots.id"), index=True)
    mac: Mapped[str] = mapped_column(String(17), unique=True)


class WifiIdentity(Base):
    """A person as the law asks Wi-Fi to know them: a confirmed phone number, or a
    citizen's account of the portal."""

    __tablename__ = "wifi_identities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone: Mapped[str | None] = mapped_column(String(16), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "phone IS NOT NULL OR user_id IS NOT NULL", name="ck_wifi_identities_someone"
        ),
    )


class WifiCode(Base):
    """A one-time code sent by SMS for one device at one hotspot; only its digest kept."""

    __tablename__ = "wifi_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the challenge
    phone: Mapped[str] = mapped_column(String(16))
    mac: Mapped[str] = mapped_column(String(17))
    hotspot_id: Mapped[int] = mapped_column(ForeignKey("wifi_hotspots.id"))
    code_digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(20), default=CodeState.SENT.value)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(f"state IN ({_CODE_STATES})", name="ck_wifi_codes_state"),
        Index("ix_wifi_codes_created", "created_at"),
    )


class WifiDevice(Base):
    """A device (MAC) bound to a person on one network until ``expires_at``."""

    __tablename__ = "wifi_devices"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    mac: Mapped[str] = mapped_column(String(17))
    network_id: Mapped[int] = mapped_column(ForeignKey("wifi_networks.id"))
    identity_id: Mapped[int] = mapped_column(ForeignKey("wifi_identities.id"), index=True)
    randomised: Mapped[bool] = mapped_column(Boolean, default=False)
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("mac", "network_id"),)


class WifiIdentityLog(Base):
    """Who was identified on which device at which hotspot and when: kept for the legal
    period, then purged by a job. Phone and MAC are copied, so the record stands even
    after the binding is replaced."""

    __tablename__ = "wifi_identity_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("wifi_identities.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    mac: Mapped[str] = mapped_column(String(17))
    hotspot_id: Mapped[int] = mapped_column(ForeignKey("wifi_hotspots.id"))
    method: Mapped[str] = mapped_column(String(20))  # sms | account | cookie
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_wifi_identity_log_created", "created_at"),)


class WifiSession(Base):
    """A RADIUS accounting session, written by FreeRADIUS's SQL module; never deleted,
    closed by a Stop, by the controller's Accounting-On/Off or by the stale-session job."""

    __tablename__ = "wifi_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    acct_unique_id: Mapped[str] = mapped_column(String(64), unique=True)
    acct_session_id: Mapped[str] = mapped_column(String(64))
    nas_identifier: Mapped[str] = mapped_column(String(64))
    nas_address: Mapped[str] = mapped_column(String(45))
    mac: Mapped[str] = mapped_column(String(17))
    framed_address: Mapped[str | None] = mapped_column(String(45))
    state: Mapped[str] = mapped_column(String(10), default=SessionState.OPEN.value)
    close_cause: Mapped[str | None] = mapped_column(String(20))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    session_seconds: Mapped[int] = mapped_column(BigInteger, default=0)
    input_octets: Mapped[int] = mapped_column(BigInteger, default=0)
    output_octets: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (
        CheckConstraint(f"state IN ({_SESSION_STATES})", name="ck_wifi_sessions_state"),
        Index("ix_wifi_sessions_started", "started_at"),
        Index("ix_wifi_sessions_open", "state", "updated_at"),
        Index("ix_wifi_sessions_nas", "nas_address", "state"),
    )


class WifiRolledDay(Base):
    """A city day whose statistics the roll-up job has written (the days after the last
    one are counted live from the sessions)."""

    __tablename__ = "wifi_rolled_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    rolled_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WifiNetworkDay(Base):
    """A network's figures of one city day that its hotspots' rows cannot give: the most
    sessions open at once across the network and its unique devices (a device seen at
    two of its hotspots is one)."""

    __tablename__ = "wifi_network_days"

    network_id: Mapped[int] = mapped_column(ForeignKey("wifi_networks.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    peak_concurrent: Mapped[int] = mapped_column(Integer)
    unique_devices: Mapped[int] = mapped_column(Integer)


class WifiHotspotDay(Base):
    """A hotspot's figures of one city day, written by the roll-up job: sessions started
    that day, their traffic, the most open at once, the day's distinct devices."""

    __tablename__ = "wifi_hotspot_days"

    hotspot_id: Mapped[int] = mapped_column(ForeignKey("wifi_hotspots.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    connections: Mapped[int] = mapped_column(Integer)
    input_octets: Mapped[int] = mapped_column(BigInteger)
    output_octets: Mapped[int] = mapped_column(BigInteger)
    peak_concurrent: Mapped[int] = mapped_column(Integer)
    unique_devices: Mapped[int] = mapped_column(Integer)
