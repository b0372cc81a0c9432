"""A canteen till asks before it sells: may this card buy these items for this sum? An
approval holds the sum, so the purchase that follows agrees with it; a decline is
recorded (the parents see it) with its reason. A hold not used in time expires."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infocity.accounts.service import DeviceIdentity
from infocity.cards import errors
from infocity.cards.models.cards import CardPupil, SchoolCard
from infocity.cards.models.events import CardEvent
from infocity.cards.models.ledger import CardHold
from infocity.cards.rules.cards import CardStatus
from infocity.cards.rules.events import EventKind
from infocity.cards.rules.ledger import (
    DECLINE_LABELS,
    HOLD_TTL,
    Decline,
    HoldState,
)
from infocity.cards.schemas.events import AuthorizationAsk, AuthorizationRead
from infocity.cards.service import meals, money
from infocity.cards.service.ledger import _banned_in, _card_at_device, _check_amount
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.i18n import gettext
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork


def _answer(hold: CardHold) -> AuthorizationRead:
    return AuthorizationRead(
        approved=True,
        authorization_id=hold.id,
        reason=None,
        message=None,
        expires_at=hold.expires_at,
    )


def _decline(
    session: Session,
    device: DeviceIdentity,
    ask: AuthorizationAsk,
    card: SchoolCard,
    pupil: CardPupil,
    reason: Decline,
    at: datetime,
) -> AuthorizationRead:
    # Recorded once per request (a till asking again gets the same answer) and told to
    # the parents as any card event.
    session.execute(
        upsert_insert(session)(CardEvent)
        .values(
            device_id=device.device_id,
            device_event_id=f"auth:{ask.request_id}",
            pupil_id=pupil.id,
            card_id=card.id,
            school_id=pupil.school_id,
            kind=EventKind.DECLINED,
            occurred_at=at,
            received_at=utcnow(),
            amount=ask.amount,
            items=[item.model_dump() for item in ask.items],
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=["device_id", "device_event_id"])
    )
    return AuthorizationRead(
        approved=False,
        authorization_id=None,
        reason=reason,
        message=gettext(DECLINE_LABELS[reason]),
        expires_at=None,
    )


def authorize_purchase(
    device: DeviceIdentity,
    ask: AuthorizationAsk,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AuthorizationRead:
    """A till's question, answered at once: approved with a hold, or declined with the
    reason (balance, limit, banned item, blocked card). Asking again with the same
    request id gives the same answer."""
    if device.kind != "till":
        raise errors.NotACardDevice()
    amount = _check_amount(ask.amount)
    now = now or utcnow()
    at = ask.at or now
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        earlier = session.scalars(
            select(CardHold).where(
                CardHold.device_id == device.device_id, CardHold.request_id == ask.request_id
            )
        ).one_or_none()
        if earlier is not None:
            return _answer(earlier)
        card, pupil = _card_at_device(session, device, ask.uid)
        # The day's subsidised-meal allowance pays first: only the rest is held.
        to_hold = amount - min(amount, meals._subsidy_left(session, pupil.id, city_date(at)))
        if card.status != CardStatus.ACTIVE:
            reason: Decline | None = Decline.BLOCKED
        elif _banned_in(session, pupil.id, ask.items):
            reason = Decline.BANNED
        elif not money._hold(session, pupil.id, to_hold, city_date(at)):
            refused = money._refusal(session, pupil.id, to_hold)
            reason = (
                Decline.BALANCE if isinstance(refused, errors.NotEnoughMoney) else Decline.LIMIT
            )
        else:
            reason = None
        if reason is not None:
            result = _decline(session, device, ask, card, pupil, reason, at)
            uow.commit()
            return result
        hold = CardHold(
            pupil_id=pupil.id,
            card_id=card.id,
            device_id=device.device_id,
            request_id=ask.request_id,
            amount=to_hold,
            state=HoldState.HELD,
            created_at=now,
            expires_at=now + HOLD_TTL,
        )
        session.add(hold)
        session.flush()
        result = _answer(hold)
        uow.commit()
        return result


def _use_hold(
    session: Session, device: DeviceIdentity, hold_id: int, pupil_id: int, amount: int
) -> int:
    """Mark the hold used by its purchase (guarded: used once); the amount it held."""
    row = dml(
        session,
        update(CardHold)
        .where(
            CardHold.id == hold_id,
            CardHold.device_id == device.device_id,
            CardHold.pupil_id == pupil_id,
            CardHold.state == HoldState.HELD,
        )
        .values(state=HoldState.USED)
        .returning(CardHold.amount),
    ).one_or_none()
    if row is None:
        raise errors.HoldNotFound()
    if amount > row.amount:
        raise errors.HoldExceeded()
    return int(row.amount)


def expire_holds(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> int:
    """Give back the sums of approvals no purchase used in time; how many expired."""
    authorize(actor, Action.SCHOOL_CARDS_PAYMENTS)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        expired = dml(
            session,
            update(CardHold)
            .where(CardHold.state == HoldState.HELD, CardHold.expires_at <= now)
            .values(state=HoldState.EXPIRED)
            .returning(CardHold.pupil_id, CardHold.amount),
        ).all()
        for row in expired:
            money._release(session, row.pupil_id, row.amount)
        uow.commit()
        return len(expired)
