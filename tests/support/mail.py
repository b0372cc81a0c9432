"""A real SMTP server for the tests (aiosmtpd), optionally slow, recording what it got."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.postgres import free_port


@dataclass
class MailRecorder:
    """The aiosmtpd handler: keeps every message; waits ``delay`` seconds before 250."""

    delay: float = 0.0
    messages: list[EmailMessage] = field(default_factory=list)
    started: int = 0  # DATA commands begun (a message may be in flight)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.started += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


@contextmanager
def smtp_server(delay: float = 0.0) -> Iterator[tuple[Controller, MailRecorder]]:
    """Run an SMTP server on a free local port."""
    recorder = MailRecorder(delay=delay)
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, recorder
    finally:
        controller.stop()
