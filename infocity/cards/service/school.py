"""What school staff read of their school's cards: the pupils with their card and
balance, one pupil's cards and latest events, and children of the register to give a
card to. Staff see their own school only (the roles matrix decides); every look at
pupils' data is in the audit log. Issuing, blocking and re-issuing are the use cases of
``cards``."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.cards import errors
from infocity.cards.models.cards import CardPupil, SchoolCard
from infocity.cards.models.events import CardEvent
from infocity.cards.rules.cards import CardStatus, normalize_uid
from infocity.cards.schemas.cards import CardRead
from infocity.cards.schemas.school import (
    PersonFoundRead,
    SchoolEventRead,
    SchoolPupilCardsRead,
    SchoolPupilRead,
    SchoolPupilsRead,
)
from infocity.cards.service.cards import _school
from infocity.city import service as city
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.uow import UnitOfWork

# A school's list shows at most this many pupils; a search narrows it.
PUPILS_SHOWN = 500
RECENT_EVENTS = 30


def _latest_cards(session: Session, pupil_ids: list[int]) -> dict[int, SchoolCard]:
    """Each pupil's card of now: the working one, else the one issued last."""
    latest: dict[int, SchoolCard] = {}
    for card in session.scalars(
        select(SchoolCard)
        .where(SchoolCard.pupil_id.in_(pupil_ids))
        .order_by(SchoolCard.issued_at, SchoolCard.id)
    ):
        kept = latest.get(card.pupil_id)
        if kept is None or kept.status != CardStatus.ACTIVE or card.status == CardStatus.ACTIVE:
            latest[card.pupil_id] = card
    return latest


def _reads(session: Session, pupils: list[CardPupil]) -> list[SchoolPupilRead]:
    names = accounts.person_names(session, [p.person_id for p in pupils])
    cards = _latest_cards(session, [p.id for p in pupils])
    reads = []
    for pupil in pupils:
        card = cards.get(pupil.id)
        reads.append(
            SchoolPupilRead(
                id=pupil.id,
                person_id=pupil.person_id,
                name=names.get(pupil.person_id, ""),
                balance=pupil.balance,
                card_id=card.id if card else None,
                card_uid=card.uid if card else None,
                card_status=card.status if card else None,
            )
        )
    return reads


def _device_name(devices: dict[int, accounts.DeviceIdentity], device_id: int | None) -> str | None:
    device = devices.get(device_id) if device_id is not None else None
    return device.name if device is not None else None


def _matches(pupil: SchoolPupilRead, words: list[str], uid: str | None) -> bool:
    if uid is not None and pupil.card_uid == uid:
        return True
    name = pupil.name.casefold()
    return all(word in name for word in words)


def list_school_pupils(
    actor: Principal | None,
    school_id: int,
    *,
    search: str | None = None,
    uow: UnitOfWork | None = None,
) -> SchoolPupilsRead:
    """The school's pupils with their card and balance, by name; ``search`` keeps those
    whose name holds every word of it, or whose card has this UID (audited)."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE, school_id)
    text = " ".join((search or "").split())[:100]
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _school(school_id, uow)
        school = city.get_organisation(school_id, uow=uow)
        pupils = list(session.scalars(select(CardPupil).where(CardPupil.school_id == school_id)))
        reads = sorted(_reads(session, pupils), key=lambda p: (p.name.casefold(), p.id))
        if text:
            words = text.casefold().split()
            uid = normalize_uid(text)
            reads = [p for p in reads if _matches(p, words, uid)]
        audit.record(
            session,
            actor,
            "cards.school.pupils",
            organisation_id=school_id,
            detail=f"search: {text}" if text else None,
        )
        result = SchoolPupilsRead(
            school_id=school_id, school_name=school.name, pupils=reads[:PUPILS_SHOWN]
        )
        uow.commit()
        return result


def get_school_pupil(
    actor: Principal | None, pupil_id: int, *, uow: UnitOfWork | None = None
) -> SchoolPupilCardsRead:
    """One pupil of the staff member's school: every card they held, newest first, and
    their latest entries, exits and purchases with the machine that saw each (audited)."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil = session.get(CardPupil, pupil_id)
        if pupil is None:
            raise errors.PupilNotFound()
        authorize(actor, Action.SCHOOL_CARDS_ISSUE, pupil.school_id)
        cards = session.scalars(
            select(SchoolCard)
            .where(SchoolCard.pupil_id == pupil.id)
            .order_by(SchoolCard.issued_at.desc(), SchoolCard.id.desc())
        )
        devices = accounts.organisation_devices(session, pupil.school_id)
        events = session.scalars(
            select(CardEvent)
            .where(CardEvent.pupil_id == pupil.id)
            .order_by(CardEvent.occurred_at.desc(), CardEvent.id.desc())
            .limit(RECENT_EVENTS)
        )
        audit.record(
            session,
            actor,
            "cards.school.pupil",
            subject_person_id=pupil.person_id,
            organisation_id=pupil.school_id,
        )
        result = SchoolPupilCardsRead(
            school_id=pupil.school_id,
            pupil=_reads(session, [pupil])[0],
            cards=[CardRead.model_validate(card) for card in cards],
            events=[
                SchoolEventRead(
                    kind=event.kind,
                    occurred_at=event.occurred_at,
                    amount=event.amount,
                    reason=event.reason,
                    device=_device_name(devices, event.device_id),
                )
                for event in events
            ],
        )
        uow.commit()
        return result


def find_children_for_card(
    actor: Principal | None,
    school_id: int,
    last_name: str,
    birth_date: date,
    *,
    uow: UnitOfWork | None = None,
) -> list[PersonFoundRead]:
    """Children of the city register with this surname and birth date, for the school's
    staff to give one a card (audited: the staff member read the register)."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE, school_id)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _school(school_id, uow)
        found = accounts.persons_by_name_and_birth(session, last_name, birth_date)
        ids = [person.person_id for person in found]
        names = accounts.person_names(session, ids)
        pupils = {
            row.person_id: row.id
            for row in session.execute(
                select(CardPupil.person_id, CardPupil.id).where(CardPupil.person_id.in_(ids))
            )
        }
        audit.record(
            session,
            actor,
            "cards.school.register_search",
            organisation_id=school_id,
            detail=f"{' '.join(last_name.split())[:60]}, {birth_date.isoformat()}",
        )
        result = [
            PersonFoundRead(
                person_id=person.person_id,
                name=names.get(person.person_id, ""),
                birth_date=person.birth_date,
                pupil_id=pupils.get(person.person_id),
            )
            for person in found
        ]
        uow.commit()
        return result
