"""School staff issue cards to their pupils, block lost ones and re-issue them; the
history of a pupil's cards. The balance stays with the pupil through all of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.cards import errors
from infocity.cards.models.cards import CardHistory, CardPupil, SchoolCard
from infocity.cards.rules.cards import (
    CardMove,
    Right,
    next_state,
    normalize_uid,
    states_before,
)
from infocity.cards.schemas.cards import CardHistoryRead, CardIssue, CardRead
from infocity.cards.service.base import _active_card, _add_history, _representative
from infocity.city import service as city
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.errors import NotFound
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork


def _school(school_id: int, uow: UnitOfWork) -> None:
    try:
        organisation = city.get_organisation(school_id, uow=uow)
    except NotFound as exc:
        raise errors.NotASchool() from exc
    if organisation.kind != "school":
        raise errors.NotASchool()


def _uid(value: str) -> str:
    uid = normalize_uid(value)
    if uid is None:
        raise errors.InvalidCardUid()
    return uid


def _pupil(session: Session, person_id: int, school_id: int) -> CardPupil:
    """The pupil's account, opened on their first card; a pupil who changed schools
    brings their balance to the new one once no card of the old one works."""
    session.execute(
        upsert_insert(session)(CardPupil)
        .values(person_id=person_id, school_id=school_id, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["person_id"])
    )
    pupil = session.scalars(
        select(CardPupil).where(CardPupil.person_id == person_id).with_for_update()
    ).one()
    if pupil.school_id != school_id:
        if _active_card(session, pupil.id) is not None:
            raise errors.PupilAtAnotherSchool()
        pupil.school_id = school_id
    return pupil


def _new_card(session: Session, actor: Principal, pupil: CardPupil, uid: str) -> SchoolCard:
    if session.scalar(select(SchoolCard.id).where(SchoolCard.uid == uid)) is not None:
        raise errors.CardUidTaken()
    if _active_card(session, pupil.id) is not None:
        raise errors.PupilHasCard()
    card = SchoolCard(uid=uid, pupil_id=pupil.id, issued_by=actor.acting_user_id)
    session.add(card)
    try:
        session.flush()
    except IntegrityError as exc:  # a second issue at the same moment
        raise errors.PupilHasCard() from exc
    return card


def issue_card(
    actor: Principal | None, data: CardIssue, *, uow: UnitOfWork | None = None
) -> CardRead:
    """School staff issue a card with its UID to a pupil of their school."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE, data.school_id)
    uid = _uid(data.uid)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _school(data.school_id, uow)
        if accounts.person_by_id(session, data.person_id) is None:
            raise errors.PupilNotFound()
        pupil = _pupil(session, data.person_id, data.school_id)
        card = _new_card(session, actor, pupil, uid)
        _add_history(session, actor, pupil.id, "issued", card_id=card.id, detail=uid)
        audit.record(
            session,
            actor,
            "cards.card.issue",
            subject_person_id=pupil.person_id,
            organisation_id=data.school_id,
            detail=uid,
        )
        result = CardRead.model_validate(card)
        uow.commit()
        return result


def _someone(actor: Principal | None) -> Principal:
    """A logged-in user: a citizen is checked as a representative, staff by their school."""
    if actor is None or actor.kind == "citizen":
        return authorize(actor, Action.SCHOOL_CARDS_OWN)
    return authorize(actor, Action.SCHOOL_CARDS_ISSUE)


def _card_for_staff(
    session: Session, actor: Principal, card_id: int
) -> tuple[SchoolCard, CardPupil]:
    row = session.execute(
        select(SchoolCard, CardPupil)
        .join(CardPupil, CardPupil.id == SchoolCard.pupil_id)
        .where(SchoolCard.id == card_id)
    ).one_or_none()
    if row is None:
        authorize(actor, Action.SCHOOL_CARDS_ISSUE)
        raise errors.CardNotFound()
    card, pupil = row
    authorize(actor, Action.SCHOOL_CARDS_ISSUE, pupil.school_id)
    return card, pupil


