"""ONVIF device information of the cameras with credentials, asked of a small ONVIF device
service on loopback that checks the WS-Security digest: the answer is stored on the
camera; a wrong password, a closed port, a device answering garbage and one that never
answers each end in a clear reason within the deadline; cameras without credentials are
not asked."""

from __future__ import annotations

import socket
import time
from base64 import b64decode
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from infocity.core.auth import SYSTEM
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.safety import onvif, service
from infocity.safety.errors import CameraFileRefused
from infocity.safety.models import Camera
from tests.safety_builders import CSV_HEADER, make_school
from tests.support.onvif import Device, onvif_device

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
DEVICE = Device(
    "Hikvision", "DS-2CD2043G2-I", "V5.7.3 build 220112", "DS2CD20431234", "admin", "Kl3v3r"
)


def test_password_digest_is_the_ws_security_one() -> None:
    # The worked example of the ONVIF Application Programmer's Guide.
    nonce = "LKqI6G/AikKCQrN0zqZFlg=="
    digest = onvif.password_digest(b64decode(nonce), "2010-09-16T07:50:45Z", "userpassword")
    assert digest == "tuOSpGlFlIXsozq4HFNeeGeFLEI="


@pytest.fixture
def quick_devices(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("INFOCITY_SAFETY_PROBE_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_device_information_is_read_and_stored(uow: UnitOfWork, quick_devices: None) -> None:
    school = make_school(buildings=1)
    address = school.buildings[0]
    header = CSV_HEADER.rstrip("\n") + ",onvif_url\n"

    def line(code: str, login: str, password: str, onvif_url: str) -> str:
        return (
            f'{school.id},"{address}",{code},rtsp://192.0.2.1/{code},perimeter,IPC,,'
            f"{login},{password},{onvif_url}\n"
        )

    with pytest.raises(CameraFileRefused) as refused:
        service.import_cameras(SYSTEM, header + line("X-1", "a", "b", "ftp://camera/onvif"))
    assert [p.line for p in refused.value.problems] == [2]

    with onvif_device(DEVICE) as base:
        closed = f"http://127.0.0.1:{_closed_port()}/onvif/device_service"
        service.import_cameras(
            SYSTEM,
            header
            + line("D-GOOD", "admin", "Kl3v3r", f"{base}/onvif/device_service")
            + line("D-WRONG", "admin", "guess", f"{base}/onvif/device_service")
            + line("D-CLOSED", "admin", "Kl3v3r", closed)
            + line("D-GARBAGE", "admin", "Kl3v3r", f"{base}/garbage")
            + line("D-SILENT", "admin", "Kl3v3r", f"{base}/silent")
            + line("D-NOLOGIN", "", "", f"{base}/onvif/device_service"),
        )
        assert len(service.device_targets(SYSTEM)) == 5  # not the one without credentials
        started = time.monotonic()
        cycle = service.run_device_cycle(SYSTEM, now=T0)
        assert time.monotonic() - started < 10  # the silent device cannot hold the round
    assert (cycle.asked, cycle.read, cycle.failed) == (5, 1, 4)
    with uow:
        stored = {
            c.code: (
                c.device_manufacturer,
                c.device_model,
                c.device_firmware,
                c.device_serial,
                c.device_error or "",
                c.device_checked_at,
            )
            for c in uow.session.scalars(select(Camera))
        }
        building_id = uow.session.scalars(select(Camera.building_id)).first()
    assert building_id is not None
    assert stored["D-GOOD"] == (
        "Hikvision", "DS-2CD2043G2-I", "V5.7.3 build 220112", "DS2CD20431234", "", T0
    )  # fmt: skip
    errors = {code: values[4] for code, values in stored.items()}
    assert "NotAuthorized" in errors["D-WRONG"]
    assert "ConnectError" in errors["D-CLOSED"]
    assert "not XML" in errors["D-GARBAGE"]
    assert errors["D-SILENT"] == "timeout"
    assert stored["D-NOLOGIN"][5] is None  # not asked

    status = service.get_building_status(SYSTEM, building_id)
    shown = {c.code: c for c in status.cameras}
    assert shown["D-GOOD"].device_serial == "DS2CD20431234"
    assert shown["D-WRONG"].device_model is None
