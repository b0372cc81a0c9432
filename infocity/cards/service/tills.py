"""A canteen till asks before it sells: may this card buy these items for this sum? An
approval holds the sum, so the purchase that follows agrees with it; a decline is
recorded (the parents see it) with its reason. A hold not used in time expires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, insert, select, update
from sqlalchemy.orm import Session

from infocity.accounts.service import DeviceIdentity
from infocity.cards import errors
from infocity.cards.models.cards import CardPupil, SchoolCard
from infocity.cards.models.events import CardEvent
from infocity.cards.models.ledger import BannedCategory, CardHold
from infocity.cards.models.meals import Subsidy, SubsidyDay
from infocity.cards.rules.cards import CardStatus, normalize_uid
from infocity.cards.rules.events import EventKind
from infocity.cards.rules.ledger import (
    DECLINE_LABELS,
    HOLD_TTL,
    Decline,
    HoldState,
    Item,
    banned_items,
    spending_refusal,
)
from infocity.cards.rules.meals import subsidy_share
from infocity.cards.schemas.events import AuthorizationAsk, AuthorizationRead, ItemIn
from infocity.cards.service import meals, money
from infocity.cards.service.ledger import _check_amount
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.i18n import gettext
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork


@dataclass(frozen=True)
class _Asked:
    """What a till's question needs, read in one statement: the card, its pupil's money
    and rules, the banned categories, what the day's allowances still pay, and the
    hold already given to the same request."""

    card_id: int
    card_status: str
    pupil_id: int
    school_id: int
    balance: int
    held: int
    daily_limit: int | None
    spent_today: int
    banned: frozenset[str]
    subsidy_left: int
    earlier: AuthorizationRead | None


def _asked(session: Session, device: DeviceIdentity, ask: AuthorizationAsk, day: date) -> _Asked:
    """The card and all the till's answer depends on; refused when the card is unknown
    or of another school's pupil (a blocked card is for the caller to judge). One row
    per banned category and allowance of the day (a pupil has a few at most)."""
    uid = normalize_uid(ask.uid)
    rows = (
        session.execute(
            select(
                SchoolCard.id.label("card_id"),
                SchoolCard.status,
                CardPupil.id.label("pupil_id"),
                CardPupil.school_id,
                CardPupil.balance,
                CardPupil.held,
                CardPupil.daily_limit,
                money._spent_on(day).label("spent_today"),
                BannedCategory.category,
                Subsidy.id.label("subsidy_id"),
                Subsidy.daily_amount,
                SubsidyDay.used,
                CardHold.id.label("hold_id"),
                CardHold.expires_at,
            )
            .join(CardPupil, CardPupil.id == SchoolCard.pupil_id)
            .outerjoin(BannedCategory, BannedCategory.pupil_id == CardPupil.id)
            .outerjoin(
                Subsidy,
                and_(Subsidy.pupil_id == CardPupil.id, meals._pays_on(day)),
            )
            .outerjoin(SubsidyDay, and_(SubsidyDay.subsidy_id == Subsidy.id, SubsidyDay.day == day))
            .outerjoin(
                CardHold,
                and_(CardHold.device_id == device.device_id, CardHold.request_id == ask.request_id),
            )
            .where(SchoolCard.uid == uid)
        ).all()
        if uid
        else []
    )
    if not rows:
        raise errors.UnknownCard()
    first = rows[0]
    if first.school_id != device.organisation_id:
        raise errors.CardOfAnotherSchool()
    allowances = {r.subsidy_id: (r.daily_amount, r.used or 0) for r in rows if r.subsidy_id}
    return _Asked(
        card_id=first.card_id,
        card_status=first.status,
        pupil_id=first.pupil_id,
        school_id=first.school_id,
        balance=first.balance,
        held=first.held,
        daily_limit=first.daily_limit,
        spent_today=first.spent_today,
        banned=frozenset(r.category for r in rows if r.category is not None),
        subsidy_left=sum(subsidy_share(daily, daily, used) for daily, used in allowances.values()),
        earlier=_answer(first.hold_id, first.expires_at) if first.hold_id else None,
    )


def _answer(hold_id: int, expires_at: datetime) -> AuthorizationRead:
    return AuthorizationRead(
        approved=True, authorization_id=hold_id, reason=None, message=None, expires_at=expires_at
    )


def _decline(
    session: Session,
    device: DeviceIdentity,
    ask: AuthorizationAsk,
    asked: _Asked,
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
            pupil_id=asked.pupil_id,
            card_id=asked.card_id,
            school_id=asked.school_id,
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


def _why_not(
    session: Session, asked: _Asked, items: list[ItemIn], amount: int, day: date
) -> Decline | None:
    """Why the purchase is declined, or None once its sum is held. The rules are judged
    on what was read; the guarded hold has the last word (a till selling to the same
    pupil at this moment), and then the pupil's row is read again for the reason."""
    if asked.card_status != CardStatus.ACTIVE:
        return Decline.BLOCKED
    if banned_items((Item(i.name, i.category, i.price) for i in items), asked.banned):
        return Decline.BANNED
    reason = spending_refusal(
        asked.balance, asked.held, asked.daily_limit, asked.spent_today, amount
    )
    if reason is not None:
        return reason
    if money._hold(session, asked.pupil_id, amount, day):
        return None
    refused = money._refusal(session, asked.pupil_id, amount)
    return Decline.BALANCE if isinstance(refused, errors.NotEnoughMoney) else Decline.LIMIT


def authorize_purchase(
    device: DeviceIdentity,
    ask: AuthorizationAsk,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AuthorizationRead:
    """A till's question, answered at once: approved with a hold, or declined with the
    reason (balance, limit, banned item, blocked card). Asking again with the same
    request id gives the same answer. Three statements: the read, the guarded hold and
    the hold's row (or the declined event)."""
    if device.kind != "till":
        raise errors.NotACardDevice()
    amount = _check_amount(ask.amount)
    now = now or utcnow()
    at = ask.at or now
    day = city_date(at)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        asked = _asked(session, device, ask, day)
        if asked.earlier is not None:
            return asked.earlier
        # The day's subsidised-meal allowance pays first: only the rest is held.
        to_hold = amount - min(amount, asked.subsidy_left)
        reason = _why_not(session, asked, ask.items, to_hold, day)
        if reason is not None:
            result = _decline(session, device, ask, asked, reason, at)
            uow.commit()
            return result
        hold_id = session.execute(
            insert(CardHold)
            .values(
                pupil_id=asked.pupil_id,
                card_id=asked.card_id,
                device_id=device.device_id,
                request_id=ask.request_id,
                amount=to_hold,
                state=HoldState.HELD,
                created_at=now,
                expires_at=now + HOLD_TTL,
            )
            .returning(CardHold.id)
        ).scalar_one()
        uow.commit()
        return _answer(hold_id, now + HOLD_TTL)


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
