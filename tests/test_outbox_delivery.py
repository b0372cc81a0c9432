"""Outbox delivery by the worker: after commit only, once per message, with retries."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from infocity.core import jobs
from infocity.core.db import utcnow
from infocity.core.models import InboxMessage, JobRun, OutboxMessage
from infocity.core.outbox import Recipient, notify
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker, run_worker
from tests.support.mail import MailRecorder, smtp_server
from tests.support.users import add_citizen, count, start_worker, wait_for

TEMPLATE = "portal/notifications/service_notice.txt"


@pytest.fixture
def mailbox(database: str) -> Iterator[MailRecorder]:
    """A real SMTP server the settings point at."""
    with smtp_server() as (controller, recorder):
        os.environ["INFOCITY_SMTP_HOST"] = "127.0.0.1"
        os.environ["INFOCITY_SMTP_PORT"] = str(controller.port)
        get_settings.cache_clear()
        yield recorder
    for name in ("INFOCITY_SMTP_HOST", "INFOCITY_SMTP_PORT"):
        os.environ.pop(name, None)
    get_settings.cache_clear()


def queue_notice(uow: UnitOfWork, recipient: Recipient, *, commit: bool = True) -> list[str]:
    """A use case that announces something; returns the queued message ids."""
    with uow:
        messages = notify(
            uow.session,
            recipient,
            kind="service_notice",
            template=TEMPLATE,
            context={"title": "Water", "name": "Иван", "text": "Hot water is back."},
            link="https://infocity.example/inbox",
        )
        ids = [m.id for m in messages]
        if commit:
            uow.commit()
        # Otherwise leaving the block rolls back, as when a use case fails.
    return ids


def statuses(uow: UnitOfWork) -> dict[str, str]:
    with uow:
        rows = uow.session.execute(select(OutboxMessage.id, OutboxMessage.status))
        return {row.id: row.status for row in rows}


def test_rolled_back_notification_is_never_sent_committed_one_is(
    uow: UnitOfWork, mailbox: MailRecorder
) -> None:
    citizen = add_citizen(uow)
    lost = queue_notice(uow, citizen, commit=False)
    kept = queue_notice(uow, citizen)
    assert len(lost) == 2
    assert len(kept) == 2

    Worker("test").deliver_due()

    assert statuses(uow) == dict.fromkeys(kept, "sent")
    assert mailbox.message_ids() == [f"<{kept[1]}@infocity>"]
    with uow:
        inbox = uow.session.scalars(select(InboxMessage)).all()
        assert [(m.outbox_id, m.user_id) for m in inbox] == [(kept[0], citizen.user_id)]
        assert inbox[0].link == "https://infocity.example/inbox"


@pytest.mark.parametrize(
    ("locale", "subject", "greeting"),
    [
        ("ru", "Уведомление городской службы: Water", "Уважаемый(ая) Иван,"),
        ("en", "City service notice: Water", "Dear Иван,"),
    ],
)
def test_email_goes_to_a_real_smtp_server_in_the_recipients_language(
    uow: UnitOfWork, mailbox: MailRecorder, locale: str, subject: str, greeting: str
) -> None:
    citizen = add_citizen(uow, locale=locale)
    ids = queue_notice(uow, citizen)

    assert Worker("test").deliver_due() == 2

    [mail] = mailbox.messages
    assert mail["Subject"] == subject
    assert mail["To"] == citizen.email
    assert mail["Message-ID"] == f"<{ids[1]}@infocity>"
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    assert plain is not None
    assert plain.get_content_charset() == "utf-8"
    text = plain.get_content()
    assert greeting in text
    assert "Hot water is back." in text
    assert text.rstrip().endswith("https://infocity.example/inbox")
    with uow:
        row = uow.session.get(OutboxMessage, ids[1])
        assert row is not None
        assert row.status == "sent"
        assert row.attempts == 1
        assert row.sent_at is not None


def test_redelivery_after_a_crash_before_recording_adds_no_second_inbox_row(
    uow: UnitOfWork,
) -> None:
    citizen = add_citizen(uow, email=False)
    [message_id] = queue_notice(uow, citizen)
    worker = Worker("crashing")
    [claimed] = worker.claim()
    from infocity.core.channels import send

    send(claimed)  # delivered, then the worker "dies" before recording it
    with uow:
        # Its lease runs out.
        uow.session.execute(
            update(OutboxMessage).values(lease_until=utcnow() - timedelta(seconds=1))
        )
        uow.commit()

    assert Worker("second").deliver_due() == 1

    with uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        assert row.status == "sent"
        assert row.attempts == 2
    assert count(uow, InboxMessage) == 1


def test_inbox_messages_of_a_claim_go_together_and_a_lease_taken_over_keeps_its_outcome(
    uow: UnitOfWork,
) -> None:
    citizens = [add_citizen(uow, email=False) for _ in range(3)]
    ids = [message for citizen in citizens for message in queue_notice(uow, citizen)]
    slow = Worker("slow")
    claimed = slow.claim()
    assert len(claimed) == 3
    taken = claimed[0].id
    with uow:  # the slow worker's lease on one message ran out and another worker took it
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == taken)
            .values(attempts=2, lease_until=utcnow() + timedelta(minutes=5))
        )
        uow.commit()

    assert slow.deliver_inbox(claimed) == 3
    with uow:
        rows = {
            row.id: (row.status, row.attempts)
            for row in uow.session.execute(
                select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts)
            )
        }
    assert rows[taken] == ("sending", 2)  # the other worker's attempt stays on record
    assert all(rows[i] == ("sent", 1) for i in ids if i != taken)
    assert count(uow, InboxMessage) == 3  # every citizen has it once, whoever wrote it
    with uow:  # the other worker died too: its lease runs out
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == taken)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        uow.commit()
    assert Worker("third").deliver_due() == 1
    assert count(uow, InboxMessage) == 3
    assert statuses(uow) == dict.fromkeys(ids, "sent")


def test_an_inbox_notice_does_not_wait_behind_a_backlog_of_emails(
    uow: UnitOfWork, mailbox: MailRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """E-mails go one by one to a server outside; a parent's inbox notice queued after
    a backlog of them (the rush's confirmations) is delivered first, not after them."""
    from infocity.core.channels import Delivery
    from infocity.core.channels import send as real_send

    monkeypatch.setenv("INFOCITY_WORKER_BATCH_SIZE", "5")
    get_settings.cache_clear()
    for _ in range(12):
        with uow:
            notify(
                uow.session, add_citizen(uow), kind="service_notice", template=TEMPLATE,
                context={"title": "Water", "name": "Иван", "text": "Hot water is back."},
                channels=["email"],
            )  # fmt: skip
            uow.commit()
    [notice] = queue_notice(uow, add_citizen(uow, email=False))  # the newest of all
    order: list[str] = []
    real_deliver_inbox = Worker.deliver_inbox

    def send(delivery: Delivery) -> None:
        order.append(delivery.channel)
        real_send(delivery)

    def deliver_inbox(self: Worker, deliveries: list[Delivery]) -> int:
        order.extend(d.channel for d in deliveries)
        return real_deliver_inbox(self, deliveries)

    monkeypatch.setattr("infocity.core.worker.send", send)
    monkeypatch.setattr(Worker, "deliver_inbox", deliver_inbox)

    assert Worker("test").deliver_due() == 13
    assert order == ["inbox"] + ["email"] * 12
    assert statuses(uow)[notice] == "sent"
    assert len(mailbox.messages) == 12
    monkeypatch.undo()
    get_settings.cache_clear()


def test_smtp_down_is_retried_with_backoff_then_failed(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.postgres import free_port

    monkeypatch.setenv("INFOCITY_SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("INFOCITY_DELIVERY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("INFOCITY_DELIVERY_BACKOFF_SECONDS", "60")
    get_settings.cache_clear()
    citizen = add_citizen(uow)
    [_, email_id] = queue_notice(uow, citizen)
    worker = Worker("test")

    for attempt in (1, 2, 3):
        before = utcnow()
        worker.deliver_due()
        with uow:
            row = uow.session.get(OutboxMessage, email_id)
            assert row is not None
            status, attempts, next_attempt_at = row.status, row.attempts, row.next_attempt_at
            assert "SMTP unavailable" in (row.last_error or "")
        assert attempts == attempt
        if attempt == 3:
            assert status == "failed"
            break
        assert status == "retry"
        assert next_attempt_at >= before + timedelta(seconds=60 * 2 ** (attempt - 1))
        assert worker.claim() == []  # not due yet
        with uow:  # time passes
            uow.session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == email_id)
                .values(next_attempt_at=utcnow())
            )
            uow.commit()
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_claimed_message_is_not_claimed_again_while_its_lease_runs(uow: UnitOfWork) -> None:
    citizen = add_citizen(uow, email=False)
    queue_notice(uow, citizen)
    first = Worker("a").claim()
    assert len(first) == 1
    assert Worker("b").claim() == []
    Worker("a").release(first)
    with uow:
        row = uow.session.scalars(select(OutboxMessage)).one()
        assert (row.status, row.attempts, row.lease_until) == ("queued", 0, None)


def test_concurrent_claims_never_take_the_same_message(uow: UnitOfWork) -> None:
    citizen = add_citizen(uow, email=False)
    with uow:
        for _ in range(40):
            notify(
                uow.session,
                citizen,
                kind="k",
                template=TEMPLATE,
                context={"title": "t", "name": "n", "text": "x"},
                channels=["inbox"],
            )
        uow.commit()
    claimed: list[list[str]] = []

    def claim_until_empty(name: str) -> None:
        worker, mine = Worker(name), []
        while batch := worker.claim(limit=3):
            mine += [d.id for d in batch]
        claimed.append(mine)

    threads = [threading.Thread(target=claim_until_empty, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [message_id for ids in claimed for message_id in ids]
    assert len(every) == len(set(every)) == 40
    with uow:
        attempts = set(uow.session.scalars(select(OutboxMessage.attempts)))
    assert attempts == {1}


def test_worker_once_delivers_what_is_due_and_counts_it(uow: UnitOfWork) -> None:
    citizen = add_citizen(uow, email=False)
    queue_notice(uow, citizen)
    before = REGISTRY.get_sample_value(
        "infocity_notifications_delivered_total", {"channel": "inbox"}
    )

    run_worker(once=True, name="once")

    assert set(statuses(uow).values()) == {"sent"}
    after = REGISTRY.get_sample_value(
        "infocity_notifications_delivered_total", {"channel": "inbox"}
    )
    assert (after or 0) - (before or 0) == 1


def test_a_repeating_failure_warns_once_then_errors_when_given_up(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.support.postgres import free_port

    monkeypatch.setenv("INFOCITY_SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("INFOCITY_DELIVERY_MAX_ATTEMPTS", "3")
    get_settings.cache_clear()
    emails = [queue_notice(uow, add_citizen(uow))[1] for _ in range(2)]
    worker = Worker("test")

    def levels() -> list[tuple[str, str]]:
        return [
            (r.levelname, r.getMessage())
            for r in caplog.records
            if r.name == "infocity.worker" and r.getMessage() in ("message retry", "message failed")
        ]

    with caplog.at_level(logging.INFO, logger="infocity.worker"):
        for _ in range(3):
            worker.deliver_due()
            with uow:  # time passes
                uow.session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(emails))
                    .values(next_attempt_at=utcnow())
                )
                uow.commit()
    # Two messages, three attempts each: one warning for the mail server being down,
    # the other retries at INFO, and an error for each message given up on.
    assert levels() == [
        ("WARNING", "message retry"),
        ("INFO", "message retry"),
        ("INFO", "message retry"),
        ("INFO", "message retry"),
        ("ERROR", "message failed"),
        ("ERROR", "message failed"),
    ]
    assert {statuses(uow)[email] for email in emails} == {"failed"}

    # Once the interval has passed, a failure that still repeats is warned about again.
    caplog.clear()
    monkeypatch.setattr("infocity.core.worker.RETRY_WARNING_EVERY", timedelta(0))
    queue_notice(uow, add_citizen(uow))
    with caplog.at_level(logging.INFO, logger="infocity.worker"):
        worker.deliver_due()
    assert levels() == [("WARNING", "message retry")]
    monkeypatch.undo()
    get_settings.cache_clear()


def test_a_long_periodic_job_does_not_hold_up_delivery(
    uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    citizen = add_citizen(uow, email=False)
    working, may_finish, finished = threading.Event(), threading.Event(), threading.Event()

    def long_job() -> None:  # as the city's publication files take minutes at full size
        working.set()
        may_finish.wait(300)
        finished.set()

    monkeypatch.setattr(jobs, "load_job_modules", list)
    monkeypatch.setattr(jobs, "REGISTRY", {})
    jobs.periodic("test.long", every=timedelta(minutes=5))(long_job)
    worker = Worker("busy")
    running = threading.Thread(target=worker.run)
    running.start()
    try:
        wait_for(working.is_set, what="the long job to start")
        queued = queue_notice(uow, citizen)

        wait_for(lambda: set(statuses(uow).values()) == {"sent"}, what="delivery")

        assert not finished.is_set()  # delivered while the job was still working
        assert statuses(uow) == dict.fromkeys(queued, "sent")
    finally:
        may_finish.set()
        worker.stop()
        running.join(300)
    assert not running.is_alive()
    assert finished.is_set()
    with uow:
        runs = uow.session.scalars(select(JobRun).where(JobRun.job_name == "test.long")).all()
        assert [run.error for run in runs] == [None]


def _worker_env(database: str) -> dict[str, str]:
    """A real worker process's environment: a short poll, the test jobs registered."""
    return {
        **os.environ,
        "INFOCITY_DATABASE_URL": database,
        "INFOCITY_ENVIRONMENT": "test",
        "INFOCITY_WORKER_POLL_SECONDS": "0.05",
        "INFOCITY_JOB_MODULES": "tests.support.jobs",
    }


def _finished_runs(uow: UnitOfWork, name: str) -> int:
    return count(uow, JobRun, JobRun.job_name == name, JobRun.finished_at.is_not(None))


def _running(worker: subprocess.Popen[bytes], log_path: Path) -> bool:
    """True while the worker runs; one that exited (refused its options) fails at once."""
    assert worker.poll() is None, log_path.read_text()
    return True


def _stop(worker: subprocess.Popen[bytes], log_path: Path) -> None:
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, log_path.read_text()


@pytest.mark.slow
def test_a_prompt_only_worker_runs_prompt_jobs_and_neither_delivers_nor_runs_long_jobs(
    database: str, uow: UnitOfWork, tmp_path: Path
) -> None:
    queued = queue_notice(uow, add_citizen(uow, email=False))
    log_path = tmp_path / "worker.log"
    worker = start_worker(_worker_env(database), log_path, "prompt", "--only", "prompt")
    try:
        # Three periods of the prompt job: a worker that delivered or ran the other jobs
        # would have done so long before.
        wait_for(
            lambda: _running(worker, log_path) and _finished_runs(uow, "test.prompt_tick") >= 3,
            what="three periods of the prompt job",
        )
    finally:
        _stop(worker, log_path)
    assert statuses(uow) == dict.fromkeys(queued, "queued")
    with uow:
        ran = set(uow.session.scalars(select(JobRun.job_name)))
    # The city's prompt jobs ran too; none of the others, all due from the start.
    assert "test.prompt_tick" in ran
    assert not ran & {"test.tick", "core.purge_rate_limits", "core.purge_outbox"}


@pytest.mark.slow
def test_a_worker_without_prompt_jobs_delivers_and_runs_long_jobs_but_not_prompt_ones(
    database: str, uow: UnitOfWork, tmp_path: Path
) -> None:
    queued = queue_notice(uow, add_citizen(uow, email=False))
    log_path = tmp_path / "worker.log"
    worker = start_worker(
        _worker_env(database), log_path, "rest", "--only", "delivery", "--only", "jobs"
    )
    try:
        wait_for(
            lambda: (
                _running(worker, log_path)
                and set(statuses(uow).values()) == {"sent"}
                and _finished_runs(uow, "test.tick") >= 3
            ),
            what="delivery and three periods of the ordinary job",
        )
    finally:
        _stop(worker, log_path)
    assert statuses(uow) == dict.fromkeys(queued, "sent")
    assert count(uow, JobRun, JobRun.job_name == "test.prompt_tick") == 0
