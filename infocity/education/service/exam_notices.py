"""Telling subscribers that a subject's results are published.

Two steps, both run by the worker's job (``education.jobs``), never inside an import or
a look-up: a publication whose instant has passed is announced once (one guarded
UPDATE, one event for partner systems); then its subscribers are told in small batches,
each in a transaction of its own, a notice row per subscriber and publication (unique)
making sure no one is told twice, however often or concurrently the job runs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, exists, func, select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core import outbox
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.education.models.exams import (
    ExamNotice,
    ExamParticipant,
    ExamPublication,
    ExamResult,
    ExamSubscription,
)
from infocity.education.rules import exams as rules
from infocity.education.rules.exams import PublicationMove, PublicationState

PUBLISHED_EVENT = "education.exam_results.published"
NOTICE_BATCH = 100
MAX_BATCHES = 50  # per run: a run keeps well inside its lease; the next goes on


def announce_exam_publications(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> int:
    """Mark every publication whose instant has passed as public and queue its one event
    (a webhook for partner systems); the number announced. A second run finds none."""
    authorize(actor, Action.EXAM_RESULTS_IMPORT)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        announced = dml(
            session,
            update(ExamPublication)
            .where(
                ExamPublication.state.in_(rules.states_before(PublicationMove.PUBLISH)),
                ExamPublication.published_at <= now,
            )
            .values(
                state=rules.next_state(PublicationState.SCHEDULED, PublicationMove.PUBLISH),
                announced_at=now,
            )
            .returning(ExamPublication.id, ExamPublication.subject, ExamPublication.published_at),
        ).all()
        for row in announced:
            publication_id, subject, published_at = row.id, row.subject, row.published_at
            outbox.publish_event(
                session,
                PUBLISHED_EVENT,
                {
                    "publication_id": publication_id,
                    "subject": subject,
                    "published_at": published_at.isoformat(),
                },
            )
        uow.commit()
        return len(announced)


def _waiting(publication: ExamPublication) -> Select[int, int, str]:
    """Subscriptions to a participant with a result in this publication, not yet told."""
    return (
        select(ExamSubscription.id, ExamSubscription.user_id, ExamParticipant.registration_code)
        .join(ExamParticipant, ExamParticipant.id == ExamSubscription.participant_id)
        .where(
            exists().where(
                ExamResult.participant_id == ExamSubscription.participant_id,
                ExamResult.subject == publication.subject,
                ExamResult.published_at == publication.published_at,
            ),
            ~exists().where(
                ExamNotice.publication_id == publication.id,
                ExamNotice.subscription_id == ExamSubscription.id,
            ),
        )
        .order_by(ExamSubscription.id)
    )


def _tell(session: Session, publication: ExamPublication, batch: int) -> tuple[int, int]:
    """Tell up to ``batch`` waiting subscribers; how many were waiting, how many told."""
    rows = session.execute(_waiting(publication).limit(batch)).all()
    now = utcnow()
    told = 0
    for subscription_id, user_id, code in rows:
        taken = session.execute(
            upsert_insert(session)(ExamNotice)
            .values(publication_id=publication.id, subscription_id=subscription_id, created_at=now)
            .on_conflict_do_nothing(index_elements=["publication_id", "subscription_id"])
            .returning(ExamNotice.id)
        ).scalar_one_or_none()
        if taken is None:  # told by a concurrent run
            continue
        outbox.notify(
            session,
            accounts.recipient_for_user(session, user_id),
            kind="exam_results_published",
            template="education/exams/messages/published.txt",
            context={
                "subject_label": rules.SUBJECT_LABELS.get(publication.subject, publication.subject),
                "code": code,
            },
            link="/education/exams",
        )
        told += 1
    return len(rows), told


def _finish_if_told(session: Session, publication_id: int) -> bool:
    """ANNOUNCING -> ANNOUNCED once no subscriber waits. The publication row is locked
    first, as an import adding results to it does, so results committed meanwhile are
    seen here or reopen it there."""
    publication = session.scalars(
        select(ExamPublication)
        .where(ExamPublication.id == publication_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if publication.state != PublicationState.ANNOUNCING:
        return False
    waiting = session.scalar(
        select(func.count()).select_from(_waiting(publication).limit(1).subquery())
    )
    if waiting:
        return False
    return (
        dml(
            session,
            update(ExamPublication)
            .where(
                ExamPublication.id == publication_id,
                ExamPublication.state.in_(rules.states_before(PublicationMove.FINISH)),
            )
            .values(state=rules.next_state(PublicationState.ANNOUNCING, PublicationMove.FINISH)),
        ).rowcount
        == 1
    )


def notify_exam_subscribers(
    actor: Principal | None, *, batch: int = NOTICE_BATCH, max_batches: int = MAX_BATCHES
) -> int:
    """Tell the subscribers of every publication being announced, ``batch`` at a time,
    each batch a transaction of its own; the number told."""
    authorize(actor, Action.EXAM_RESULTS_IMPORT)
    with UnitOfWork() as uow:
        publication_ids = list(
            uow.session.scalars(
                select(ExamPublication.id)
                .where(ExamPublication.state == PublicationState.ANNOUNCING)
                .order_by(ExamPublication.published_at, ExamPublication.id)
            )
        )
    told = 0
    batches = 0
    for publication_id in publication_ids:
        while batches < max_batches:
            batches += 1
            with UnitOfWork() as uow:
                publication = uow.session.get(ExamPublication, publication_id)
                assert publication is not None
                found, now_told = _tell(uow.session, publication, batch)
                told += now_told
                if found < batch:
                    _finish_if_told(uow.session, publication_id)
                uow.commit()
            if found < batch:
                break
    return told
