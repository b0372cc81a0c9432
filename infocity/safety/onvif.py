"""ONVIF device information, asked of a camera's device service directly.

No multicast discovery: the camera's ONVIF address is in the register. One SOAP 1.2 call,
``GetDeviceInformation`` (ONVIF Device Management, ``tds``), authenticated with a
WS-Security UsernameToken whose password is a digest:
``Base64(SHA-1(nonce + created + password))`` with a fresh random nonce and the time of the
request, so the password never travels. The answer is read with a size limit and the
standard library's XML parser (it expands no external entity, and the expat it is built on
refuses entity-expansion bombs); anything but the expected answer is a clear failure.

No database here: the service layer hands targets in and records what comes back.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import httpx

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DIGEST = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0"
    "#PasswordDigest"
)
BASE64 = (
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
)
MAX_ANSWER_BYTES = 64 * 1024
FIELDS = ("Manufacturer", "Model", "FirmwareVersion", "SerialNumber")


@dataclass(frozen=True)
class DeviceTarget:
    camera_id: int
    url: str  # the device service, e.g. http://10.1.2.3/onvif/device_service
    username: str
    password: str


@dataclass(frozen=True)
class DeviceInformation:
    camera_id: int
    manufacturer: str | None = None
    model: str | None = None
    firmware: str | None = None
    serial: str | None = None
    error: str | None = None  # why it could not be read; the fields are then None


class OnvifFailure(Exception):
    """The device answered, but not with its information."""


def password_digest(nonce: bytes, created: str, password: str) -> str:
    """WS-Security UsernameToken PasswordDigest: Base64(SHA-1(nonce + created + password))."""
    raw = hashlib.sha1(nonce + created.encode() + password.encode(), usedforsecurity=False)
    return base64.b64encode(raw.digest()).decode()


def request_body(username: str, password: str, *, nonce: bytes, created: str) -> str:
    """The SOAP envelope of GetDeviceInformation with its UsernameToken."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:tds="{TDS}"><s:Header>'
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" s:mustUnderstand="1">'
        f"<wsse:UsernameToken><wsse:Username>{escape(username)}</wsse:Username>"
        f'<wsse:Password Type="{DIGEST}">{password_digest(nonce, created, password)}'
        "</wsse:Password>"
        f'<wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>"
        "</s:Header><s:Body><tds:GetDeviceInformation/></s:Body></s:Envelope>"
    )


def parse_answer(camera_id: int, status: int, body: bytes) -> DeviceInformation:
    """The device's information from its answer; ``OnvifFailure`` with the reason if none."""
    try:
        # The stdlib parser resolves no external entity; expat refuses expansion bombs.
        root = ET.fromstring(body)  # noqa: S314
    except ET.ParseError as exc:
        raise OnvifFailure(f"HTTP {status}: not XML") from exc
    fault = root.find(f".//{{{SOAP}}}Fault")
    if fault is not None:
        codes = [e.text or "" for e in fault.iter(f"{{{SOAP}}}Value")]
        reason = next((e.text for e in fault.iter(f"{{{SOAP}}}Text") if e.text), "")
        detail = " / ".join(c.rpartition(":")[2] for c in codes if c) or "fault"
        raise OnvifFailure(f"SOAP fault {detail}: {reason}"[:200])
    answer = root.find(f".//{{{TDS}}}GetDeviceInformationResponse")
    if answer is None:
        raise OnvifFailure(f"HTTP {status}: no GetDeviceInformationResponse")
    values = {name: (answer.findtext(f"{{{TDS}}}{name}") or "").strip()[:200] for name in FIELDS}
    return DeviceInformation(
        camera_id,
        manufacturer=values["Manufacturer"] or None,
        model=values["Model"] or None,
        firmware=values["FirmwareVersion"] or None,
        serial=values["SerialNumber"] or None,
    )


async def _read(response: httpx.Response) -> bytes:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:
            raise OnvifFailure("answer too long")
    return bytes(body)


async def device_information(
    client: httpx.AsyncClient, target: DeviceTarget, timeout: float
) -> DeviceInformation:
    """Ask one device for its information; a failure comes back as ``error``, never raised."""
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = request_body(target.username, target.password, nonce=os.urandom(16), created=created)
    headers = {
        "Content-Type": f'application/soap+xml; charset=utf-8; action="{TDS}/GetDeviceInformation"'
    }
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("POST", target.url, content=body, headers=headers) as answer:
                return parse_answer(target.camera_id, answer.status_code, await _read(answer))
    except TimeoutError:
        return DeviceInformation(target.camera_id, error="timeout")
    except OnvifFailure as exc:
        return DeviceInformation(target.camera_id, error=str(exc))
    except httpx.HTTPError as exc:
        return DeviceInformation(target.camera_id, error=f"{type(exc).__name__}: {exc}"[:200])


async def _all(
    targets: Sequence[DeviceTarget], concurrency: int, timeout: float
) -> list[DeviceInformation]:
    gate = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=0)
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:

        async def one(target: DeviceTarget) -> DeviceInformation:
            async with gate:
                return await device_information(client, target, timeout)

        return list(await asyncio.gather(*(one(t) for t in targets)))


def read_devices(
    targets: Sequence[DeviceTarget], *, concurrency: int, timeout: float
) -> list[DeviceInformation]:
    """GetDeviceInformation of every target, ``concurrency`` at a time, each within
    ``timeout`` seconds."""
    return asyncio.run(_all(targets, concurrency, timeout))
