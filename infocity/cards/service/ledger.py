"""The pupil's money as people handle it: top-ups (a representative, a payment file),
refunds by the school, the daily limit and banned categories, the ledger."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from infocity.accounts.service import DeviceIdentity
from infocity.cards import errors
from infocity.cards.models.cards import CardPupil, SchoolCard
from infocity.cards.models.events import CardEvent
from infocity.cards.models.ledger import BannedCategory, LedgerEntry
from infocity.cards.rules.cards import Right, normalize_uid
from infocity.cards.rules.events import EventKind
from infocity.cards.rules.ledger import CATEGORIES, MAX_AMOUNT, EntryKind, Item, banned_items
from infocity.cards.schemas.cards import AutoTopUpRule, PupilRead
from infocity.cards.schemas.events import ItemIn
from infocity.cards.schemas.ledger import (
    LedgerEntryRead,
    LedgerFilter,
    PaymentImportRead,
    Refund,
    SpendingRules,
    TopUp,
)
from infocity.cards.service import money
from infocity.cards.service.base import _add_history, _pupil_read, _representative
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_tz
from infocity.core.db import utcnow
from infocity.core.i18n import N_
from infocity.core.sql import upsert_insert
from infocity.core.uow import UnitOfWork


def _check_amount(amount: int | None) -> int:
    if amount is None or amount <= 0 or amount > MAX_AMOUNT:
        raise errors.InvalidAmount()
    return amount


def _take_reference(
    session: Session,
    pupil_id: int,
    reference: str,
    amount: int,
    at: datetime,
    kind: EntryKind,
    actor: Principal,
    event_id: int | None = None,
) -> bool:
    """Count a payment or refund once: its unique reference, then the money."""
    entry_id = session.execute(
        upsert_insert(session)(LedgerEntry)
        .values(
            pupil_id=pupil_id,
            kind=kind,
            amount=amount,
            balance_after=0,
            occurred_at=at,
            reference=reference,
            event_id=event_id,
            actor_user_id=actor.acting_user_id,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["reference"])
        .returning(LedgerEntry.id)
    ).scalar_one_or_none()
    if entry_id is None:
        return False
    balance = money._credit(session, pupil_id, amount)
    if kind is EntryKind.TOP_UP:
        money._settle_auto_top_up(session, reference, at)
    entry = session.get(LedgerEntry, entry_id)
    assert entry is not None
    entry.balance_after = balance
    return True


def top_up_card(
    actor: Principal | None,
    pupil_id: int,
    data: TopUp,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PupilRead:
    """A representative puts money on the pupil's card; a payment's reference counts once."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    amount = _check_amount(data.amount)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, told = _representative(session, actor, pupil_id, Right.TOP_UP)
        if not _take_reference(
            session, pupil.id, data.reference, amount, now, EntryKind.TOP_UP, actor
        ):
            raise errors.PaymentAlreadyCounted()
        session.refresh(pupil)
        result = _pupil_read(session, pupil, told, now)
        uow.commit()
        return result


