"""Periodic jobs: plain functions run once per period by whichever worker gets there.

Register a job with ``@periodic("service.name", every=timedelta(hours=1))``. Periods
are aligned to the Unix epoch in UTC (an hourly job's periods start on the hour).
The worker imports ``infocity.<service>.jobs`` of every service, plus the modules
named in ``INFOCITY_JOB_MODULES``.

Schedules live in the database (``PeriodicJob``), so any number of workers behave as
one. A worker takes a due job with a guarded UPDATE (``next_run_at <= now`` and no
live lease) checked by row count, then inserts a ``JobRun`` for the period: its
unique ``(job_name, period_start)`` is the guarantee that a period runs at most once,
even if a lease expires during a long run or clocks disagree. A run interrupted by a
crash is not repeated; the next period runs as usual.

A job that tells people of what just happened (a pupil's entry, an outage) is declared
``prompt=True``: the worker runs prompt jobs in a thread of their own, so a long job
(slots materialised for a whole city) never keeps parents waiting. A prompt job with a
``batch`` does one batch per call and returns how many items it handled; while a call
handles a full batch (more is waiting) the run calls it again at once, for up to half
its lease; the run then ends and, its next period having come, is taken up again at
once. Two runs of one job never overlap while the lease is live; the jobs themselves
lock and skip their rows, so a lease taken over after a crash is safe too.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase

from sqlalchemy import Table, and_, delete, exists, func, or_, select, update

import infocity
from infocity.core import ratelimit
from infocity.core.db import get_engine, utcnow
from infocity.core.logging import log
from infocity.core.models import InboxMessage, JobRun, OutboxMessage, PeriodicJob, WebSession
from infocity.core.settings import get_settings
from infocity.core.sql import upsert_insert

logger = logging.getLogger("infocity.jobs")


@dataclass(frozen=True)
class Job:
    """A registered periodic job."""

    name: str
    every: timedelta
    func: Callable[[], object]
    lease: timedelta
    prompt: bool = False
    batch: int | None = None


REGISTRY: dict[str, Job] = {}

# The share of its lease a prompt job's run may go on finding full batches: well inside
# the lease, so no other worker takes the run over while it is still working.
PROMPT_RUN_SHARE = 0.5


def periodic(
    name: str,
    *,
    every: timedelta,
    lease: timedelta = timedelta(minutes=10),
    prompt: bool = False,
    batch: int | None = None,
) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """Register the decorated function to run once every ``every`` (whole seconds).

    ``lease`` is how long other workers wait before they consider a run abandoned.
    ``prompt``: the job tells people of events and runs in the worker's prompt thread,
    never behind a long job. ``batch`` (prompt jobs only): the function handles at most
    this many items a call and returns how many; a full batch means more may wait, and
    the run calls it again at once.
    """
    if every.total_seconds() < 1 or every.total_seconds() != int(every.total_seconds()):
        raise ValueError("a job's period must be a whole number of seconds")
    if batch is not None and (not prompt or batch < 1):
        raise ValueError("only a prompt job has a batch, of at least one item")

    def register(func: Callable[[], object]) -> Callable[[], object]:
        REGISTRY[name] = Job(
            name=name, every=every, func=func, lease=lease, prompt=prompt, batch=batch
        )
        return func

    return register


def period_start(now: datetime, every: timedelta) -> datetime:
    """The start of the period of length ``every`` that contains ``now``."""
    seconds = int(every.total_seconds())
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def _table(model: type[object]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


def load_job_modules() -> list[str]:
    """Import every service's ``jobs`` module and the configured extra modules."""
    names = []
    for module in pkgutil.iter_modules(infocity.__path__):
        if module.ispkg and module.name != "core":
            try:
                importlib.import_module(f"infocity.{module.name}.jobs")
            except ModuleNotFoundError as exc:
                if exc.name != f"infocity.{module.name}.jobs":
                    raise
                continue
            names.append(f"infocity.{module.name}.jobs")
    for extra in get_settings().job_modules.split(","):
        if extra.strip():
            importlib.import_module(extra.strip())
            names.append(extra.strip())
    return names


