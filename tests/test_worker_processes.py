"""The worker as real processes: killed mid-batch, stopped gracefully."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from infocity.core.models import InboxMessage, OutboxMessage
from infocity.core.outbox import notify
from infocity.core.uow import UnitOfWork
from tests.support.mail import smtp_server
from tests.support.users import add_citizen, start_worker, wait_for

pytestmark = pytest.mark.slow
TEMPLATE = "portal/notifications/service_notice.txt"


def worker_env(database: str, smtp_port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "INFOCITY_DATABASE_URL": database,
        "INFOCITY_ENVIRONMENT": "test",
        "INFOCITY_SMTP_HOST": "127.0.0.1",
        "INFOCITY_SMTP_PORT": str(smtp_port),
        "INFOCITY_WORKER_POLL_SECONDS": "0.1",
        **extra,
    }


def queue(uow: UnitOfWork, citizens: int, channels: tuple[str, ...]) -> list[str]:
    recipients = [add_citizen(uow) for _ in range(citizens)]
    ids = []
    with uow:
        for number, recipient in enumerate(recipients):
            for message in notify(
                uow.session,
                recipient,
                kind="service_notice",
                template=TEMPLATE,
                context={"title": f"Notice {number}", "name": "Иван", "text": "Text."},
                channels=channels,
            ):
                ids.append(message.id)
        uow.commit()
    return ids


def by_status(uow: UnitOfWork) -> dict[str, list[str]]:
    with uow:
        rows = uow.session.execute(select(OutboxMessage.id, OutboxMessage.status)).all()
    result: dict[str, list[str]] = {}
    for row in rows:
        result.setdefault(row.status, []).append(row.id)
    return result


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_no_inbox_row(
    database: str, uow: UnitOfWork, tmp_path: Path
) -> None:
    ids = queue(uow, citizens=10, channels=("inbox", "email"))
    assert len(ids) == 20
    with smtp_server(delay=0.2) as (controller, mail):
        env = worker_env(
            database,
            controller.port,
            INFOCITY_WORKER_LEASE_SECONDS="2",
            INFOCITY_WORKER_BATCH_SIZE="4",
        )
        first = start_worker(env, tmp_path / "worker.log", "first")
        # The SMTP server is holding the third e-mail: the worker is mid-send.
        wait_for(lambda: mail.started >= 3, what="the first worker to send e-mail")
        first.kill()  # SIGKILL: no chance to record or release anything
        first.wait(timeout=10)
        in_flight = by_status(uow).get("sending", [])
        assert in_flight, "the killed worker left claimed messages behind"

        second = start_worker(env, tmp_path / "worker.log", "second")
        try:
            wait_for(lambda: set(by_status(uow)) == {"sent"}, what="every message sent")
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=20) == 0, (tmp_path / "worker.log").read_text()

    with uow:
        inbox_ids = list(uow.session.scalars(select(InboxMessage.outbox_id)))
        outbox = {
            row.id: row
            for row in uow.session.execute(
                select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.attempts)
            )
        }
    inbox_expected = {i for i, row in outbox.items() if row.channel == "inbox"}
    email_expected = {f"<{i}@infocity>" for i, row in outbox.items() if row.channel == "email"}
    # Exactly one inbox row per inbox message: redelivery inserted nothing twice.
    assert sorted(inbox_ids) == sorted(inbox_expected)
    # Every e-mail arrived at least once; a repeat carries the same Message-ID.
    assert set(mail.message_ids()) == email_expected
    repeated = {m for m in mail.message_ids() if mail.message_ids().count(m) > 1}
    assert all(outbox[m[1:-10]].attempts >= 2 for m in repeated)
    assert all(outbox[i].attempts >= 2 for i in in_flight)


def test_sigterm_finishes_the_message_in_hand_and_releases_the_rest(
    database: str, uow: UnitOfWork, tmp_path: Path
) -> None:
    queue(uow, citizens=6, channels=("email",))
    with smtp_server(delay=0.5) as (controller, mail):
        env = worker_env(database, controller.port, INFOCITY_WORKER_BATCH_SIZE="6")
        worker = start_worker(env, tmp_path / "worker.log", "graceful")
        wait_for(lambda: mail.started >= 1, what="the worker to start sending")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=20) == 0, (tmp_path / "worker.log").read_text()
        delivered = len(mail.messages)

    statuses = by_status(uow)
    assert "sending" not in statuses
    assert len(statuses["sent"]) == delivered >= 1
    with uow:
        left = uow.session.execute(
            select(OutboxMessage.status, OutboxMessage.attempts, func.count())
            .where(OutboxMessage.status != "sent")
            .group_by(OutboxMessage.status, OutboxMessage.attempts)
        ).all()
    # Released as if never claimed: due again, the claim not counted as an attempt.
    assert [tuple(row) for row in left] == [("queued", 0, 6 - delivered)]
    assert "worker stopped" in (tmp_path / "worker.log").read_text()