def _payment_rows(
    data: bytes,
) -> tuple[list[tuple[str, str, int, datetime | None]], list[tuple[int, str]]]:
    """The file's rows ``reference;uid;amount in roubles;paid at (optional)`` and the
    mistakes by line."""
    rows: list[tuple[str, str, int, datetime | None]] = []
    problems: list[tuple[int, str]] = []
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [], [(1, N_("The file is not UTF-8 text."))]
    for line, fields in enumerate(csv.reader(io.StringIO(text), delimiter=";"), start=1):
        if not fields or not "".join(fields).strip():
            continue
        if len(fields) not in (3, 4):
            problems.append(
                (
                    line,
                    N_(
                        "A line has a reference, a card number, an amount and, optionally, "
                        "when it was paid."
                    ),
                )
            )
            continue
        reference, raw_uid, raw_amount = (f.strip() for f in fields[:3])
        uid = normalize_uid(raw_uid)
        try:
            kopecks = Decimal(raw_amount.replace(",", ".")) * 100
        except InvalidOperation:
            kopecks = Decimal(-1)
        paid_at = None
        if len(fields) == 4 and fields[3].strip():
            try:
                paid_at = datetime.fromisoformat(fields[3].strip())
            except ValueError:
                paid_at = None
                problems.append((line, N_("The payment time is not an ISO 8601 moment.")))
                continue
            if paid_at.tzinfo is None:
                paid_at = paid_at.replace(tzinfo=city_tz())
        if not reference or len(reference) > 60:
            problems.append((line, N_("The payment reference is missing or too long.")))
        elif uid is None:
            problems.append((line, N_("The card number is not a card number.")))
        elif kopecks != kopecks.to_integral_value() or not 0 < kopecks <= MAX_AMOUNT:
            problems.append((line, N_("The amount is not a sum of roubles and kopecks.")))
        else:
            rows.append((reference, uid, int(kopecks), paid_at))
    return rows, problems


