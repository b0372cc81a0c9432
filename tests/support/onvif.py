"""A small ONVIF device service on loopback: SOAP 1.2 over HTTP, ``GetDeviceInformation``
of the Device Management service, behind a WS-Security UsernameToken whose digest it
checks as a camera does (SHA-1 of nonce, creation time and password; a creation time
more than five minutes off is refused; a nonce is accepted once). A wrong or missing
token gets the SOAP fault ``ter:NotAuthorized`` (HTTP 400), as the ONVIF core
specification has it. ``/garbage`` answers something that is not XML and ``/silent``
never answers."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SOAP = "http://www.w3.org/2003/05/soap-envelope"
TDS = "http://www.onvif.org/ver10/device/wsdl"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
MAX_SKEW = timedelta(minutes=5)

FAULT = (
    f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP}" '
    'xmlns:ter="http://www.onvif.org/ver10/error"><env:Body><env:Fault>'
    "<env:Code><env:Value>env:Sender</env:Value><env:Subcode>"
    "<env:Value>ter:NotAuthorized</env:Value></env:Subcode></env:Code>"
    '<env:Reason><env:Text xml:lang="en">Sender not Authorized</env:Text></env:Reason>'
    "</env:Fault></env:Body></env:Envelope>"
)


@dataclass(frozen=True)
class Device:
    manufacturer: str
    model: str
    firmware: str
    serial: str
    username: str
    password: str


def _authorized(envelope: ET.Element, device: Device, seen: set[str]) -> bool:
    token = envelope.find(f"./{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
    if token is None:
        return False
    username = token.findtext(f"{{{WSSE}}}Username")
    digest = token.findtext(f"{{{WSSE}}}Password")
    nonce = token.findtext(f"{{{WSSE}}}Nonce")
    created = token.findtext(f"{{{WSU}}}Created")
    if not (username and digest and nonce and created) or username != device.username:
        return False
    when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    if abs(datetime.now(UTC) - when) > MAX_SKEW or nonce in seen:
        return False
    raw = base64.b64decode(nonce) + created.encode() + device.password.encode()
    expected = base64.b64encode(hashlib.sha1(raw, usedforsecurity=False).digest()).decode()
    if digest != expected:
        return False
    seen.add(nonce)
    return True


def _answer(device: Device) -> str:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="{SOAP}" '
        f'xmlns:tds="{TDS}"><env:Body><tds:GetDeviceInformationResponse>'
        f"<tds:Manufacturer>{device.manufacturer}</tds:Manufacturer>"
        f"<tds:Model>{device.model}</tds:Model>"
        f"<tds:FirmwareVersion>{device.firmware}</tds:FirmwareVersion>"
        f"<tds:SerialNumber>{device.serial}</tds:SerialNumber>"
        "<tds:HardwareId>1.0</tds:HardwareId>"
        "</tds:GetDeviceInformationResponse></env:Body></env:Envelope>"
    )


@contextlib.contextmanager
def onvif_device(device: Device) -> Iterator[str]:
    """The device service running on loopback; yields its base address (http://host:port)."""
    seen: set[str] = set()
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path == "/silent":
                release.wait(30)
                return
            if self.path == "/garbage":
                self._send(200, "text/plain", b"RTSP/1.0 200 OK\r\n\r\nnot xml at all")
                return
            envelope = ET.fromstring(body)  # noqa: S314 - the test's own client
            action = envelope.find(f"./{{{SOAP}}}Body/{{{TDS}}}GetDeviceInformation")
            if action is None or not _authorized(envelope, device, seen):
                self._send(400, "application/soap+xml", FAULT.encode())
                return
            self._send(200, "application/soap+xml", _answer(device).encode())

        def _send(self, status: int, kind: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()  # the socket is bound and listening already: ready
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        release.set()
        server.shutdown()
        server.server_close()
