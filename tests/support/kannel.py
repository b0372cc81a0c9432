"""Kannel for the tests: bearerbox with Kannel's fake SMSC, smsbox, and ``fakesmsc`` (the
phone network's side), on loopback and free ports.

``running_kannel()`` starts them from the template ``tests/support/kannel/kannel.conf``;
the ``kannel`` fixture (one per test process) hands out a started one, and
``Kannel.received(number)`` is what the fake SMSC got for a phone number, reassembled and
decoded. ``Kannel.environment()`` is the ``INFOCITY_SMS_*`` settings that send through it.

Debian ships bearerbox and smsbox in ``kannel`` and fakesmsc in ``kannel-extras``
(``/usr/lib/kannel/test/fakesmsc``); ``scripts/ensure-test-deps.sh`` installs both.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import IO
from urllib.parse import unquote_to_bytes

import httpx
import pytest

from tests.support.postgres import free_port
from tests.support.servers import wait_until

TEMPLATE = Path(__file__).resolve().parent / "kannel" / "kannel.conf"
SENDER = "InfoCity"


def _binary(name: str, *places: str) -> str | None:
    override = os.environ.get(f"INFOCITY_TEST_{name.upper()}")
    if override:
        return override
    found = shutil.which(name)
    if found:
        return found
    return next((place for place in places if Path(place).is_file()), None)


BEARERBOX = _binary("bearerbox", "/usr/sbin/bearerbox")
SMSBOX = _binary("smsbox", "/usr/sbin/smsbox")
FAKESMSC = _binary("fakesmsc", "/usr/lib/kannel/test/fakesmsc")

_GOT = re.compile(r"Got message \d+: <(.*)>$")


def _decode(data: str) -> bytes:
    """fakesmsc's url-encoded bytes (a space may be '+')."""
    return unquote_to_bytes(data.replace("+", " "))


def _text_of(data: bytes) -> str:
    """The text of concatenated parts: UCS-2 (it has NUL or Cyrillic high bytes, which
    GSM text never has) or GSM text."""
    if len(data) % 2 == 0 and (b"\x00" in data or all(b == 4 for b in data[0::2])):
        return data.decode("utf-16-be")
    return data.decode("latin-1")


@dataclass
class _Part:
    sender: str
    number: str
    text: str | None = None  # a whole message
    udh: bytes = b""  # a part of a concatenated one
    data: bytes = b""


def _parse(content: str) -> _Part | None:
    """One line fakesmsc printed: ``sender number type data``; None if not a message."""
    fields = content.split(" ", 3)
    if len(fields) < 4 or fields[0] != SENDER:
        return None
    sender, number, kind, rest = fields
    if kind == "text":
        return _Part(sender, number, text=rest)
    if kind == "ucs-2":
        return _Part(sender, number, text=_decode(rest).decode("utf-16-be"))
    if kind == "data":
        return _Part(sender, number, text=_text_of(_decode(rest)))
    if kind == "udh":
        udh, _kind, data = [*rest.split(" ", 2), "", ""][:3]
        return _Part(sender, number, udh=_decode(udh), data=_decode(data))
    return None


def _concatenation(udh: bytes) -> tuple[int, int, int] | None:
    """(reference, parts, this part) of a concatenated SMS's header, or None."""
    index = 1
    while index + 1 < len(udh):
        element, length = udh[index], udh[index + 1]
        value = udh[index + 2 : index + 2 + length]
        if element == 0 and length == 3:
            return value[0], value[1], value[2]
        if element == 8 and length == 4:
            return value[0] << 8 | value[1], value[2], value[3]
        index += 2 + length
    return None


def messages_in_log(text: str) -> list[tuple[str, str]]:
    """(number, text) of every SMS in fakesmsc's output, in order of arrival.

    Kannel's fake SMSC speaks one line a message and writes GSM text unencoded, so a text
    with a line break arrives as further lines: they are joined back. Parts of a
    concatenated SMS are joined once all have come.
    """
    found: list[tuple[str, str]] = []
    pending: dict[tuple[str, int], dict[int, bytes]] = {}
    last_whole: int | None = None
    for line in text.splitlines():
        match = _GOT.search(line)
        if match is None:
            continue
        part = _parse(match.group(1))
        if part is None:
            if last_whole is not None:
                number, previous = found[last_whole]
                found[last_whole] = (number, f"{previous}\n{match.group(1)}")
            continue
        last_whole = None
        if part.text is not None:
            found.append((part.number, part.text))
            last_whole = len(found) - 1
            continue
        header = _concatenation(part.udh)
        if header is None:
            found.append((part.number, _text_of(part.data)))
            continue
        reference, total, sequence = header
        parts = pending.setdefault((part.number, reference), {})
        parts[sequence] = part.data
        if len(parts) == total:
            del pending[(part.number, reference)]
            joined = b"".join(parts[n] for n in sorted(parts))
            found.append((part.number, _text_of(joined)))
    return found


