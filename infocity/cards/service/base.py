"""What every use case of school cards stands on: the pupil a representative may act
for, the history line, the pupil as a representative reads it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.cards import errors
from infocity.cards.models.cards import CardHistory, CardPupil, CardRepresentative, SchoolCard
from infocity.cards.models.ledger import AutoTopUp, BannedCategory
from infocity.cards.rules.cards import RIGHTS, CardStatus, Right, Standing
from infocity.cards.schemas.cards import AutoTopUpRead, AutoTopUpRule, PupilRead
from infocity.core.auth import Principal
from infocity.core.clock import city_date


def _add_history(
    session: Session,
    actor: Principal,
    pupil_id: int,
    action: str,
    *,
    card_id: int | None = None,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    entry = CardHistory(
        pupil_id=pupil_id,
        card_id=card_id,
        action=action,
        actor_user_id=actor.acting_user_id,
        detail=detail,
    )
    if at is not None:
        entry.created_at = at
    session.add(entry)


def _representative(
    session: Session, actor: Principal, pupil_id: int, right: Right
) -> tuple[CardPupil, CardRepresentative]:
    """The pupil and the actor's place beside them; NotYourPupil for anyone else, and
    RightRefused when their standing lacks ``right``."""
    row = session.execute(
        select(CardPupil, CardRepresentative)
        .join(CardRepresentative, CardRepresentative.pupil_id == CardPupil.id)
        .where(CardPupil.id == pupil_id, CardRepresentative.user_id == actor.user_id)
    ).one_or_none()
    if row is None:
        raise errors.NotYourPupil()
    pupil, told = row
    if right not in RIGHTS[Standing(told.standing)]:
        raise errors.RightRefused()
    return pupil, told


def _active_card(session: Session, pupil_id: int) -> SchoolCard | None:
    return session.scalars(
        select(SchoolCard).where(
            SchoolCard.pupil_id == pupil_id, SchoolCard.status == CardStatus.ACTIVE
        )
    ).one_or_none()


def _latest_card_status(session: Session, pupil_id: int) -> str | None:
    return session.scalar(
        select(SchoolCard.status)
        .where(SchoolCard.pupil_id == pupil_id)
        .order_by(SchoolCard.issued_at.desc(), SchoolCard.id.desc())
        .limit(1)
    )


def _spent_on(pupil: CardPupil, now: datetime) -> int:
    """What the pupil spent on the city day of ``now``."""
    return pupil.spent if pupil.spent_day == city_date(now) else 0


def _pupil_read(
    session: Session, pupil: CardPupil, told: CardRepresentative, now: datetime
) -> PupilRead:
    names = accounts.person_names(session, [pupil.person_id])
    banned = session.scalars(
        select(BannedCategory.category)
        .where(BannedCategory.pupil_id == pupil.id)
        .order_by(BannedCategory.category)
    )
    return PupilRead(
        id=pupil.id,
        person_id=pupil.person_id,
        name=names.get(pupil.person_id, ""),
        school_id=pupil.school_id,
        balance=pupil.balance,
        available=pupil.balance - pupil.held,
        daily_limit=pupil.daily_limit,
        spent_today=_spent_on(pupil, now),
        low_balance=pupil.low_balance,
        banned_categories=list(banned),
        standing=told.standing,
        card_status=_latest_card_status(session, pupil.id),
        auto_top_up=_auto_top_up_rule(pupil),
        auto_top_ups=[
            AutoTopUpRead(
                amount=r.amount, reference=r.reference, state=r.state, period_start=r.period_start
            )
            for r in session.scalars(
                select(AutoTopUp)
                .where(AutoTopUp.pupil_id == pupil.id)
                .order_by(AutoTopUp.id.desc())
                .limit(5)
            )
        ],
    )


def _auto_top_up_rule(pupil: CardPupil) -> AutoTopUpRule | None:
    if pupil.auto_top_up_below is None or pupil.auto_top_up_amount is None:
        return None
    return AutoTopUpRule.model_validate(
        {
            "below": pupil.auto_top_up_below,
            "amount": pupil.auto_top_up_amount,
            "period": pupil.auto_top_up_period,
        }
    )