def _move(session: Session, card: SchoolCard, move: CardMove, now: datetime) -> None:
    """The guarded step: two hands on the same card, one wins, the other is refused."""
    moved = dml(
        session,
        update(SchoolCard)
        .where(SchoolCard.id == card.id, SchoolCard.status.in_(states_before(move)))
        .values(status=next_state(move), changed_at=now),
    ).rowcount
    if moved != 1:
        raise errors.CardMoveRefused()
    session.refresh(card)


def block_card(
    actor: Principal | None,
    card_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CardRead:
    """Block a lost or stolen card: school staff, or the pupil's legal representative
    (a citizen); turnstiles and tills refuse it from then on."""
    actor = _someone(actor)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if actor.kind == "citizen":
            card = session.get(SchoolCard, card_id)
            if card is None:
                raise errors.CardNotFound()
            pupil, _told = _representative(session, actor, card.pupil_id, Right.BLOCK_CARD)
        else:
            card, pupil = _card_for_staff(session, actor, card_id)
            audit.record(
                session,
                actor,
                "cards.card.block",
                subject_person_id=pupil.person_id,
                organisation_id=pupil.school_id,
                detail=card.uid,
            )
        _move(session, card, CardMove.BLOCK, now)
        _add_history(session, actor, pupil.id, "blocked", card_id=card.id, detail=card.uid, at=now)
        result = CardRead.model_validate(card)
        uow.commit()
        return result


def unblock_card(
    actor: Principal | None,
    card_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CardRead:
    """School staff unblock a card that was found again."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        card, pupil = _card_for_staff(session, actor, card_id)
        _move(session, card, CardMove.UNBLOCK, now)
        _add_history(
            session, actor, pupil.id, "unblocked", card_id=card.id, detail=card.uid, at=now
        )
        audit.record(
            session,
            actor,
            "cards.card.unblock",
            subject_person_id=pupil.person_id,
            organisation_id=pupil.school_id,
            detail=card.uid,
        )
        result = CardRead.model_validate(card)
        uow.commit()
        return result


def reissue_card(
    actor: Principal | None,
    card_id: int,
    new_uid: str,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> CardRead:
    """School staff give the pupil a new card in place of a lost one; the balance, the
    limits and the adults told stay with the pupil."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE)
    uid = _uid(new_uid)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        old, pupil = _card_for_staff(session, actor, card_id)
        _move(session, old, CardMove.REPLACE, now)
        card = _new_card(session, actor, pupil, uid)
        _add_history(
            session,
            actor,
            pupil.id,
            "reissued",
            card_id=card.id,
            detail=f"{old.uid} -> {uid}",
            at=now,
        )
        audit.record(
            session,
            actor,
            "cards.card.reissue",
            subject_person_id=pupil.person_id,
            organisation_id=pupil.school_id,
            detail=f"{old.uid} -> {uid}",
        )
        result = CardRead.model_validate(card)
        uow.commit()
        return result


def card_history(
    actor: Principal | None, pupil_id: int, *, uow: UnitOfWork | None = None
) -> list[CardHistoryRead]:
    """What happened to a pupil's cards and service, newest first: for the pupil's
    representatives and their school's staff (audited)."""
    actor = _someone(actor)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if actor.kind == "citizen":
            _representative(session, actor, pupil_id, Right.SEE)
        else:
            pupil = session.get(CardPupil, pupil_id)
            if pupil is None:
                raise errors.PupilNotFound()
            authorize(actor, Action.SCHOOL_CARDS_ISSUE, pupil.school_id)
            audit.record(
                session,
                actor,
                "cards.pupil.history",
                subject_person_id=pupil.person_id,
                organisation_id=pupil.school_id,
            )
        rows = session.scalars(
            select(CardHistory)
            .where(CardHistory.pupil_id == pupil_id)
            .order_by(CardHistory.created_at.desc(), CardHistory.id.desc())
        )
        result = [CardHistoryRead.model_validate(row) for row in rows]
        uow.commit()
        return result
