"""Parents turn the service on for their children, add the trusted adults they choose,
and each adult says what they are told and how."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update

from infocity.accounts import service as accounts
from infocity.cards import errors
from infocity.cards.models.cards import CardPupil, CardRepresentative
from infocity.cards.rules.cards import MAX_TRUSTED_ADULTS, Right, Standing
from infocity.cards.rules.events import CHANNELS
from infocity.cards.schemas.cards import (
    Activation,
    NotificationSettings,
    PupilRead,
    RepresentativeRead,
    TrustedAdultAdd,
)
from infocity.cards.service.base import _add_history, _pupil_read, _representative
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.outbox import notify
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork


def activate_card_service(
    actor: Principal | None,
    data: Activation,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PupilRead:
    """A parent or guardian turns the service on for a child of their family whose
    school issued a card; they are told of entries, exits and meals from then on."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if actor.person_id == data.child_id or not accounts.acts_for(actor, data.child_id, uow=uow):
            raise errors.NotYourChild()
        pupil = session.scalars(
            select(CardPupil).where(CardPupil.person_id == data.child_id)
        ).one_or_none()
        if pupil is None:
            raise errors.NoCardYet()
        added = session.execute(
            upsert_insert(session)(CardRepresentative)
            .values(
                pupil_id=pupil.id,
                user_id=actor.user_id,
                standing=Standing.LEGAL,
                display_name=actor.display_name,
                added_by=actor.user_id,
                created_at=now,
            )
            .on_conflict_do_update(
                index_elements=["pupil_id", "user_id"], set_={"standing": Standing.LEGAL}
            )
            .returning(CardRepresentative.id)
        ).scalar_one()
        dml(
            session,
            update(CardPupil)
            .where(CardPupil.id == pupil.id, CardPupil.activated_at.is_(None))
            .values(activated_at=now),
        )
        _add_history(session, actor, pupil.id, "activated", detail=actor.display_name, at=now)
        told = session.get(CardRepresentative, added)
        assert told is not None
        session.refresh(pupil)
        result = _pupil_read(session, pupil, told, now)
        uow.commit()
        return result


def list_my_pupils(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> list[PupilRead]:
    """The pupils the user is told about (as a parent or a trusted adult)."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(CardPupil, CardRepresentative)
            .join(CardRepresentative, CardRepresentative.pupil_id == CardPupil.id)
            .where(CardRepresentative.user_id == actor.user_id)
            .order_by(CardPupil.id)
        ).all()
        return [_pupil_read(uow.session, pupil, told, now) for pupil, told in rows]


def get_my_pupil(
    actor: Principal | None,
    pupil_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PupilRead:
    """One pupil the user is told about."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        pupil, told = _representative(uow.session, actor, pupil_id, Right.SEE)
        return _pupil_read(uow.session, pupil, told, now)


def _read(told: CardRepresentative) -> RepresentativeRead:
    return RepresentativeRead(
        id=told.id,
        pupil_id=told.pupil_id,
        user_id=told.user_id,
        display_name=told.display_name,
        standing=told.standing,
        passes=told.notify_passes,
        purchases=told.notify_purchases,
        low_balance=told.notify_low_balance,
        digest=told.notify_digest,
        channels=[c for c in told.channels.split(",") if c],
    )


def add_trusted_adult(
    actor: Principal | None,
    pupil_id: int,
    data: TrustedAdultAdd,
    *,
    uow: UnitOfWork | None = None,
) -> RepresentativeRead:
    """A legal representative lets another adult (a grandparent, a nanny) see the
    pupil's day and top up the card, without changing its rules."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, _told = _representative(session, actor, pupil_id, Right.ADD_ADULTS)
        adult = accounts.citizen_by_contact(session, data.contact)
        if adult is None:
            raise errors.AdultNotFound()
        user_id, name = adult
        trusted = session.scalar(
            select(func.count())
            .select_from(CardRepresentative)
            .where(
                CardRepresentative.pupil_id == pupil.id,
                CardRepresentative.standing == Standing.TRUSTED,
            )
        )
        if (trusted or 0) >= MAX_TRUSTED_ADULTS:
            raise errors.TooManyAdults(MAX_TRUSTED_ADULTS)
        added = session.execute(
            upsert_insert(session)(CardRepresentative)
            .values(
                pupil_id=pupil.id,
                user_id=user_id,
                standing=Standing.TRUSTED,
                display_name=name,
                added_by=actor.user_id,
                created_at=utcnow(),
            )
            .on_conflict_do_nothing(index_elements=["pupil_id", "user_id"])
            .returning(CardRepresentative.id)
        ).scalar_one_or_none()
        if added is None:
            raise errors.AlreadyTold()
        _add_history(session, actor, pupil.id, "adult_added", detail=name)
        notify(
            session,
            accounts.recipient_for_user(session, user_id),
            kind="cards_trusted_adult",
            template="cards/messages/trusted_adult.txt",
            context={"by": actor.display_name},
            link="/cards",
        )
        told = session.get(CardRepresentative, added)
        assert told is not None
        result = _read(told)
        uow.commit()
        return result


def remove_trusted_adult(
    actor: Principal | None,
    pupil_id: int,
    representative_id: int,
    *,
    uow: UnitOfWork | None = None,
) -> None:
    """A legal representative stops telling a trusted adult about the pupil."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, _told = _representative(session, actor, pupil_id, Right.ADD_ADULTS)
        removed = dml(
            session,
            delete(CardRepresentative).where(
                CardRepresentative.id == representative_id,
                CardRepresentative.pupil_id == pupil.id,
                CardRepresentative.standing == Standing.TRUSTED,
            ),
        ).rowcount
        if removed != 1:
            raise errors.RepresentativeNotFound()
        _add_history(session, actor, pupil.id, "adult_removed", detail=str(representative_id))
        uow.commit()


def list_representatives(
    actor: Principal | None, pupil_id: int, *, uow: UnitOfWork | None = None
) -> list[RepresentativeRead]:
    """The adults told about a pupil, for any of them."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _representative(session, actor, pupil_id, Right.SEE)
        rows = list(
            session.scalars(
                select(CardRepresentative)
                .where(CardRepresentative.pupil_id == pupil_id)
                .order_by(CardRepresentative.id)
            )
        )
        return [_read(row) for row in rows]


def _channels(values: list[str]) -> str:
    if any(value not in CHANNELS for value in values):
        raise errors.UnknownChannel()
    return ",".join(dict.fromkeys(values))


def set_notification_settings(
    actor: Principal | None,
    pupil_id: int,
    data: NotificationSettings,
    *,
    uow: UnitOfWork | None = None,
) -> RepresentativeRead:
    """What the user is told about the pupil, and how; a legal representative also sets
    the balance below which the low-balance alert goes out."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    channels = _channels(data.channels)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, told = _representative(session, actor, pupil_id, Right.SEE)
        if data.low_balance_level is not None:
            _representative(session, actor, pupil_id, Right.SET_RULES)
            pupil.low_balance = data.low_balance_level
        told.notify_passes = data.passes
        told.notify_purchases = data.purchases
        told.notify_low_balance = data.low_balance
        told.notify_digest = data.digest
        told.channels = channels
        session.flush()
        result = _read(told)
        uow.commit()
        return result
