"""The parents' notices survive a worker killed in the middle of telling them: a real
``infocity worker`` process is killed (SIGKILL) while it fans card events out, a second
one is started, and every representative is told of every event exactly once. And a
parent is told of an entry while a long periodic job is still running."""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from infocity.cards.models.events import CardEvent, CardNotice
from infocity.cards.service.notices import FAN_OUT_BATCH
from infocity.core import jobs
from infocity.core.models import InboxMessage, OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.core.worker import Worker
from tests.builders import Account
from tests.cards_builders import (
    Device,
    Pupil,
    enrolled_child,
    event,
    make_device,
    make_school,
    send,
    yesterday_at,
)
from tests.support.users import start_worker, wait_for

pytestmark = pytest.mark.slow
CARD_KINDS = ("cards_entry", "cards_exit")

NAMES = ("Маша", "Петя", "Оля", "Ваня", "Лена", "Коля")
EVENTS_PER_PUPIL = 300  # 1,800 events: nine batches of the fan-out, several seconds of work


def _fanned(uow: UnitOfWork) -> int:
    with uow:
        return (
            uow.session.scalar(
                select(func.count())
                .select_from(CardEvent)
                .where(CardEvent.fanned_out_at.is_not(None))
            )
            or 0
        )


def _told(uow: UnitOfWork) -> dict[int | None, int]:
    """Card messages queued, by the account they are for."""
    with uow:
        rows = uow.session.execute(
            select(OutboxMessage.user_id, func.count())
            .where(OutboxMessage.kind.in_(CARD_KINDS))
            .group_by(OutboxMessage.user_id)
        )
        return {row[0]: row[1] for row in rows}


def _undelivered(uow: UnitOfWork) -> dict[tuple[str, str, str], int]:
    """Card messages not yet in the inbox, by kind, channel and status."""
    with uow:
        rows = uow.session.execute(
            select(OutboxMessage.kind, OutboxMessage.channel, OutboxMessage.status, func.count())
            .where(OutboxMessage.kind.in_(CARD_KINDS), OutboxMessage.status != "sent")
            .group_by(OutboxMessage.kind, OutboxMessage.channel, OutboxMessage.status)
        )
        return {(row[0], row[1], row[2]): row[3] for row in rows}


def _morning(turnstile: Device, pupils: list[tuple[Account, Pupil]]) -> None:
    """Each pupil goes in and out all day: every event one parent is told of."""
    rows = [
        event(
            f"p{pupil.id}-{number}",
            "entry" if number % 2 == 0 else "exit",
            pupil.uid,
            yesterday_at(7) + timedelta(seconds=number * 30),
        )
        for _parent, pupil in pupils
        for number in range(EVENTS_PER_PUPIL)
    ]
    for start in range(0, len(rows), 500):
        batch = send(turnstile, *rows[start : start + 500])
        assert not batch.refused


def test_a_worker_killed_during_the_fan_out_tells_everyone_once(
    database: str, uow: UnitOfWork, tmp_path: Path
) -> None:
    if database.startswith("sqlite"):
        pytest.skip("the fan-out's locked-and-skipped batches are proved on PostgreSQL")
    school = make_school()
    pupils = [enrolled_child(school, first_name=name) for name in NAMES]
    _morning(make_device(school.id), pupils)
    total = len(NAMES) * EVENTS_PER_PUPIL
    env = {
        **os.environ,
        "INFOCITY_DATABASE_URL": database,
        "INFOCITY_ENVIRONMENT": "test",
        "INFOCITY_WORKER_POLL_SECONDS": "0.1",
    }
    log = tmp_path / "worker.log"

    first = start_worker(env, log, "first")
    try:
        # A batch has committed and more are waiting: the worker is in the middle of it.
        wait_for(lambda: _fanned(uow) >= FAN_OUT_BATCH, 120, "the first batches told")
    finally:
        first.send_signal(signal.SIGKILL)  # no chance to finish or roll back anything itself
        first.wait(timeout=10)
    at_kill = _fanned(uow)
    assert at_kill < total, "the fan-out finished before the kill: nothing was tested"
    # A batch is one transaction: the one cut short left nothing half told.
    assert at_kill % FAN_OUT_BATCH == 0
    with uow:
        notices = uow.session.scalar(select(func.count()).select_from(CardNotice))
    assert notices == at_kill

    second = start_worker(env, log, "second")
    try:
        wait_for(lambda: _fanned(uow) == total, 180, "every event told after the restart")
        try:
            wait_for(lambda: not _undelivered(uow), 120, "every notice in the inbox")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {_undelivered(uow)}") from exc
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, log.read_text()

    # Every parent got one message per event of their child: none lost, none doubled.
    assert _told(uow) == {parent.id: EVENTS_PER_PUPIL for parent, _pupil in pupils}
    with uow:
        session = uow.session
        pairs = Counter(
            session.execute(select(CardNotice.event_id, CardNotice.representative_id)).all()
        )
        inbox = session.scalar(
            select(func.count()).select_from(InboxMessage).where(InboxMessage.kind.in_(CARD_KINDS))
        )
    assert len(pairs) == total
    assert set(pairs.values()) == {1}
    assert inbox == total


def test_parents_are_told_of_an_entry_while_a_long_job_runs(
    database: str, uow: UnitOfWork, monkeypatch: pytest.MonkeyPatch
) -> None:
    school = make_school()
    parent, pupil = enrolled_child(school)
    turnstile = make_device(school.id)
    working, may_finish, finished = threading.Event(), threading.Event(), threading.Event()

    def long_job() -> None:  # as slots materialised for a whole city: minutes
        working.set()
        may_finish.wait(300)
        finished.set()

    jobs.load_job_modules()
    fan_out = jobs.REGISTRY["cards.fan_out"]
    # The fan-out and one long job, nothing else the city runs.
    monkeypatch.setattr(jobs, "load_job_modules", list)
    monkeypatch.setattr(jobs, "REGISTRY", {"cards.fan_out": fan_out})
    jobs.periodic("test.long", every=timedelta(minutes=5))(long_job)
    worker = Worker("busy")
    running = threading.Thread(target=worker.run)
    running.start()
    try:
        wait_for(working.is_set, 60, "the long job to start")
        assert not send(turnstile, event("e1", "entry", pupil.uid, yesterday_at(8))).refused

        wait_for(lambda: "cards_entry" in _inbox(uow, parent.id), 60, "the entry in the inbox")

        assert not finished.is_set()  # told while the long job was still working
    finally:
        may_finish.set()
        worker.stop()
        running.join(300)
    assert not running.is_alive()
    assert finished.is_set()


def _inbox(uow: UnitOfWork, user_id: int) -> list[str]:
    """The kinds of the messages in a person's inbox."""
    with uow:
        return list(
            uow.session.scalars(
                select(InboxMessage.kind)
                .where(InboxMessage.user_id == user_id)
                .order_by(InboxMessage.id)
            )
        )
