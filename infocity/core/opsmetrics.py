"""Figures an operator watches that live in the database: the outbox's backlog and the
periodic jobs' last successes. Read at scrape time by a collector, with a few cheap,
bounded queries, so that every server process reports the same truth and nothing is
kept in memory."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Table, func, select

from infocity.core.db import get_engine, utcnow
from infocity.core.models import JobRun, OutboxMessage, PeriodicJob

# Undelivered messages counted at most this many, so a huge backlog cannot make a scrape
# slow; the depth then reads as the cap and the age as the oldest among them.
OUTBOX_CAP = 100_000
UNDELIVERED = ("queued", "retry", "sending")


def _table(model: type[object]) -> Table:
    table = model.__table__  # type: ignore[attr-defined]
    assert isinstance(table, Table)
    return table


@dataclass(frozen=True)
class JobFigures:
    """A periodic job's last successful run and whether its latest run failed."""

    name: str
    last_success_at: datetime | None
    last_success_seconds: float | None
    last_run_failed: bool


@dataclass(frozen=True)
class DatabaseFigures:
    outbox_depth: int
    oldest_undelivered_at: datetime | None
    jobs: list[JobFigures]


def read_figures() -> DatabaseFigures:
    """The outbox backlog and each job's last success, read in one short connection."""
    outbox, schedules, runs = _table(OutboxMessage), _table(PeriodicJob), _table(JobRun)
    waiting = (
        select(outbox.c.created_at)
        .where(outbox.c.status.in_(UNDELIVERED))
        .limit(OUTBOX_CAP)
        .subquery()
    )
    with get_engine().connect() as connection:
        depth, oldest = connection.execute(
            select(func.count(), func.min(waiting.c.created_at))
        ).one()
        jobs = []
        for name, last_error in connection.execute(
            select(schedules.c.name, schedules.c.last_error).order_by(schedules.c.name)
        ):
            # The newest successful run, found through the (job_name, period_start) index.
            run = connection.execute(
                select(runs.c.started_at, runs.c.finished_at)
                .where(
                    runs.c.job_name == name,
                    runs.c.finished_at.is_not(None),
                    runs.c.error.is_(None),
                )
                .order_by(runs.c.period_start.desc())
                .limit(1)
            ).one_or_none()
            jobs.append(
                JobFigures(
                    name=name,
                    last_success_at=run.finished_at if run else None,
                    last_success_seconds=(
                        (run.finished_at - run.started_at).total_seconds() if run else None
                    ),
                    last_run_failed=last_error is not None,
                )
            )
    return DatabaseFigures(int(depth), oldest, jobs)


class DatabaseCollector(Collector):
    """Prometheus collector of ``read_figures``; a database that cannot be read gives
    ``infocity_metrics_database_up 0`` instead of failing the whole scrape."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "infocity_metrics_database_up", "1 if the figures below could be read."
        )
        try:
            figures = read_figures()
        except Exception:  # any failure: the process metrics are still worth serving
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "infocity_outbox_undelivered",
            f"Messages queued, sending or to be retried (counted up to {OUTBOX_CAP}).",
            value=figures.outbox_depth,
        )
        age = 0.0
        if figures.oldest_undelivered_at is not None:
            age = max(0.0, (utcnow() - figures.oldest_undelivered_at).total_seconds())
        yield GaugeMetricFamily(
            "infocity_outbox_oldest_undelivered_age_seconds",
            "Age of the oldest message not yet delivered (0 when none is waiting).",
            value=age,
        )
        success = GaugeMetricFamily(
            "infocity_job_last_success_timestamp_seconds",
            "When each periodic job last finished without error (Unix time).",
            labels=["job"],
        )
        duration = GaugeMetricFamily(
            "infocity_job_last_success_duration_seconds",
            "How long each periodic job's last successful run took.",
            labels=["job"],
        )
        failed = GaugeMetricFamily(
            "infocity_job_last_run_failed",
            "1 if each periodic job's latest run ended in an error.",
            labels=["job"],
        )
        for job in figures.jobs:
            if job.last_success_at is not None and job.last_success_seconds is not None:
                success.add_metric([job.name], job.last_success_at.timestamp())
                duration.add_metric([job.name], job.last_success_seconds)
            failed.add_metric([job.name], 1 if job.last_run_failed else 0)
        yield success
        yield duration
        yield failed