def ensure_schedules(now: datetime | None = None) -> None:
    """Create the schedule row of each registered job that has none (due at once)."""
    now = now or utcnow()
    engine = get_engine()
    dialect_insert = upsert_insert(engine)
    with engine.begin() as connection:
        for job in REGISTRY.values():
            connection.execute(
                dialect_insert(_table(PeriodicJob))
                .values(name=job.name, next_run_at=period_start(now, job.every))
                .on_conflict_do_nothing(index_elements=["name"])
            )


def _take(job: Job, worker: str, now: datetime) -> bool:
    table = _table(PeriodicJob)
    with get_engine().begin() as connection:
        result = connection.execute(
            update(table)
            .where(
                table.c.name == job.name,
                table.c.next_run_at <= now,
                or_(table.c.lease_until.is_(None), table.c.lease_until < now),
            )
            .values(lease_owner=worker, lease_until=now + job.lease, last_started_at=now)
        )
    # Row count 1: this worker holds the lease; 0: not due, or another worker has it.
    return result.rowcount == 1


def _start_run(job: Job, worker: str, start: datetime, now: datetime) -> int | None:
    engine = get_engine()
    dialect_insert = upsert_insert(engine)
    table = _table(JobRun)
    with engine.begin() as connection:
        return connection.execute(
            dialect_insert(table)
            .values(job_name=job.name, period_start=start, worker=worker, started_at=now)
            .on_conflict_do_nothing(index_elements=["job_name", "period_start"])
            .returning(table.c.id)
        ).scalar_one_or_none()


def _finish(job: Job, worker: str, start: datetime, run_id: int | None, error: str | None) -> None:
    now = utcnow()
    runs, schedules = _table(JobRun), _table(PeriodicJob)
    with get_engine().begin() as connection:
        if run_id is not None:
            connection.execute(
                update(runs).where(runs.c.id == run_id).values(finished_at=now, error=error)
            )
        connection.execute(
            update(schedules)
            .where(schedules.c.name == job.name, schedules.c.lease_owner == worker)
            .values(
                next_run_at=start + job.every,
                lease_owner=None,
                lease_until=None,
                last_finished_at=now,
                last_error=error,
            )
        )


def _call(job: Job, should_stop: Callable[[], bool] | None) -> object:
    """The job's function once; a prompt job's again at once while it finds full batches
    (for up to half its lease, so no other worker takes the run over meanwhile)."""
    result = job.func()
    if job.batch is None:
        return result
    total = result if isinstance(result, int) else 0
    deadline = time.monotonic() + job.lease.total_seconds() * PROMPT_RUN_SHARE
    while (
        isinstance(result, int)
        and result >= job.batch
        and time.monotonic() < deadline
        and not (should_stop is not None and should_stop())
    ):
        result = job.func()
        total += result if isinstance(result, int) else 0
    return total


