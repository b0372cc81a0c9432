"""Periodic jobs: once per period, whatever the number of workers."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from infocity.core import jobs
from infocity.core.db import utcnow
from infocity.core.models import JobRun, OutboxMessage, PeriodicJob, RateLimitCounter, WebSession
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from tests.support.users import add_citizen, count, start_worker, wait_for

calls: list[str] = []


@pytest.fixture
def test_job() -> Iterator[jobs.Job]:
    """A job registered for one test only."""

    @jobs.periodic("test.counting", every=timedelta(minutes=5))
    def counting() -> None:
        calls.append("run")

    calls.clear()
    yield jobs.REGISTRY["test.counting"]
    del jobs.REGISTRY["test.counting"]


def test_period_start_is_aligned_to_the_epoch() -> None:
    at = datetime(2026, 3, 29, 0, 7, 31, tzinfo=UTC)
    assert jobs.period_start(at, timedelta(minutes=5)) == datetime(2026, 3, 29, 0, 5, tzinfo=UTC)
    assert jobs.period_start(at, timedelta(days=1)) == datetime(2026, 3, 29, tzinfo=UTC)
    with pytest.raises(ValueError, match="whole number"):
        jobs.periodic("bad", every=timedelta(milliseconds=1500))


def test_a_job_runs_once_per_period_and_again_in_the_next(
    uow: UnitOfWork, test_job: jobs.Job
) -> None:
    now = datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    assert "test.counting" in jobs.run_due_jobs("a", now=now)
    # Same period: not due (the city's own jobs of a minute may be; they are not this one).
    assert "test.counting" not in jobs.run_due_jobs("b", now=now)
    assert not jobs.run_job(test_job, "b", now=now + timedelta(seconds=1))
    assert calls == ["run"]

    later = now + timedelta(minutes=5)
    assert "test.counting" in jobs.run_due_jobs("b", now=later)
    assert calls == ["run", "run"]
    with uow:
        runs = uow.session.scalars(
            select(JobRun).where(JobRun.job_name == "test.counting").order_by(JobRun.id)
        ).all()
        assert [r.worker for r in runs] == ["a", "b"]
        assert runs[1].period_start - runs[0].period_start == timedelta(minutes=5)
        schedule = uow.session.get(PeriodicJob, "test.counting")
        assert schedule is not None
        assert schedule.next_run_at == runs[1].period_start + timedelta(minutes=5)
        assert schedule.lease_until is None


def test_a_worker_leaves_the_jobs_it_skips_to_other_workers(
    uow: UnitOfWork, test_job: jobs.Job
) -> None:
    """``infocity worker --skip-job 'test.*'``: the cameras' checks, say, run elsewhere;
    the job stays due for the worker that runs it."""
    now = datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    ran = jobs.run_due_jobs("cards-worker", now=now, skip=("test.*",))
    assert "test.counting" not in ran
    assert ran  # the city's other due jobs ran
    assert calls == []
    assert jobs.seconds_until_due(prompt=False, now=now, skip=("*",)) is None
    assert jobs.seconds_until_due(prompt=False, now=now) == 0.0  # still due for others
    assert jobs.run_due_jobs("cameras-worker", now=now, skip=("cards.*",)) == ["test.counting"]
    assert calls == ["run"]


def test_a_period_already_run_is_not_run_again_after_a_lease_expires(
    uow: UnitOfWork, test_job: jobs.Job
) -> None:
    now = utcnow()
    jobs.ensure_schedules(now)
    assert jobs.run_job(test_job, "a", now=now)
    with uow:
        # As if worker "a" died after the run, before moving the schedule on.
        uow.session.execute(
            update(PeriodicJob)
            .where(PeriodicJob.name == "test.counting")
            .values(next_run_at=jobs.period_start(now, test_job.every))
        )
        uow.commit()
    assert not jobs.run_job(test_job, "b", now=now)
    assert calls == ["run"]
    assert count(uow, JobRun, JobRun.job_name == "test.counting") == 1


def test_a_failing_job_is_recorded_and_runs_next_period(uow: UnitOfWork) -> None:
    @jobs.periodic("test.failing", every=timedelta(minutes=1))
    def failing() -> None:
        raise RuntimeError("boom")

    try:
        now = utcnow()
        jobs.ensure_schedules(now)
        assert not jobs.run_job(jobs.REGISTRY["test.failing"], "a", now=now)
        with uow:
            run = uow.session.scalars(select(JobRun).where(JobRun.job_name == "test.failing")).one()
            assert run.error == "RuntimeError: boom"
            assert run.finished_at is not None
            schedule = uow.session.get(PeriodicJob, "test.failing")
            assert schedule is not None
            assert schedule.last_error == "RuntimeError: boom"
            assert schedule.next_run_at > now
    finally:
        del jobs.REGISTRY["test.failing"]


def test_built_in_purges(uow: UnitOfWork) -> None:
    citizen = add_citizen(uow)
    long_ago = utcnow() - timedelta(days=400)
    assert citizen.user_id is not None
    with uow:
        uow.session.add_all(
            [
                RateLimitCounter(key="old", window_start=long_ago, count=3),
                RateLimitCounter(key="new", window_start=utcnow(), count=1),
                WebSession(
                    token_hash="a" * 64,
                    user_id=citizen.user_id,
                    created_at=long_ago,
                    expires_at=long_ago,
                ),
                WebSession(
                    token_hash="b" * 64,
                    user_id=citizen.user_id,
                    created_at=utcnow(),
                    expires_at=utcnow() + timedelta(days=1),
                ),
            ]
        )
        for number, (channel, status) in enumerate(
            [("email", "sent"), ("email", "failed"), ("inbox", "sent"), ("email", "queued")]
        ):
            uow.session.add(
                OutboxMessage(
                    id=f"{number:032d}",
                    kind="k",
                    channel=channel,
                    user_id=citizen.user_id,
                    locale="ru",
                    subject="s",
                    body="b",
                    payload={},
                    status=status,
                    attempts=1,
                    next_attempt_at=long_ago,
                    created_at=long_ago,
                    sent_at=long_ago if status == "sent" else None,
                )
            )
        uow.session.flush()
        from infocity.core.models import InboxMessage

        uow.session.add(
            InboxMessage(
                user_id=citizen.user_id,
                outbox_id=f"{2:032d}",
                kind="k",
                subject="s",
                body="b",
                created_at=long_ago,
            )
        )
        uow.commit()

    assert jobs.purge_rate_limits() == 1
    assert jobs.purge_web_sessions() == 1
    assert jobs.purge_outbox() == 1  # the old sent e-mail; the inbox's message stays
    with uow:
        left = set(uow.session.scalars(select(OutboxMessage.id)))
    assert left == {f"{n:032d}" for n in (1, 2, 3)}


def test_old_job_runs_are_purged_and_recent_ones_kept(uow: UnitOfWork) -> None:
    now = utcnow()
    with uow:
        for n, age in enumerate((timedelta(days=8), timedelta(days=1))):
            started = now - age
            uow.session.add(
                JobRun(job_name="test.old", period_start=started, worker=f"w{n}",
                       started_at=started, finished_at=started)
            )  # fmt: skip
        uow.commit()
    assert jobs.purge_job_runs() == 1
    assert count(uow, JobRun, JobRun.job_name == "test.old") == 1


@pytest.mark.slow
def test_two_worker_processes_run_each_period_exactly_once(
    database: str, uow: UnitOfWork, tmp_path: Path
) -> None:
    job_log = tmp_path / "runs.txt"
    env = {
        **os.environ,
        "INFOCITY_DATABASE_URL": database,
        "INFOCITY_ENVIRONMENT": "test",
        "INFOCITY_WORKER_POLL_SECONDS": "0.05",
        "INFOCITY_JOB_MODULES": "tests.support.jobs",
        "INFOCITY_TEST_JOB_LOG": str(job_log),
    }
    workers = [start_worker(env, tmp_path / f"worker{n}.log", f"w{n}") for n in (1, 2)]

    def finished_ticks() -> int:
        return count(uow, JobRun, JobRun.job_name == "test.tick", JobRun.finished_at.is_not(None))

    try:
        wait_for(lambda: finished_ticks() >= 4, what="four periods of test.tick")
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for n, worker in enumerate(workers, 1):
            assert worker.wait(timeout=20) == 0, (tmp_path / f"worker{n}.log").read_text()

    with uow:
        per_period = uow.session.execute(
            select(JobRun.job_name, JobRun.period_start, func.count()).group_by(
                JobRun.job_name, JobRun.period_start
            )
        ).all()
        ticks = uow.session.scalars(select(JobRun).where(JobRun.job_name == "test.tick")).all()
        assert all(run.error is None for run in ticks)
    assert all(row[2] == 1 for row in per_period)
    # The function itself ran once per recorded run, never twice for one period.
    assert len(job_log.read_text().splitlines()) == len(ticks) >= 4
    # Hourly and daily jobs: both workers started together, one ran each.
    names = [row[0] for row in per_period]
    for builtin in ("core.purge_rate_limits", "core.purge_web_sessions", "core.purge_outbox"):
        assert names.count(builtin) == 1


@pytest.fixture
def backlog_job() -> Iterator[list[int]]:
    """A prompt job handling at most two of seven waiting items a call; the sizes of the
    batches it handled, in order."""
    waiting = list(range(7))
    handled: list[int] = []

    @jobs.periodic("test.backlog", every=timedelta(minutes=5), prompt=True, batch=2)
    def backlog() -> int:
        batch = waiting[:2]
        del waiting[:2]
        handled.append(len(batch))
        return len(batch)

    yield handled
    del jobs.REGISTRY["test.backlog"]


def test_a_prompt_job_works_through_its_backlog_in_one_run(
    uow: UnitOfWork, backlog_job: list[int]
) -> None:
    jobs.ensure_schedules()
    assert jobs.run_job(jobs.REGISTRY["test.backlog"], "a")
    # Full batches called it again at once; the short one ended the run.
    assert backlog_job == [2, 2, 2, 1]
    assert count(uow, JobRun, JobRun.job_name == "test.backlog") == 1


def test_a_prompt_job_asked_to_stop_finishes_the_batch_in_hand(
    uow: UnitOfWork, backlog_job: list[int]
) -> None:
    jobs.ensure_schedules()
    assert jobs.run_job(jobs.REGISTRY["test.backlog"], "a", should_stop=lambda: True)
    assert backlog_job == [2]
    with uow:
        run = uow.session.scalars(select(JobRun).where(JobRun.job_name == "test.backlog")).one()
        assert run.finished_at is not None
        assert run.error is None


def test_the_worker_runs_a_prompt_job_with_a_backlog_without_waiting_the_poll(
    uow: UnitOfWork, settings_env: pytest.MonkeyPatch, backlog_job: list[int]
) -> None:
    # A poll far longer than the wait below: only running again at once can pass.
    settings_env.setenv("INFOCITY_WORKER_POLL_SECONDS", "600")
    get_settings.cache_clear()
    registered = jobs.REGISTRY["test.backlog"]
    settings_env.setattr(jobs, "load_job_modules", list)
    settings_env.setattr(jobs, "REGISTRY", {"test.backlog": registered})
    worker = Worker("prompt")
    running = threading.Thread(target=worker.run)
    running.start()
    try:
        wait_for(lambda: sum(backlog_job) == 7, timeout=30, what="the whole backlog")
    finally:
        worker.stop()
        running.join(60)
    assert not running.is_alive()
    assert backlog_job[:4] == [2, 2, 2, 1]


def test_a_run_that_found_nothing_to_do_is_not_logged_at_info(
    uow: UnitOfWork, caplog: pytest.LogCaptureFixture
) -> None:
    # The fan-outs run every second: the operator's log shows the runs that did something.
    found = iter([0, 3])

    @jobs.periodic("test.finding", every=timedelta(minutes=5))
    def finding() -> int:
        return next(found)

    now = datetime(2030, 1, 1, 0, 1, tzinfo=UTC)
    try:
        with caplog.at_level(logging.INFO, logger="infocity.jobs"):
            assert "test.finding" in jobs.run_due_jobs("a", now=now)
            assert "test.finding" in jobs.run_due_jobs("a", now=now + timedelta(minutes=5))
    finally:
        del jobs.REGISTRY["test.finding"]
    ran = [
        r
        for r in caplog.records
        if r.getMessage() == "job ran" and r.__dict__["fields"]["job"] == "test.finding"
    ]
    assert [r.levelno for r in ran] == [logging.INFO]
