"""The kindergarten queue, as a parent sees it: apply for a child of the family, follow
the position in each chosen kindergarten, answer an offer of a place, withdraw."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.sql import dml
from infocity.core.uow import UnitOfWork
from infocity.core.usage import record_service_use
from infocity.education import errors
from infocity.education.models.directory import Kindergarten, KindergartenGroup
from infocity.education.models.kindergarten import (
    KindergartenApplication,
    KindergartenChoice,
    KindergartenOffer,
    PositionChange,
)
from infocity.education.rules import kindergarten as rules
from infocity.education.rules.kindergarten import ApplicationStatus, Benefit, OfferStatus
from infocity.education.schemas.kindergarten import (
    KindergartenApplicationCreate,
    KindergartenApplicationRead,
    OfferRead,
    PositionChangeRead,
    QueuePositionRead,
)
from infocity.education.service.directory import _cabinet_document, _kindergarten_names

SERVICE_CODE = "kindergarten_enrolment"  # the portal catalogue's entry
NO_NAME: tuple[str, str | None] = ("", None)


def apply_for_kindergarten(
    actor: Principal | None,
    data: KindergartenApplicationCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> KindergartenApplicationRead:
    """Put a child of the parent's family in the queue of up to three kindergartens."""
    actor = authorize(actor, Action.KINDERGARTEN_APPLY)
    now = now or utcnow()
    if len(set(data.kindergarten_ids)) != len(data.kindergarten_ids):
        raise errors.ChoicesInvalid()
    if data.benefit is not Benefit.NONE and data.benefit_document_id is None:
        raise errors.BenefitDocumentMissing()
    if data.desired_start < city_date(now):
        raise errors.DesiredStartInPast()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if data.child_id == actor.person_id or not accounts.acts_for(actor, data.child_id, uow=uow):
            raise errors.NotYourChild()
        child = accounts.person_by_id(session, data.child_id)
        if child is None or child.birth_date is None:
            raise errors.NotYourChild()
        document = (
            _cabinet_document(
                uow, actor, data.benefit_document_id, data.child_id, "benefit_document_id"
            )
            if data.benefit is not Benefit.NONE and data.benefit_document_id is not None
            else None
        )
        group = rules.age_group(child.birth_date, rules.school_year(data.desired_start))
        if not rules.fits_kindergarten(group):
            raise errors.WrongAgeForKindergarten()
        known = set(
            session.scalars(
                select(Kindergarten.id).where(Kindergarten.id.in_(data.kindergarten_ids))
            )
        )
        if known != set(data.kindergarten_ids):
            raise errors.KindergartenNotFound()
        application = KindergartenApplication(
            child_id=data.child_id,
            guardian_user_id=actor.user_id,
            child_birth_date=child.birth_date,
            age_group=group,
            desired_start=data.desired_start,
            benefit=data.benefit.value,
            benefit_document=document.title if document else None,
            benefit_document_id=document.id if document else None,
            status=ApplicationStatus.QUEUED.value,
            applied_at=now,
        )
        session.add(application)
        try:
            session.flush()
        except IntegrityError as exc:  # the partial unique index: one active per child
            raise errors.ChildAlreadyQueued() from exc
        for rank, kindergarten_id in enumerate(data.kindergarten_ids, start=1):
            session.add(
                KindergartenChoice(
                    application_id=application.id, rank=rank, kindergarten_id=kindergarten_id
                )
            )
        session.flush()
        record_service_use(session, SERVICE_CODE, actor.user_id)
        result = _read(uow, application, now)
        uow.commit()
        return result