def run_job(
    job: Job,
    worker: str,
    now: datetime | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> bool:
    """Run ``job`` for the current period if it is due and no one else has it.

    ``should_stop``: asked between the batches of a prompt job; the batch in hand
    finishes, and the run is recorded as ended.
    """
    now = now or utcnow()
    if not _take(job, worker, now):
        return False
    start = period_start(now, job.every)
    run_id = _start_run(job, worker, start, now)
    if run_id is None:
        # This period already ran (a lease expired mid-run, say): move on to the next.
        _finish(job, worker, start, None, None)
        return False
    error = None
    try:
        result = _call(job, should_stop)
    except Exception as exc:  # recorded on the run; the next period runs as usual
        logger.exception("job %s failed", job.name)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        result = None
    _finish(job, worker, start, run_id, error)
    # The fan-outs run every second or so and mostly find nothing: a run that did nothing
    # is logged at debug, so the log shows the runs that did something.
    level = logging.WARNING if error is not None else logging.DEBUG if result == 0 else logging.INFO
    log(
        logger,
        level,
        "job ran",
        job=job.name,
        period_start=start.isoformat(),
        worker=worker,
        result=result,
        error=error,
    )
    return error is None


def skipped(name: str, skip: Sequence[str]) -> bool:
    """Whether job ``name`` matches one of the ``skip`` patterns (``safety.*``)."""
    return any(fnmatchcase(name, pattern) for pattern in skip)


def _kind(prompt: bool | None, skip: Sequence[str] = ()) -> set[str]:
    """The registered jobs' names: prompt ones, the others, or all (``None``), but those
    matching ``skip``."""
    return {
        name
        for name, job in REGISTRY.items()
        if (prompt is None or job.prompt == prompt) and not skipped(name, skip)
    }


def seconds_until_due(
    prompt: bool | None = None, *, now: datetime | None = None, skip: Sequence[str] = ()
) -> float | None:
    """How long until the first of these jobs is due and free (0: now); ``None`` when
    none is registered or each is held by a live lease."""
    names = _kind(prompt, skip)
    if not names:
        return None
    now = now or utcnow()
    table = _table(PeriodicJob)
    with get_engine().connect() as connection:
        first: datetime | None = connection.scalar(
            select(func.min(table.c.next_run_at)).where(
                table.c.name.in_(names),
                or_(table.c.lease_until.is_(None), table.c.lease_until < now),
            )
        )
    if first is None:
        return None
    if first.tzinfo is None:  # SQLite keeps no zone; the city stores UTC
        first = first.replace(tzinfo=UTC)
    return max((first - now).total_seconds(), 0.0)


def run_due_jobs(
    worker: str,
    *,
    now: datetime | None = None,
    should_stop: Callable[[], bool] | None = None,
    prompt: bool | None = None,
    skip: Sequence[str] = (),
) -> list[str]:
    """Run every registered job that is due; return the names of those this worker ran.

    ``prompt``: only the prompt jobs (``True``), only the others (``False``), or all;
    ``skip``: patterns of jobs left to other workers (``safety.*``).
    """
    fixed_now, now = now, now or utcnow()
    table = _table(PeriodicJob)
    with get_engine().connect() as connection:
        known = set(connection.scalars(select(table.c.name)))
        due = set(
            connection.scalars(
                select(table.c.name).where(
                    table.c.next_run_at <= now,
                    or_(table.c.lease_until.is_(None), table.c.lease_until < now),
                )
            )
        )
    if not set(REGISTRY) <= known:
        ensure_schedules(now)
        due |= set(REGISTRY) - known
    ran = []
    for name in sorted(due):
        job = REGISTRY.get(name)
        if job is None or (prompt is not None and job.prompt != prompt) or skipped(name, skip):
            continue
        if should_stop is not None and should_stop():
            continue
        # Each job takes its lease at its own start.
        if run_job(job, worker, fixed_now, should_stop):
            ran.append(name)
    return ran


# Built-in jobs of the core.


@periodic("core.purge_rate_limits", every=timedelta(hours=1))
def purge_rate_limits() -> int:
    """Delete rate-limit counters of windows long gone."""
    return ratelimit.purge_expired()


@periodic("core.purge_web_sessions", every=timedelta(hours=1))
def purge_web_sessions() -> int:
    """Delete expired browser sessions."""
    table = _table(WebSession)
    with get_engine().begin() as connection:
        return connection.execute(delete(table).where(table.c.expires_at < utcnow())).rowcount


@periodic("core.purge_outbox", every=timedelta(days=1))
def purge_outbox() -> int:
    """Delete sent messages older than the retention period; inbox messages stay."""
    outbox, inbox = _table(OutboxMessage), _table(InboxMessage)
    cutoff = utcnow() - timedelta(days=get_settings().outbox_retention_days)
    with get_engine().begin() as connection:
        return connection.execute(
            delete(outbox).where(
                and_(
                    outbox.c.status == "sent",
                    outbox.c.sent_at < cutoff,
                    # The citizen's inbox row refers to its outbox message.
                    ~exists().where(inbox.c.outbox_id == outbox.c.id),
                )
            )
        ).rowcount


# A period never runs again once past: its run's row guards nothing after a few days, and a
# job every second (the cards' fan-out) leaves 86,400 a day.
JOB_RUNS_KEPT = timedelta(days=7)


@periodic("core.purge_job_runs", every=timedelta(days=1))
def purge_job_runs() -> int:
    """Delete the records of job runs finished more than ``JOB_RUNS_KEPT`` ago."""
    runs = _table(JobRun)
    with get_engine().begin() as connection:
        return connection.execute(
            delete(runs).where(runs.c.finished_at < utcnow() - JOB_RUNS_KEPT)
        ).rowcount
