"""Bad answers never hang a probe: garbage instead of RTSP, an endless header, a server
that accepts and says nothing, a 401 answered with the camera's credentials (Digest)."""

from __future__ import annotations

import asyncio
import hashlib
import time

from infocity.safety.probes import ProbeTarget, probe_stream
from infocity.safety.rules import ProbeStatus

SDP = b"v=0\r\nm=video 0 RTP/AVP 26\r\n"


def _run(handler: object, target_path: str = "/cam", **login: str) -> tuple[str, str, float]:
    async def main() -> tuple[str, str, float]:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)  # type: ignore[arg-type]
        port = server.sockets[0].getsockname()[1]
        started = time.monotonic()
        outcome = await probe_stream(
            ProbeTarget(1, f"rtsp://127.0.0.1:{port}{target_path}", **login), timeout=1.0
        )
        server.close()
        return outcome.status.value, outcome.detail, time.monotonic() - started

    return asyncio.run(main())


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


async def _endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"RTSP/1.0 200 OK\r\n" + b"X: " + b"a" * 100_000)
    await writer.drain()


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(5)


async def _digest_camera(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while not reader.at_eof():
        try:
            request = (await reader.readuntil(b"\r\n\r\n")).decode()
        except asyncio.IncompleteReadError:
            return
        cseq = request.split("CSeq: ")[1].split("\r\n")[0]
        method, uri = request.split(" ")[:2]
        if "Authorization: Digest" not in request:
            challenge = 'WWW-Authenticate: Digest realm="cam", nonce="n1"'
            writer.write(
                f"RTSP/1.0 401 Unauthorized\r\nCSeq: {cseq}\r\n{challenge}\r\n\r\n".encode()
            )
        else:
            ha1 = hashlib.md5(b"admin:cam:secret", usedforsecurity=False).hexdigest()
            ha2 = hashlib.md5(f"{method}:{uri}".encode(), usedforsecurity=False).hexdigest()
            expected = hashlib.md5(f"{ha1}:n1:{ha2}".encode(), usedforsecurity=False).hexdigest()
            if f'response="{expected}"' not in request:
                writer.write(f"RTSP/1.0 403 Forbidden\r\nCSeq: {cseq}\r\n\r\n".encode())
            elif method == "OPTIONS":
                writer.write(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n".encode())
            else:
                head = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nContent-Length: {len(SDP)}\r\n\r\n"
                writer.write(head.encode() + SDP)
        await writer.drain()


def test_bad_answers_end_in_a_clear_status_within_the_deadline() -> None:
    status, detail, _ = _run(_garbage)
    assert (status, detail) == ("rtsp_error", "not an RTSP answer: 'HTTP/1.1 200 OK'")
    status, detail, _ = _run(_endless)
    assert (status, detail) == ("rtsp_error", "answer headers too long")
    status, detail, seconds = _run(_silent)
    assert status == ProbeStatus.TIMEOUT.value
    assert seconds < 2.5
    assert _run(_digest_camera, username="admin", password="secret")[0] == "ok"
    assert _run(_digest_camera, username="admin", password="wrong")[:2] == (
        "rtsp_error",
        "OPTIONS answered 403 Forbidden",
    )