def import_payments(
    actor: Principal | None,
    data: bytes,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PaymentImportRead:
    """Load a bank's payment file: all or nothing, each payment counted once however many
    times the file comes; a payment to a replaced card reaches its pupil."""
    actor = authorize(actor, Action.SCHOOL_CARDS_PAYMENTS)
    rows, problems = _payment_rows(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupils = {
            row.uid: row.pupil_id
            for row in session.execute(
                select(SchoolCard.uid, SchoolCard.pupil_id).where(
                    SchoolCard.uid.in_({uid for _r, uid, _a, _t in rows})
                )
            )
        }
        for line, (_reference, uid, _amount, _at) in enumerate(rows, start=1):
            if uid not in pupils:
                problems.append((line, N_("No card has this number.")))
        if problems:
            raise errors.PaymentFileRefused(sorted(problems))
        counted = 0
        for reference, uid, amount, paid_at in rows:
            counted += _take_reference(
                session, pupils[uid], reference, amount, paid_at or now, EntryKind.TOP_UP, actor
            )
        uow.commit()
        return PaymentImportRead(
            rows=len(rows), counted=counted, total=sum(amount for _r, _u, amount, _t in rows)
        )


def refund_purchase(
    actor: Principal | None,
    data: Refund,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> LedgerEntryRead:
    """School staff give back a purchase of their school (a meal not served); once."""
    actor = authorize(actor, Action.SCHOOL_CARDS_ISSUE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        event = session.get(CardEvent, data.event_id)
        if event is None or event.kind != EventKind.PURCHASE or not event.amount:
            raise errors.PurchaseNotFound()
        authorize(actor, Action.SCHOOL_CARDS_ISSUE, event.school_id)
        # What the balance paid: a subsidised meal's allowance part is not money to give
        # back (a meal ordered ahead has no entry of its own: its order paid the sum).
        paid = session.scalar(
            select(LedgerEntry.amount).where(
                LedgerEntry.event_id == event.id, LedgerEntry.kind == EntryKind.PURCHASE
            )
        )
        amount = -paid if paid is not None else event.amount
        reference = f"refund:{event.id}"
        if not _take_reference(
            session, event.pupil_id, reference, amount, now, EntryKind.REFUND, actor, event.id
        ):
            raise errors.AlreadyRefunded()
        entry = session.scalars(select(LedgerEntry).where(LedgerEntry.reference == reference)).one()
        _add_history(session, actor, event.pupil_id, "refund", detail=str(event.id), at=now)
        audit.record(
            session,
            actor,
            "cards.purchase.refund",
            organisation_id=event.school_id,
            detail=f"event {event.id}",
        )
        result = LedgerEntryRead.model_validate(entry)
        uow.commit()
        return result


def set_spending_rules(
    actor: Principal | None,
    pupil_id: int,
    data: SpendingRules,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PupilRead:
    """A legal representative sets the daily limit and the categories the pupil may
    not buy; tills decline what breaks them from the next purchase on."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    if any(category not in CATEGORIES for category in data.banned_categories):
        raise errors.UnknownCategory()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, told = _representative(session, actor, pupil_id, Right.SET_RULES)
        pupil.daily_limit = data.daily_limit
        session.execute(delete(BannedCategory).where(BannedCategory.pupil_id == pupil.id))
        for category in sorted(set(data.banned_categories)):
            session.add(BannedCategory(pupil_id=pupil.id, category=category))
        session.flush()
        banned = ",".join(sorted(set(data.banned_categories)))
        detail = f"limit={data.daily_limit}; banned={banned}"
        _add_history(session, actor, pupil.id, "rules", detail=detail, at=now)
        result = _pupil_read(session, pupil, told, now)
        uow.commit()
        return result


def set_auto_top_up(
    actor: Principal | None,
    pupil_id: int,
    data: AutoTopUpRule,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> PupilRead:
    """A legal representative sets (or, with no trigger, turns off) the automatic top-up:
    below the trigger after a purchase, one request of the amount per period."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        pupil, told = _representative(session, actor, pupil_id, Right.SET_RULES)
        on = data.below is not None
        pupil.auto_top_up_below = data.below
        pupil.auto_top_up_amount = data.amount if on else None
        pupil.auto_top_up_period = data.period if on else None
        detail = f"below={data.below}; amount={data.amount}; period={data.period}" if on else "off"
        _add_history(session, actor, pupil.id, "auto_top_up", detail=detail, at=now)
        session.flush()
        result = _pupil_read(session, pupil, told, now)
        uow.commit()
        return result


def list_ledger(
    actor: Principal | None,
    pupil_id: int,
    filters: LedgerFilter | None = None,
    *,
    limit: int = 200,
    uow: UnitOfWork | None = None,
) -> list[LedgerEntryRead]:
    """The pupil's ledger, newest first, by kind and city dates."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    filters = filters or LedgerFilter()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _representative(session, actor, pupil_id, Right.SEE)
        query = select(LedgerEntry).where(LedgerEntry.pupil_id == pupil_id)
        if filters.kind:
            query = query.where(LedgerEntry.kind == filters.kind)
        tz = city_tz()
        if filters.since:
            since = datetime(filters.since.year, filters.since.month, filters.since.day, tzinfo=tz)
            query = query.where(LedgerEntry.occurred_at >= since)
        if filters.until:
            until = datetime(filters.until.year, filters.until.month, filters.until.day, tzinfo=tz)
            query = query.where(LedgerEntry.occurred_at < until + timedelta(days=1))
        rows = session.scalars(
            query.order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc()).limit(limit)
        )
        return [LedgerEntryRead.model_validate(row) for row in rows]


def _pupil_of_card(session: Session, uid: str) -> tuple[SchoolCard, CardPupil] | None:
    row = session.execute(
        select(SchoolCard, CardPupil)
        .join(CardPupil, CardPupil.id == SchoolCard.pupil_id)
        .where(SchoolCard.uid == uid)
    ).one_or_none()
    return (row[0], row[1]) if row else None


def _card_at_device(
    session: Session, device: DeviceIdentity, raw_uid: str
) -> tuple[SchoolCard, CardPupil]:
    """The card and its pupil, refused when unknown or of another school's pupil (a
    blocked card is for the caller to judge)."""
    uid = normalize_uid(raw_uid)
    found = _pupil_of_card(session, uid) if uid else None
    if found is None:
        raise errors.UnknownCard()
    card, pupil = found
    if pupil.school_id != device.organisation_id:
        raise errors.CardOfAnotherSchool()
    return card, pupil


def _banned_in(session: Session, pupil_id: int, items: list[ItemIn]) -> bool:
    banned = session.scalars(
        select(BannedCategory.category).where(BannedCategory.pupil_id == pupil_id)
    )
    return bool(banned_items((Item(i.name, i.category, i.price) for i in items), banned))