def children_for_kindergarten(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[tuple[int, str]]:
    """The parent's children (id, name) a kindergarten application may be filed for."""
    actor = authorize(actor, Action.KINDERGARTEN_APPLY)
    return [
        (child.id, " ".join(p for p in (child.last_name, child.first_name) if p))
        for child in accounts.list_family(actor, uow=uow)
    ]


def _mine(session: Session, actor: Principal, application_id: int) -> KindergartenApplication:
    application = session.get(KindergartenApplication, application_id)
    if application is None or application.guardian_user_id != actor.user_id:
        raise errors.ApplicationNotFound()
    return application


def _positions(
    uow: UnitOfWork,
    application: KindergartenApplication,
    now: datetime,
    names: dict[int, tuple[str, str | None]],
) -> list[QueuePositionRead]:
    """Where the child stands in each chosen kindergarten; a change since the parent last
    looked is recorded, so the history shows what moved."""
    session = uow.session
    choices = list(
        session.scalars(
            select(KindergartenChoice)
            .where(KindergartenChoice.application_id == application.id)
            .order_by(KindergartenChoice.rank)
        )
    )
    queued = application.status == ApplicationStatus.QUEUED
    mine = rules.queue_key(Benefit(application.benefit), application.applied_at, application.id)
    positions = []
    for choice in choices:
        if queued:
            others = session.execute(
                select(
                    KindergartenApplication.benefit,
                    KindergartenApplication.applied_at,
                    KindergartenApplication.id,
                )
                .join(
                    KindergartenChoice,
                    KindergartenChoice.application_id == KindergartenApplication.id,
                )
                .where(
                    KindergartenChoice.kindergarten_id == choice.kindergarten_id,
                    KindergartenApplication.status == ApplicationStatus.QUEUED.value,
                    KindergartenApplication.age_group == application.age_group,
                    KindergartenApplication.id != application.id,
                )
            )
            ahead, with_benefit = rules.ahead_of(
                mine, (rules.queue_key(Benefit(b), at, i) for b, at, i in others)
            )
            position = ahead + 1
            if choice.seen_position is not None and choice.seen_position != position:
                session.add(
                    PositionChange(
                        application_id=application.id,
                        kindergarten_id=choice.kindergarten_id,
                        old_position=choice.seen_position,
                        new_position=position,
                        noticed_at=now,
                    )
                )
                session.flush()  # the history read below shows this move at once
            choice.seen_position = position
        else:
            ahead = with_benefit = 0
            position = 0
        changes = session.scalars(
            select(PositionChange)
            .where(
                PositionChange.application_id == application.id,
                PositionChange.kindergarten_id == choice.kindergarten_id,
            )
            .order_by(PositionChange.noticed_at.desc(), PositionChange.id.desc())
            .limit(10)
        )
        positions.append(
            QueuePositionRead(
                rank=choice.rank,
                kindergarten_id=choice.kindergarten_id,
                kindergarten_name=names.get(choice.kindergarten_id, NO_NAME)[0],
                kindergarten_name_en=names.get(choice.kindergarten_id, NO_NAME)[1],
                position=position,
                ahead=ahead,
                ahead_with_benefit=with_benefit,
                changes=[PositionChangeRead.model_validate(c) for c in changes],
            )
        )
    session.flush()
    return positions


def _offers(
    uow: UnitOfWork, application_id: int, names: dict[int, tuple[str, str | None]]
) -> list[OfferRead]:
    rows = uow.session.execute(
        select(KindergartenOffer, KindergartenGroup.kindergarten_id, KindergartenGroup.age_group)
        .join(KindergartenGroup, KindergartenGroup.id == KindergartenOffer.group_id)
        .where(KindergartenOffer.application_id == application_id)
        .order_by(KindergartenOffer.offered_at.desc(), KindergartenOffer.id.desc())
    )
    return [
        OfferRead(
            id=offer.id,
            kindergarten_id=kindergarten_id,
            kindergarten_name=names.get(kindergarten_id, NO_NAME)[0],
            kindergarten_name_en=names.get(kindergarten_id, NO_NAME)[1],
            age_group=age_group,
            status=offer.status,
            expires_on=offer.expires_on,
            offered_at=offer.offered_at,
        )
        for offer, kindergarten_id, age_group in rows
    ]


def _read(
    uow: UnitOfWork, application: KindergartenApplication, now: datetime
) -> KindergartenApplicationRead:
    names = _kindergarten_names(uow)
    child = accounts.person_names(uow.session, [application.child_id])
    return KindergartenApplicationRead(
        id=application.id,
        child_id=application.child_id,
        child_name=child.get(application.child_id, ""),
        age_group=application.age_group,
        desired_start=application.desired_start,
        benefit=Benefit(application.benefit),
        status=application.status,
        applied_at=application.applied_at,
        positions=_positions(uow, application, now, names),
        offers=_offers(uow, application.id, names),
    )


def list_my_kindergarten_applications(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> list[KindergartenApplicationRead]:
    """The parent's applications, newest first, each with its positions and offers."""
    actor = authorize(actor, Action.KINDERGARTEN_APPLY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        applications = uow.session.scalars(
            select(KindergartenApplication)
            .where(KindergartenApplication.guardian_user_id == actor.user_id)
            .order_by(KindergartenApplication.applied_at.desc(), KindergartenApplication.id.desc())
        ).all()
        result = [_read(uow, a, now) for a in applications]
        uow.commit()  # what the parent saw is now "the last look"
        return result


def withdraw_kindergarten_application(
    actor: Principal | None,
    application_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> KindergartenApplicationRead:
    """Take the child out of the queue; an open offer is declined and its place returns."""
    actor = authorize(actor, Action.KINDERGARTEN_APPLY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        application = _mine(session, actor, application_id)
        old = ApplicationStatus(application.status)
        if not rules.may_move(rules.APPLICATION_TRANSITIONS, old, ApplicationStatus.WITHDRAWN):
            raise errors.ApplicationChanged()
        if old is ApplicationStatus.OFFERED:
            _close_open_offer(session, application.id, OfferStatus.DECLINED, now)
        _move(session, application.id, old, ApplicationStatus.WITHDRAWN, withdrawn_at=now)
        session.refresh(application)
        result = _read(uow, application, now)
        uow.commit()
        return result


def _move(
    session: Session,
    application_id: int,
    old: ApplicationStatus,
    new: ApplicationStatus,
    **values: object,
) -> None:
    """The guarded move of an application: refused if someone moved it meanwhile."""
    moved = dml(
        session,
        update(KindergartenApplication)
        .where(
            KindergartenApplication.id == application_id,
            KindergartenApplication.status == old.value,
        )
        .values(status=new.value, **values),
    ).rowcount
    if moved != 1:
        raise errors.ApplicationChanged()


def _close_open_offer(
    session: Session, application_id: int, status: OfferStatus, now: datetime
) -> KindergartenOffer:
    """End the application's open offer (declined or lapsed) and return its place."""
    offer = session.scalar(
        select(KindergartenOffer).where(
            KindergartenOffer.application_id == application_id,
            KindergartenOffer.status == OfferStatus.OPEN.value,
        )
    )
    if offer is None:
        raise errors.ApplicationChanged()
    closed = dml(
        session,
        update(KindergartenOffer)
        .where(KindergartenOffer.id == offer.id, KindergartenOffer.status == OfferStatus.OPEN.value)
        .values(status=status.value, decided_at=now),
    ).rowcount
    returned = dml(
        session,
        update(KindergartenGroup)
        .where(
            KindergartenGroup.id == offer.group_id,
            KindergartenGroup.free_places < KindergartenGroup.places,
        )
        .values(free_places=KindergartenGroup.free_places + 1),
    ).rowcount
    if closed != 1 or returned != 1:
        raise errors.ApplicationChanged()
    return offer


def answer_offer(
    actor: Principal | None,
    offer_id: int,
    *,
    accept: bool,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> KindergartenApplicationRead:
    """Accept the offered place (the child is enrolled) or decline it (the place returns
    and the child stays in the queue with the original date)."""
    actor = authorize(actor, Action.KINDERGARTEN_APPLY)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        offer = session.get(KindergartenOffer, offer_id)
        if offer is None:
            raise errors.OfferNotFound()
        application = session.get(KindergartenApplication, offer.application_id)
        if application is None or application.guardian_user_id != actor.user_id:
            raise errors.OfferNotFound()
        if offer.status != OfferStatus.OPEN or city_date(now) > offer.expires_on:
            raise errors.OfferClosed()
        if accept:
            taken = dml(
                session,
                update(KindergartenOffer)
                .where(
                    KindergartenOffer.id == offer.id,
                    KindergartenOffer.status == OfferStatus.OPEN.value,
                )
                .values(status=OfferStatus.ACCEPTED.value, decided_at=now),
            ).rowcount
            if taken != 1:
                raise errors.OfferClosed()
            _move(session, application.id, ApplicationStatus.OFFERED, ApplicationStatus.ENROLLED)
        else:
            _close_open_offer(session, application.id, OfferStatus.DECLINED, now)
            _move(session, application.id, ApplicationStatus.OFFERED, ApplicationStatus.QUEUED)
        session.refresh(application)
        result = _read(uow, application, now)
        uow.commit()
        return result
