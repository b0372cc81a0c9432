"""The statements that move a pupil's money, each one guarded UPDATE checked by what it
returns: a balance never goes below zero, a daily limit never past its sum, however
many tills, top-ups and imports run at once. Both databases run them as written."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, or_, update
from sqlalchemy.orm import Session

from infocity.cards import errors
from infocity.cards.models.cards import CardPupil
from infocity.cards.models.events import CardEvent
from infocity.cards.models.ledger import AutoTopUp, LedgerEntry
from infocity.cards.rules.events import EventKind
from infocity.cards.rules.ledger import (
    AUTO_TOP_UP_TRANSITIONS,
    AutoTopUpState,
    EntryKind,
    TopUpPeriod,
    period_start,
)
from infocity.core.db import utcnow
from infocity.core.errors import AppError
from infocity.core.sql import dml, upsert_insert


def _spent_on(day: date) -> ColumnElement[int]:
    """What the pupil spent on ``day`` (zero once the day has turned)."""
    return case((CardPupil.spent_day == day, CardPupil.spent), else_=0)


def _within_rules(amount: int, day: date) -> list[ColumnElement[bool]]:
    return [
        CardPupil.balance - CardPupil.held >= amount,
        or_(
            CardPupil.daily_limit.is_(None),
            _spent_on(day) + CardPupil.held + amount <= CardPupil.daily_limit,
        ),
    ]


def _spend(amount: int, day: date) -> dict[Any, Any]:
    # A late event of an earlier day leaves today's sum alone.
    newer = or_(CardPupil.spent_day.is_(None), CardPupil.spent_day < day)
    return {
        CardPupil.spent: case(
            (CardPupil.spent_day == day, CardPupil.spent + amount),
            (newer, amount),
            else_=CardPupil.spent,
        ),
        CardPupil.spent_day: case((newer, day), else_=CardPupil.spent_day),
    }


def _refusal(session: Session, pupil_id: int, amount: int) -> AppError:
    """Why a guarded debit or hold found no row: the money, or else the daily limit."""
    pupil = session.get(CardPupil, pupil_id, populate_existing=True)
    assert pupil is not None
    if pupil.balance - pupil.held < amount:
        return errors.NotEnoughMoney()
    return errors.DailyLimitReached()


def _hold(session: Session, pupil_id: int, amount: int, day: date) -> bool:
    """Set ``amount`` aside for an approved till purchase, if the rules allow it."""
    return (
        dml(
            session,
            update(CardPupil)
            .where(CardPupil.id == pupil_id, *_within_rules(amount, day))
            .values({CardPupil.held: CardPupil.held + amount}),
        ).rowcount
        == 1
    )


def _release(session: Session, pupil_id: int, amount: int) -> None:
    """Give back a hold's amount (it expired)."""
    dml(
        session,
        update(CardPupil)
        .where(CardPupil.id == pupil_id, CardPupil.held >= amount)
        .values({CardPupil.held: CardPupil.held - amount}),
    )


def _debit(
    session: Session,
    pupil_id: int,
    amount: int,
    at: datetime,
    day: date,
    *,
    held: int | None = None,
) -> int | None:
    """Take a purchase's ``amount``: the new balance, or None when the rules refuse it.
    ``held``: the approved hold it uses (already within the rules, released here)."""
    values = {CardPupil.balance: CardPupil.balance - amount, **_spend(amount, day)}
    if held is None:
        guard = _within_rules(amount, day)
    else:
        guard = [CardPupil.held >= held, CardPupil.balance >= amount]
        values[CardPupil.held] = CardPupil.held - held
    row = dml(
        session,
        update(CardPupil)
        .where(CardPupil.id == pupil_id, *guard)
        .values(values)
        .returning(
            CardPupil.balance,
            CardPupil.low_balance,
            CardPupil.low_balance_alerted,
            CardPupil.school_id,
            CardPupil.auto_top_up_below,
            CardPupil.auto_top_up_amount,
            CardPupil.auto_top_up_period,
        ),
    ).one_or_none()
    if row is None:
        return None
    if row.balance < row.low_balance and not row.low_balance_alerted:
        _alert_low(session, pupil_id, row.school_id, row.balance, at)
    rule = row.auto_top_up_below, row.auto_top_up_amount, row.auto_top_up_period
    if None not in rule and row.balance < row.auto_top_up_below:
        _ask_auto_top_up(
            session, pupil_id, row.auto_top_up_amount, TopUpPeriod(row.auto_top_up_period), day
        )
    return int(row.balance)


def _ask_auto_top_up(
    session: Session, pupil_id: int, amount: int, period: TopUpPeriod, day: date
) -> None:
    """One automatic top-up request per pupil and period: the unique key takes it, so
    purchases at once crossing the trigger ask once."""
    start = period_start(day, period)
    session.execute(
        upsert_insert(session)(AutoTopUp)
        .values(
            pupil_id=pupil_id,
            period=period,
            period_start=start,
            amount=amount,
            reference=f"auto:{pupil_id}:{period}:{start.isoformat()}",
            state=AutoTopUpState.PENDING,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["pupil_id", "period", "period_start"])
    )


def _settle_auto_top_up(session: Session, reference: str, at: datetime) -> None:
    """The payment carrying a request's reference arrived: the request is settled."""
    dml(
        session,
        update(AutoTopUp)
        .where(AutoTopUp.reference == reference, AutoTopUp.state == AutoTopUpState.PENDING)
        .values(state=AUTO_TOP_UP_TRANSITIONS[AutoTopUpState.PENDING], settled_at=at),
    )


def _alert_low(session: Session, pupil_id: int, school_id: int, balance: int, at: datetime) -> None:
    """One low-balance event per crossing: whoever flips the flag records it."""
    flipped = dml(
        session,
        update(CardPupil)
        .where(CardPupil.id == pupil_id, CardPupil.low_balance_alerted.is_(False))
        .values(low_balance_alerted=True),
    ).rowcount
    if flipped == 1:
        session.add(
            CardEvent(
                pupil_id=pupil_id,
                school_id=school_id,
                kind=EventKind.LOW_BALANCE,
                occurred_at=at,
                amount=balance,
            )
        )


def _credit(session: Session, pupil_id: int, amount: int) -> int:
    """Add a top-up or refund; the new balance. Lifting the balance to the alert level
    or above re-arms the low-balance alert."""
    balance = dml(
        session,
        update(CardPupil)
        .where(CardPupil.id == pupil_id)
        .values(
            {
                CardPupil.balance: CardPupil.balance + amount,
                CardPupil.low_balance_alerted: case(
                    (CardPupil.balance + amount >= CardPupil.low_balance, False),
                    else_=CardPupil.low_balance_alerted,
                ),
            }
        )
        .returning(CardPupil.balance),
    ).scalar_one()
    return int(balance)


def _write_entry(
    session: Session,
    pupil_id: int,
    kind: EntryKind,
    amount: int,
    balance_after: int,
    at: datetime,
    **extra: Any,
) -> LedgerEntry:
    entry = LedgerEntry(
        pupil_id=pupil_id,
        kind=kind,
        amount=amount,
        balance_after=balance_after,
        occurred_at=at,
        **extra,
    )
    session.add(entry)
    return entry