@dataclass
class Kannel:
    """A running Kannel: where InfoCity sends, and what the fake SMSC received."""

    sendsms_url: str
    status_url: str
    username: str
    password: str
    directory: Path
    bearerbox: subprocess.Popen[bytes]
    logs: list[IO[bytes]] = field(default_factory=list)

    def environment(self) -> dict[str, str]:
        """The settings that make InfoCity send SMS through this Kannel."""
        return {
            "INFOCITY_SMS_GATEWAY_URL": self.sendsms_url,
            "INFOCITY_SMS_GATEWAY_USERNAME": self.username,
            "INFOCITY_SMS_GATEWAY_PASSWORD": self.password,
            "INFOCITY_SMS_SENDER": SENDER,
        }

    def received(self, number: str) -> list[str]:
        """The texts the fake SMSC received for ``number`` (as sent: +7…), oldest first."""
        log = self.directory / "fakesmsc.log"
        text = log.read_text(encoding="utf-8", errors="replace")
        return [message for to, message in messages_in_log(text) if to == number]

    def wait_for(self, number: str, count: int = 1) -> list[str]:
        """The texts for ``number`` once there are at least ``count`` of them."""
        wait_until(
            lambda: len(self.received(number)) >= count,
            self.bearerbox,
            log=self.logs[0] if self.logs else None,
        )
        return self.received(number)

    def status(self) -> str:
        """bearerbox's status page (its queues, connections and counters)."""
        return httpx.get(self.status_url, timeout=5).text


def kannel_missing() -> str | None:
    """Why Kannel cannot run here, or None."""
    absent = [
        name
        for name, path in (("bearerbox", BEARERBOX), ("smsbox", SMSBOX), ("fakesmsc", FAKESMSC))
        if path is None
    ]
    if absent:
        return f"no {', '.join(absent)} here (Debian packages 'kannel' and 'kannel-extras')"
    return None


def _start(command: list[str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_kannel() -> Iterator[Kannel]:
    """Start bearerbox, fakesmsc and smsbox; yield once an SMS can go all the way."""
    if BEARERBOX is None or SMSBOX is None or FAKESMSC is None:
        raise FileNotFoundError(kannel_missing())
    directory = Path(tempfile.mkdtemp(prefix="infocity-kannel-"))
    (directory / "store").mkdir()
    values = {
        "admin_port": free_port(),
        "smsbox_port": free_port(),
        "fake_smsc_port": free_port(),
        "sendsms_port": free_port(),
        "admin_password": "status-secret",
        "username": "infocity",
        "password": "sendsms-secret",
        "directory": str(directory),
    }
    config = directory / "kannel.conf"
    config.write_text(Template(TEMPLATE.read_text()).substitute(values))
    status_url = f"http://127.0.0.1:{values['admin_port']}/status.txt?password=status-secret"
    processes: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = [
        (directory / f"{name}.out").open("w+b") for name in ("bearerbox", "smsbox")
    ]
    try:
        bearerbox = _start([BEARERBOX, str(config)], logs[0])
        processes.append(bearerbox)
        kannel = Kannel(
            sendsms_url=f"http://127.0.0.1:{values['sendsms_port']}/cgi-bin/sendsms",
            status_url=status_url,
            username="infocity",
            password="sendsms-secret",
            directory=directory,
            bearerbox=bearerbox,
            logs=logs,
        )
        wait_until(lambda: _status(status_url) is not None, bearerbox, log=logs[0])
        fake_log = (directory / "fakesmsc.log").open("wb")
        logs.append(fake_log)
        # -m 0: send no message of its own; it prints every one it receives.
        fake = [FAKESMSC, "-H", "127.0.0.1", "-r", str(values["fake_smsc_port"])]
        processes.append(_start([*fake, "-i", "1", "-m", "0", "0 0 text -"], fake_log))
        processes.append(_start([SMSBOX, str(config)], logs[1]))
        wait_until(lambda: _ready(_status(status_url)), bearerbox, log=logs[0])
        yield kannel
    finally:
        # smsbox and fakesmsc first, so that bearerbox does not wait for them.
        for process in reversed(processes):
            _stop(process)
        for log in logs:
            log.close()
        shutil.rmtree(directory, ignore_errors=True)


def _status(url: str) -> str | None:
    with contextlib.suppress(httpx.HTTPError):
        response = httpx.get(url, timeout=5)
        if response.status_code == 200:
            return response.text
    return None


def _ready(status: str | None) -> bool:
    """Whether the status page shows smsbox connected and the fake SMSC on line."""
    if status is None:
        return False
    return "smsbox:" in status and re.search(r"FAKE:\d+ \(online", status) is not None


@pytest.fixture(scope="session")
def kannel() -> Iterator[Kannel]:
    """A running Kannel for this test process; where it cannot be installed the test is
    skipped with the reason, and CI fails instead."""
    reason = kannel_missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the SMS gateway tests: {reason}")
        pytest.skip(reason)
    with running_kannel() as started:
        yield started
