"""``infocity worker``: delivers the outbox and runs periodic jobs (in threads of their
own, so a long job never delays delivery): the prompt jobs, which tell people of events,
in one thread, the others in another, so a long job never delays a notice either.

Any number of workers may run against one database; they share nothing but it.

Delivery of a message, each step its own short transaction:

1. claim: one guarded UPDATE moves a batch of due messages (``queued`` or ``retry``
   whose ``next_attempt_at`` has come, or ``sending`` whose lease has expired because
   its worker died) to ``sending`` with a lease and ``attempts + 1``, RETURNING the
   rows. On PostgreSQL the candidates are selected ``FOR UPDATE SKIP LOCKED``, so two
   workers never take the same row; on SQLite the write lock serialises claims.
2. send, outside any transaction (see ``infocity.core.channels``).
3. record: ``sent``; or ``retry`` with exponential backoff; or ``failed`` after
   ``delivery_max_attempts`` or a permanent refusal. The UPDATE is guarded by the
   status and the attempt number, so a worker whose lease was taken over cannot
   overwrite the newer attempt's outcome.

A crash between 2 and 3 makes the message due again when its lease expires: delivery
is at least once, and each channel de-duplicates by the message id.

SIGTERM or SIGINT: the message being sent is finished and recorded, the rest of the
claimed batch is released (back to due, the claim not counted), and the process exits.

A worker runs all three parts by default: delivery, the periodic jobs, the prompt jobs.
It may be given some of them only (``infocity worker --only prompt``): threads share
one interpreter lock, so at a busy hour a city runs the prompt jobs in processes of
their own, where delivery and the long jobs cannot take their CPU. The job lease still
runs each job once at a time, whichever processes ask for it.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from prometheus_client import Counter, start_http_server
from sqlalchemy import Table, and_, func, not_, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from infocity.core import i18n, jobs
from infocity.core.channels import Delivery, DeliveryError, insert_inbox, send
from infocity.core.db import dispose_engines, get_engine, utcnow
from infocity.core.logging import log
from infocity.core.memory import start_up_frozen
from infocity.core.models import OutboxMessage
from infocity.core.settings import get_settings

logger = logging.getLogger("infocity.worker")

DELIVERED = Counter(
    "infocity_notifications_delivered_total", "Messages delivered, by channel.", ["channel"]
)
FAILED = Counter(
    "infocity_notifications_failed_total",
    "Messages given up on (permanent refusal or attempts exhausted), by channel.",
    ["channel"],
)
RETRIED = Counter(
    "infocity_notifications_retried_total",
    "Failed attempts to be retried, by channel.",
    ["channel"],
)

MAX_BACKOFF = timedelta(hours=6)
# A failure that repeats (the mail server down for an hour) warns once per channel and
# reason this often, not at every attempt of every message; giving up is an error.
RETRY_WARNING_EVERY = timedelta(minutes=15)
_OUTBOX = OutboxMessage.__table__
assert isinstance(_OUTBOX, Table)
OUTBOX: Table = _OUTBOX
_DELIVERY_COLUMNS = [
    OUTBOX.c.id,
    OUTBOX.c.kind,
    OUTBOX.c.channel,
    OUTBOX.c.user_id,
    OUTBOX.c.webhook_endpoint_id,
    OUTBOX.c.address,
    OUTBOX.c.locale,
    OUTBOX.c.subject,
    OUTBOX.c.body,
    OUTBOX.c.link,
    OUTBOX.c.payload,
    OUTBOX.c.attempts,
    OUTBOX.c.created_at,
    OUTBOX.c.lease_until,
    OUTBOX.c.expires_at,
]
# Inbox messages delivered together (``Worker.deliver_inbox``): an in-app message to an
# account, without a secret link.
_TOGETHER = and_(
    OUTBOX.c.channel == "inbox", OUTBOX.c.user_id.is_not(None), OUTBOX.c.expires_at.is_(None)
)
# What a message with a secret link keeps once it is delivered or given up on: the link
# is wiped from the row, and from the body it was written into.
_WIPE_SECRET = {
    "link": None,
    "body": func.coalesce(func.replace(OUTBOX.c.body, OUTBOX.c.link, "…"), OUTBOX.c.body),
}


def backoff_delay(attempts: int) -> timedelta:
    """The wait before the next attempt after ``attempts`` failed ones (capped, jittered)."""
    base = get_settings().delivery_backoff_seconds * 2 ** max(attempts - 1, 0)
    delay = min(timedelta(seconds=base), MAX_BACKOFF)
    # Up to 10% more, so messages that failed together do not all retry together.
    return delay * (1 + random.uniform(0, 0.1))


# What a worker can run: the outbox's delivery, the periodic jobs that are not prompt
# (the long ones), the prompt jobs (the fan-outs that tell people of events).
DELIVERY, JOBS, PROMPT = "delivery", "jobs", "prompt"
PARTS: frozenset[str] = frozenset((DELIVERY, JOBS, PROMPT))


def default_name() -> str:
    """A worker's name in leases and logs: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    """One worker process's delivery loop; ``stop()`` asks it to finish and exit.

    ``parts``: what it runs, some of ``PARTS`` (all by default); ``skip``: patterns of
    jobs it leaves to other workers (the cameras' checks on a machine of their own).
    """

    def __init__(
        self, name: str | None = None, parts: frozenset[str] = PARTS, skip: Sequence[str] = ()
    ) -> None:
        if not parts or not parts <= PARTS:
            raise ValueError(f"a worker runs some of {sorted(PARTS)}, not {sorted(parts)}")
        self.name = name or default_name()
        self.parts = parts
        self.skip = tuple(skip)  # patterns of jobs other workers run (``safety.*``)
        self.stopping = threading.Event()
        self._warned: dict[tuple[str, str], float] = {}  # (channel, reason) -> monotonic

    def stop(self) -> None:
        """Finish the message in hand, release the rest of the batch, then stop."""
        self.stopping.set()

    def _due(self, now: datetime) -> ColumnElement[bool]:
        settings = get_settings()
        return and_(
            or_(
                and_(OUTBOX.c.status.in_(("queued", "retry")), OUTBOX.c.next_attempt_at <= now),
                and_(
                    OUTBOX.c.status == "sending",
                    OUTBOX.c.lease_until < now,
                    OUTBOX.c.attempts < settings.delivery_max_attempts,
                ),
            ),
            or_(OUTBOX.c.expires_at.is_(None), OUTBOX.c.expires_at > now),
        )

    def claim(self, limit: int | None = None, *, together: bool | None = None) -> list[Delivery]:
        """Take a batch of due messages for this worker, in a committed transaction;
        ``together``: only the inbox messages delivered together (True), only the others
        (False), or any (None)."""
        settings = get_settings()
        now = utcnow()
        lease_until = now + timedelta(seconds=settings.worker_lease_seconds)
        engine = get_engine()
        due = self._due(now)
        if together is not None:
            due = and_(due, _TOGETHER if together else not_(_TOGETHER))
        candidates = (
            select(OUTBOX.c.id)
            .where(due)
            .order_by(OUTBOX.c.next_attempt_at)
            .limit(limit or settings.worker_batch_size)
        )
        if engine.dialect.name == "postgresql":
            # Rows another worker is claiming right now are skipped, not waited for.
            candidates = candidates.with_for_update(skip_locked=True)
        with engine.begin() as connection:
            # A message whose worker died on its last allowed attempt is given up on
            # here, or it would stay "sending" for ever.
            connection.execute(
                update(OUTBOX)
                .where(
                    OUTBOX.c.status == "sending",
                    OUTBOX.c.lease_until < now,
                    OUTBOX.c.attempts >= settings.delivery_max_attempts,
                )
                .values(
                    status="failed",
                    lease_until=None,
                    last_error="the worker stopped during the last attempt (lease expired)",
                )
            )
            # A secret link that expired before it could be delivered is given up on,
            # and wiped from the row.
            connection.execute(
                update(OUTBOX)
                .where(
                    OUTBOX.c.expires_at <= now,
                    or_(
                        OUTBOX.c.status.in_(("queued", "retry")),
                        and_(OUTBOX.c.status == "sending", OUTBOX.c.lease_until < now),
                    ),
                )
                .values(
                    status="failed",
                    lease_until=None,
                    last_error="the link expired before it could be delivered",
                    **_WIPE_SECRET,
                )
            )
            rows = connection.execute(
                update(OUTBOX)
                # The condition is repeated so the UPDATE itself is the guard.
                .where(OUTBOX.c.id.in_(candidates.scalar_subquery()), due)
                .values(status="sending", lease_until=lease_until, attempts=OUTBOX.c.attempts + 1)
                .returning(*_DELIVERY_COLUMNS)
            ).all()
        deliveries = [Delivery(**row._asdict()) for row in rows]
        deliveries.sort(key=lambda d: (d.created_at, d.id))
        return deliveries

    def _record(self, delivery: Delivery, **values: Any) -> bool:
        if delivery.expires_at is not None and values.get("status") in ("sent", "failed"):
            values = {**values, **_WIPE_SECRET}
        with get_engine().begin() as connection:
            result = connection.execute(
                update(OUTBOX)
                .where(
                    OUTBOX.c.id == delivery.id,
                    OUTBOX.c.status == "sending",
                    OUTBOX.c.attempts == delivery.attempts,
                )
                .values(**values)
            )
        if result.rowcount != 1:
            # Our lease expired and another worker took the message over; its attempt
            # is the one on record.
            log(logger, logging.WARNING, "lease lost", id=delivery.id, worker=self.name)
            return False
        return True

    def deliver(self, delivery: Delivery) -> str:
        """Send one claimed message and record the outcome: sent, retry or failed."""
        settings = get_settings()
        try:
            if delivery.expires_at is not None and utcnow() >= delivery.expires_at:
                raise DeliveryError("the link expired before it could be delivered", permanent=True)
            send(delivery)
        except DeliveryError as exc:
            error, permanent = exc.reason, exc.permanent
        except Exception as exc:  # a bug or an unforeseen error: retry, keep the reason
            logger.exception("channel %s raised", delivery.channel)
            error, permanent = f"{type(exc).__name__}: {exc}", False
        else:
            if self._record(delivery, status="sent", sent_at=utcnow(), lease_until=None):
                DELIVERED.labels(delivery.channel).inc()
                log(
                    logger,
                    logging.INFO,
                    "message sent",
                    id=delivery.id,
                    channel=delivery.channel,
                    kind=delivery.kind,
                    attempts=delivery.attempts,
                )
            return "sent"
        if permanent or delivery.attempts >= settings.delivery_max_attempts:
            outcome = "failed"
            recorded = self._record(
                delivery, status="failed", lease_until=None, last_error=error[:2000]
            )
            if recorded:
                FAILED.labels(delivery.channel).inc()
        else:
            outcome = "retry"
            recorded = self._record(
                delivery,
                status="retry",
                lease_until=None,
                last_error=error[:2000],
                next_attempt_at=utcnow() + backoff_delay(delivery.attempts),
            )
            if recorded:
                RETRIED.labels(delivery.channel).inc()
        log(
            logger,
            logging.ERROR if outcome == "failed" else self._retry_level(delivery.channel, error),
            f"message {outcome}",
            id=delivery.id,
            channel=delivery.channel,
            kind=delivery.kind,
            attempts=delivery.attempts,
            error=error,
        )
        return outcome

    def _retry_level(self, channel: str, error: str) -> int:
        """WARNING for a new failure, INFO while the same one repeats within the interval."""
        now = time.monotonic()
        interval = RETRY_WARNING_EVERY.total_seconds()
        last = self._warned.get((channel, error))
        if last is not None and now - last < interval:
            return logging.INFO
        # Forget reasons not seen for an interval, so the map stays small.
        self._warned = {key: at for key, at in self._warned.items() if now - at < interval}
        self._warned[(channel, error)] = now
        return logging.WARNING

    def release(self, deliveries: list[Delivery]) -> None:
        """Give claimed but unsent messages back, as if never claimed."""
        for delivery in deliveries:
            self._record(
                delivery,
                status="retry" if delivery.attempts > 1 else "queued",
                attempts=delivery.attempts - 1,
                lease_until=None,
            )

    def deliver_inbox(self, deliveries: list[Delivery]) -> int:
        """In-app inbox messages of one claim, delivered together: their inbox rows and
        their ``sent`` in one transaction (the inbox is the city's own table, so there is
        nothing outside to wait for). The UPDATE is guarded by the status and the claim's
        lease, as one message's is by its attempt; a message whose lease another worker
        took over keeps that worker's outcome, and its inbox row is written once either
        way (unique ``outbox_id``). On an error each is delivered on its own."""
        now = utcnow()
        try:
            with get_engine().begin() as connection:
                insert_inbox(connection, deliveries)
                recorded = connection.execute(
                    update(OUTBOX)
                    .where(
                        OUTBOX.c.id.in_([delivery.id for delivery in deliveries]),
                        OUTBOX.c.status == "sending",
                        OUTBOX.c.lease_until == deliveries[0].lease_until,
                    )
                    .values(status="sent", sent_at=now, lease_until=None)
                ).rowcount
        except Exception:
            logger.exception("inbox batch failed; delivering one by one")
            for delivery in deliveries:
                self.deliver(delivery)
            return len(deliveries)
        DELIVERED.labels("inbox").inc(recorded)
        log(logger, logging.INFO, "inbox messages sent", count=recorded, worker=self.name)
        if recorded != len(deliveries):
            log(logger, logging.WARNING, "lease lost", count=len(deliveries) - recorded,
                worker=self.name)  # fmt: skip
        return len(deliveries)

    def deliver_due(self) -> int:
        """Claim and deliver batches until nothing is due (or a stop); return the count."""
        handled = 0
        size = get_settings().worker_batch_size
        while not self.stopping.is_set():
            # Inbox messages without a secret link go together, claimed on their own: a
            # backlog of e-mails and SMS (the release rush's confirmations at 08:00) sent
            # one by one must not hold up parents' inbox notices of the same minute.
            # Each round takes a batch of each, so neither waits for the other's backlog.
            together = self.claim(together=True)
            if together and utcnow() < together[0].lease_until:
                handled += self.deliver_inbox(together)
            batch = self.claim(together=False)
            for index, delivery in enumerate(batch):
                # Past its lease a message may already be another worker's: leave it.
                if self.stopping.is_set() or utcnow() >= delivery.lease_until:
                    self.release(batch[index:])
                    break
                self.deliver(delivery)
                handled += 1
            if len(together) < size and len(batch) < size:
                break
        return handled

    def run(self, *, once: bool = False) -> None:
        """Deliver and run jobs until stopped (or one round with ``once``).

        Jobs run in threads of their own: a long one (the FHIR publication, the Wi-Fi
        roll-up) must not hold up parents' and patients' messages while it works, nor
        the prompt jobs that write them (the fan-out of pupils' entries).
        """
        jobs.load_job_modules()
        log(logger, logging.INFO, "worker started", worker=self.name, jobs=sorted(jobs.REGISTRY),
            parts=sorted(self.parts))  # fmt: skip
        i18n.warm_up()  # the messages' languages loaded once, then frozen with the rest
        with start_up_frozen():
            self._run(once=once)

    def _run(self, *, once: bool) -> None:
        settings = get_settings()
        delivering = DELIVERY in self.parts
        if once:
            if delivering:
                self._deliver_round()
            if JOBS in self.parts or PROMPT in self.parts:
                self._jobs_round(prompt=self._jobs_kind())
            log(logger, logging.INFO, "worker stopped", worker=self.name)
            return
        job_runners: list[threading.Thread] = []
        if JOBS in self.parts:
            job_runners.append(
                threading.Thread(target=self._run_jobs, name="periodic-jobs", daemon=True)
            )
        if PROMPT in self.parts:
            job_runners.append(
                threading.Thread(target=self._run_prompt_jobs, name="prompt-jobs", daemon=True)
            )
        for runner in job_runners:
            runner.start()
        while not self.stopping.is_set():
            if not delivering or self._deliver_round() == 0:
                self.stopping.wait(settings.worker_poll_seconds)
        # The job in hand finishes and records its run (a prompt job's batch in hand);
        # no new one starts.
        for runner in job_runners:
            runner.join()
        log(logger, logging.INFO, "worker stopped", worker=self.name)

    def _jobs_kind(self) -> bool | None:
        """The ``prompt`` argument of ``run_due_jobs`` for this worker's parts."""
        if JOBS in self.parts and PROMPT in self.parts:
            return None
        return PROMPT in self.parts

    def _deliver_round(self) -> int:
        try:
            return self.deliver_due()
        except Exception:
            # The database may be restarting: keep the process, try again shortly.
            logger.exception("worker round failed")
            return 0

    def _jobs_round(self, prompt: bool | None = None) -> None:
        if self.stopping.is_set():
            return
        try:
            jobs.run_due_jobs(
                self.name, should_stop=self.stopping.is_set, prompt=prompt, skip=self.skip
            )
        except Exception:
            logger.exception("periodic jobs round failed")

    def _run_jobs(self) -> None:
        poll = get_settings().worker_poll_seconds
        while not self.stopping.is_set():
            self._jobs_round(prompt=False)
            self.stopping.wait(poll)

    def _run_prompt_jobs(self) -> None:
        """Prompt jobs: each as soon as it is due, not at the next poll (a fan-out every
        second would otherwise wait up to a poll more); at most a poll's sleep."""
        poll = get_settings().worker_poll_seconds
        while not self.stopping.is_set():
            self._jobs_round(prompt=True)
            try:
                wait = jobs.seconds_until_due(prompt=True, skip=self.skip)
            except Exception:
                logger.exception("prompt jobs' schedule unreadable")
                wait = None
            # A floor, so a job that is due but not taken (a clock ahead of the
            # database's, say) does not spin the thread.
            self.stopping.wait(poll if wait is None else min(max(wait, 0.01), poll))


def run_worker(
    once: bool = False,
    name: str | None = None,
    parts: frozenset[str] = PARTS,
    skip: Sequence[str] = (),
) -> None:
    """Run a worker in this process until SIGTERM/SIGINT (or one round with ``once``);
    ``parts``: what it runs (see ``PARTS``), all by default; ``skip``: patterns of jobs
    left to other workers."""
    worker = Worker(name, parts, skip)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log(logger, logging.INFO, "stopping", signal=signal.Signals(signum).name)
        worker.stop()

    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            previous[stop_signal] = signal.signal(stop_signal, _stop)
    port = get_settings().worker_metrics_port
    if port and not once:
        start_http_server(port, addr=get_settings().worker_metrics_host)
    try:
        worker.run(once=once)
    finally:
        for stop_signal, handler in previous.items():
            signal.signal(stop_signal, handler)
        dispose_engines()
