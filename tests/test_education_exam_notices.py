"""A logged-in participant or parent subscribes with the code and the document, and is
told once when a subject is published: the worker's job announces each publication
once and tells subscribers in batches, however often (or concurrently) it runs."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from infocity.core.auth import SYSTEM, Role
from infocity.core.errors import Forbidden
from infocity.core.models import OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.education import errors, jobs, service
from infocity.education.models.exams import ExamPublication
from infocity.education.schemas.exams import ExamLookup
from infocity.education.service.exam_notices import PUBLISHED_EVENT
from tests.builders import make_citizen, make_staff
from tests.education_builders import (
    Participant,
    import_results,
    make_participant,
    publication_instant,
    results_csv,
)


def lookup(who: Participant) -> ExamLookup:
    return ExamLookup(registration_code=who.registration_code, document_number=who.document_number)


def told(user_id: int | None = None) -> int:
    """Messages queued to tell of a publication (one per channel)."""
    with UnitOfWork() as uow:
        query = select(func.count()).where(OutboxMessage.kind == "exam_results_published")
        if user_id is not None:
            query = query.where(OutboxMessage.user_id == user_id)
        return int(uow.session.scalar(query) or 0)


def states() -> list[str]:
    with UnitOfWork() as uow:
        return list(uow.session.scalars(select(ExamPublication.state).order_by(ExamPublication.id)))


def test_a_subscriber_is_told_once_when_the_subject_is_published(database: str) -> None:
    who = make_participant()
    at = publication_instant()
    import_results([(who, "russian", 70, 24, at)])
    pupil, parent = make_citizen(), make_citizen()
    service.subscribe_to_exam_results(pupil.principal, lookup(who))
    service.subscribe_to_exam_results(parent.principal, lookup(who))
    service.subscribe_to_exam_results(parent.principal, lookup(who))  # twice is once

    assert service.announce_exam_publications(SYSTEM, now=at - timedelta(seconds=1)) == 0
    assert service.notify_exam_subscribers(SYSTEM) == 0
    assert states() == ["scheduled"]

    assert service.announce_exam_publications(SYSTEM, now=at) == 1
    assert service.announce_exam_publications(SYSTEM, now=at) == 0  # the job ran twice
    assert service.notify_exam_subscribers(SYSTEM) == 2
    assert service.notify_exam_subscribers(SYSTEM) == 0
    assert states() == ["announced"]
    per_person = told(pupil.id)
    assert per_person >= 1  # one per channel of their settings
    assert told(parent.id) == per_person
    with UnitOfWork() as uow:
        subject, body = uow.session.execute(
            select(OutboxMessage.subject, OutboxMessage.body).where(
                OutboxMessage.user_id == pupil.id, OutboxMessage.channel == "inbox"
            )
        ).one()
    assert subject == "Результаты экзамена опубликованы"
    assert "«Русский язык»" in body
    assert who.registration_code in body


def test_the_publication_is_one_event_for_partner_systems(database: str) -> None:
    from infocity.core import webhooks

    with UnitOfWork() as uow:
        webhooks.add_endpoint(uow.session, url="https://partner.example/hook", kinds="education.*")
        uow.commit()
    at = publication_instant()
    import_results([(make_participant(), "physics", 50, 36, at) for _ in range(3)])
    service.announce_exam_publications(SYSTEM, now=at)
    service.announce_exam_publications(SYSTEM, now=at)
    with UnitOfWork() as uow:
        events = uow.session.scalar(
            select(func.count()).where(OutboxMessage.kind == PUBLISHED_EVENT)
        )
    assert events == 1


def test_results_added_after_the_announcement_reach_their_subscribers(database: str) -> None:
    first, second = make_participant(), make_participant()
    at = publication_instant(-1)
    import_results([(first, "chemistry", 60, 36, at)])
    early, late = make_citizen(), make_citizen()
    service.subscribe_to_exam_results(early.principal, lookup(first))
    service.announce_exam_publications(SYSTEM)
    service.notify_exam_subscribers(SYSTEM)
    assert states() == ["announced"]

    # A second file for the same subject and instant (another district's schools).
    import_results([(second, "chemistry", 40, 36, at)])
    service.subscribe_to_exam_results(late.principal, lookup(second))
    assert states() == ["announcing"]
    assert service.notify_exam_subscribers(SYSTEM) == 1
    assert told(early.id) == told(late.id)  # the early subscriber was not told again
    assert states() == ["announced"]


def test_the_worker_job_announces_and_tells(database: str) -> None:
    who = make_participant()
    import_results([(who, "history", 50, 32, publication_instant(-1))])
    citizen = make_citizen()
    service.subscribe_to_exam_results(citizen.principal, lookup(who))
    assert jobs.exam_publications() == 1
    assert jobs.exam_publications() == 0
    assert told(citizen.id) >= 1


def test_subscribing_needs_the_right_document_and_a_citizen(database: str) -> None:
    who = make_participant()
    import_results([(who, "russian", 70, 24, publication_instant())])
    citizen = make_citizen()
    with pytest.raises(errors.ResultsNotFound):
        service.subscribe_to_exam_results(
            citizen.principal,
            ExamLookup(registration_code=who.registration_code, document_number="000000"),
        )
    with pytest.raises(Forbidden):
        service.subscribe_to_exam_results(make_staff(Role.EXAM_OFFICIAL).principal, lookup(who))
    assert service.list_exam_subscriptions(citizen.principal) == []
    service.subscribe_to_exam_results(citizen.principal, lookup(who))
    assert [s.registration_code for s in service.list_exam_subscriptions(citizen.principal)] == [
        who.registration_code
    ]


def test_two_workers_at_once_tell_each_subscriber_once(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    at = publication_instant(-1)
    people = [make_participant() for _ in range(12)]
    import_results([(who, "english", 70, 22, at) for who in people])
    citizens = [make_citizen() for _ in people]
    for citizen, who in zip(citizens, people, strict=True):
        service.subscribe_to_exam_results(citizen.principal, lookup(who))
    service.announce_exam_publications(SYSTEM)
    barrier = threading.Barrier(2)
    counts: list[int] = []

    def run() -> None:
        barrier.wait()
        counts.append(service.notify_exam_subscribers(SYSTEM, batch=3))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == len(citizens)
    per_person = {told(c.id) for c in citizens}
    assert len(per_person) == 1
    assert per_person != {0}
    assert states() == ["announced"]


def test_results_imported_while_the_fan_out_closes_are_not_lost(database: str) -> None:
    """The fan-out calls a publication done only under its row lock, which an import
    adding results to it takes too: the import's subscribers are told either way."""
    if database.startswith("sqlite"):
        pytest.skip("SQLite runs one writer at a time: the race is proved on PostgreSQL")
    from sqlalchemy import text

    from tests.support.users import wait_for

    first, second = make_participant(), make_participant()
    at = publication_instant(-1)
    import_results([(first, "russian", 70, 24, at), (second, "physics", 50, 36, at)])
    early, late = make_citizen(), make_citizen()
    service.subscribe_to_exam_results(early.principal, lookup(first))
    service.subscribe_to_exam_results(late.principal, lookup(second))
    service.announce_exam_publications(SYSTEM)  # both publications are being announced
    importing = UnitOfWork()
    with importing:
        # Another district's file, not committed yet: the second participant's Russian.
        service.import_exam_results(
            SYSTEM, results_csv([(second, "russian", 64, 24, at)]), uow=importing
        )
        fan_out = threading.Thread(target=service.notify_exam_subscribers, args=(SYSTEM,))
        fan_out.start()

        def blocked() -> bool:
            with UnitOfWork() as probe:
                return bool(
                    probe.session.scalar(
                        text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                            "current_database() AND wait_event_type = 'Lock'"
                        )
                    )
                )

        # The fan-out tells the first subscriber of Russian, then waits on the lock before
        # it may call the publication done.
        wait_for(lambda: blocked() or not fan_out.is_alive(), what="the fan-out to wait")
        importing.commit()
    fan_out.join()
    service.notify_exam_subscribers(SYSTEM)
    assert told(late.id) == 2 * told(early.id)  # physics, then Russian
    assert states() == ["announced", "announced"]
