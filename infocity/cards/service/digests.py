"""The daily digest: one message per representative who chose it, per pupil and city
day, telling the day's entries, exits and purchases and the balance.

The hourly job asks for yesterday's digests; a digest row per (representative, day) is
unique, so the runs after the first that day, or two workers at once, send nothing
more. Pupils with no event that day get no digest.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, select

from infocity.accounts import service as accounts
from infocity.cards.models.cards import CardPupil, CardRepresentative
from infocity.cards.models.events import CardDigest, CardEvent
from infocity.cards.rules.events import EventKind
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_today, city_tz
from infocity.core.db import utcnow
from infocity.core.outbox import notify
from infocity.core.sql import upsert_insert
from infocity.core.uow import UnitOfWork


def _count(kind: EventKind) -> ColumnElement[int]:
    return func.sum(case((CardEvent.kind == kind.value, 1), else_=0))


def send_daily_digests(
    actor: Principal | None, *, day: date | None = None, uow: UnitOfWork | None = None
) -> int:
    """Queue the digests of ``day`` (yesterday in the city by default) not yet sent;
    how many were queued."""
    authorize(actor, Action.SCHOOL_CARDS_PAYMENTS)
    day = day or city_today() - timedelta(days=1)
    start = datetime.combine(day, time(0), city_tz())
    end = start + timedelta(days=1)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        days = session.execute(
            select(
                CardEvent.pupil_id,
                _count(EventKind.ENTRY).label("entries"),
                _count(EventKind.EXIT).label("exits"),
                _count(EventKind.PURCHASE).label("purchases"),
                func.sum(
                    case((CardEvent.kind == EventKind.PURCHASE.value, CardEvent.amount), else_=0)
                ).label("spent"),
            )
            .where(CardEvent.occurred_at >= start, CardEvent.occurred_at < end)
            .group_by(CardEvent.pupil_id)
        ).all()
        if not days:
            return 0
        by_pupil = {row.pupil_id: row for row in days}
        pupils = {
            row.id: row
            for row in session.execute(
                select(CardPupil.id, CardPupil.person_id, CardPupil.balance).where(
                    CardPupil.id.in_(by_pupil)
                )
            )
        }
        names = accounts.person_names(session, [p.person_id for p in pupils.values()])
        sent = 0
        for representative in session.scalars(
            select(CardRepresentative)
            .where(
                CardRepresentative.pupil_id.in_(by_pupil),
                CardRepresentative.notify_digest.is_(True),
            )
            .order_by(CardRepresentative.id)
        ):
            taken = session.execute(
                upsert_insert(session)(CardDigest)
                .values(representative_id=representative.id, day=day, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=["representative_id", "day"])
                .returning(CardDigest.id)
            ).scalar_one_or_none()
            if taken is None:
                continue
            row, pupil = by_pupil[representative.pupil_id], pupils[representative.pupil_id]
            notify(
                session,
                accounts.recipient_for_user(session, representative.user_id),
                kind="cards_digest",
                template="cards/messages/digest.txt",
                context={
                    "name": names.get(pupil.person_id, ""),
                    "day": day,
                    "entries": int(row.entries or 0),
                    "exits": int(row.exits or 0),
                    "purchases": int(row.purchases or 0),
                    "spent": Decimal(int(row.spent or 0)) / 100,
                    "balance": Decimal(pupil.balance) / 100,
                },
                link=f"/cards/pupils/{representative.pupil_id}",
                channels=[c for c in representative.channels.split(",") if c],
            )
            sent += 1
        uow.commit()
        return sent
