"""Telling representatives of card events, in the worker, never in the ingest.

The ingest writes one event row per card event; this job takes events not yet fanned
out, a batch at a time in one transaction, and queues each representative's messages
by their settings. A notice row per (event, representative) is unique, so a run cut
short (a worker killed) and run again, or two workers at once, tell no one twice; the
batch commits with its messages, so no one is left untold either.

A subsidised-meal allowance granted or revoked by the school is told the same way: the
staff's transaction writes one change row, and ``fan_out_subsidy_changes`` tells the
representatives, a notice per (change, representative).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import Row, Table, select, update
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.cards.models.cards import CardPupil, CardRepresentative
from infocity.cards.models.events import CardEvent, CardNotice
from infocity.cards.models.meals import Subsidy, SubsidyChange, SubsidyNotice
from infocity.cards.rules.cards import RIGHTS, Right, Standing
from infocity.cards.rules.events import EVENT_LABELS, TOPIC_OF, EventKind, Topic
from infocity.cards.rules.ledger import DECLINE_LABELS, Decline
from infocity.cards.rules.meals import SubsidyChangeKind
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.outbox import Announcement, Recipient, notify_many
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork

FAN_OUT_BATCH = 200
_NOTICES = cast(Table, CardNotice.__table__)
# What telling of an event needs, read as plain rows: no object built per event (the
# job spends some 8 % less CPU, docs/benchmarks.md section 9).
_EVENT_COLUMNS = (
    CardEvent.id,
    CardEvent.pupil_id,
    CardEvent.kind,
    CardEvent.occurred_at,
    CardEvent.amount,
    CardEvent.reason,
)
EventRow = Row[int, int, str, datetime, int | None, str | None]

_SETTING = {
    Topic.PASSES: CardRepresentative.notify_passes,
    Topic.PURCHASES: CardRepresentative.notify_purchases,
    Topic.LOW_BALANCE: CardRepresentative.notify_low_balance,
}


def _pupil_names(session: Session, pupils: set[int]) -> dict[int, str]:
    """The pupils' names by their ids in the service: two queries for a batch."""
    persons = {
        row.id: row.person_id
        for row in session.execute(
            select(CardPupil.id, CardPupil.person_id).where(CardPupil.id.in_(pupils))
        )
    }
    by_person = accounts.person_names(session, persons.values())
    return {pupil_id: by_person.get(person_id, "") for pupil_id, person_id in persons.items()}


def _audiences(
    session: Session, told: list[tuple[int, CardRepresentative]]
) -> dict[int, list[tuple[Recipient, list[str]]]]:
    """The adults told of each thing (by its id), each with the channels they chose: one
    query for their contacts."""
    recipients = accounts.recipients_for_users(session, {adult.user_id for _id, adult in told})
    audiences: dict[int, list[tuple[Recipient, list[str]]]] = {}
    for told_id, adult in told:
        channels = [c for c in adult.channels.split(",") if c]
        audiences.setdefault(told_id, []).append((recipients[adult.user_id], channels))
    return audiences


def _event_context(event: EventRow, name: str) -> dict[str, object]:
    kind = EventKind(event.kind)
    return {
        "kind": kind.value,
        "label": EVENT_LABELS[kind],
        "name": name,
        "at": event.occurred_at,
        "rubles": Decimal(event.amount) / 100 if event.amount is not None else None,
        "reason_label": DECLINE_LABELS[Decline(event.reason)] if event.reason else "",
    }


def _tell(uow: UnitOfWork, events: Sequence[EventRow], names: dict[int, str]) -> int:
    """Every representative who wants to hear of each event: one query for the adults,
    one statement for the notices, one for their contacts, one for all their messages."""
    session = uow.session
    adults: dict[int, list[CardRepresentative]] = {}
    for representative in session.scalars(
        select(CardRepresentative)
        .where(CardRepresentative.pupil_id.in_({event.pupil_id for event in events}))
        .order_by(CardRepresentative.id)
    ):
        adults.setdefault(representative.pupil_id, []).append(representative)
    pairs = [
        (event, representative)
        for event in events
        for representative in adults.get(event.pupil_id, [])
        if getattr(representative, _SETTING[TOPIC_OF[EventKind(event.kind)]].key)
    ]
    if not pairs:
        return 0
    now = utcnow()
    # Pairs told before (a run cut short and run again) are not returned: not told twice.
    # The rows as parameters of one statement, not in its text: a statement holding 200
    # rows of values was compiled anew for every batch.
    taken = {
        (row.event_id, row.representative_id)
        for row in session.execute(
            upsert_insert(session)(_NOTICES)
            .on_conflict_do_nothing(index_elements=["event_id", "representative_id"])
            .returning(_NOTICES.c.event_id, _NOTICES.c.representative_id),
            [
                {"event_id": event.id, "representative_id": adult.id, "created_at": now}
                for event, adult in pairs
            ],
        )
    }
    pairs = [(event, adult) for event, adult in pairs if (event.id, adult.id) in taken]
    audiences = _audiences(session, [(event.id, adult) for event, adult in pairs])
    # One announcement an event: its text is rendered once per language of its adults.
    notify_many(
        session,
        [
            Announcement(
                kind=f"cards_{EventKind(event.kind)}",
                template="cards/messages/event.txt",
                recipients=audiences[event.id],
                context=_event_context(event, names.get(event.pupil_id, "")),
                link=f"/cards/pupils/{event.pupil_id}",
            )
            for event in events
            if event.id in audiences
        ],
    )
    return len(pairs)


def fan_out_card_events(
    actor: Principal | None, *, batch: int = FAN_OUT_BATCH, uow: UnitOfWork | None = None
) -> int:
    """Tell representatives of up to ``batch`` card events not yet told; how many events
    were fanned out (0: none waited; an event no one hears of counts too, so a caller
    looping until 0 does not stop before the backlog is done)."""
    authorize(actor, Action.SCHOOL_CARDS_PAYMENTS)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        # Locked and skipped: two workers share the backlog instead of racing for it.
        events = session.execute(
            select(*_EVENT_COLUMNS)
            .where(CardEvent.fanned_out_at.is_(None))
            .order_by(CardEvent.id)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        if not events:
            return 0
        names = _pupil_names(session, {event.pupil_id for event in events})
        _tell(uow, events, names)
        dml(
            session,
            update(CardEvent)
            .where(CardEvent.id.in_([event.id for event in events]))
            .values(fanned_out_at=utcnow()),
        )
        uow.commit()
        return len(events)


def _told_of_subsidy(adult: CardRepresentative) -> bool:
    """A legal representative is told of every change of the child's allowance (it is
    their child's right to meals, whatever else they mute); a trusted adult when their
    standing lets them see the child's meals and they chose to hear of purchases."""
    if adult.standing == Standing.LEGAL:
        return True
    return Right.SEE in RIGHTS[Standing(adult.standing)] and adult.notify_purchases


def _subsidy_context(change: SubsidyChange, name: str, until: date) -> dict[str, object]:
    return {
        "kind": change.kind,
        "name": name,
        "from_day": change.from_day,
        "until": until,
        "rubles": Decimal(change.daily_amount) / 100,
        "orders": [
            {
                "day": date.fromisoformat(str(line["day"])),
                "meal": str(line["meal"]),
                "refund": Decimal(int(line["refund"])) / 100,
            }
            for line in change.orders or []
        ],
        "refunded": Decimal(change.refunded) / 100,
    }


def fan_out_subsidy_changes(
    actor: Principal | None, *, batch: int = FAN_OUT_BATCH, uow: UnitOfWork | None = None
) -> int:
    """Tell representatives of up to ``batch`` allowances granted or revoked and not yet
    told, each through the channels they chose; how many changes were fanned out (0:
    none waited)."""
    authorize(actor, Action.SCHOOL_CARDS_PAYMENTS)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        # Locked and skipped, as the card events: two workers share the backlog.
        rows = session.execute(
            select(SubsidyChange, Subsidy.ends)
            .join(Subsidy, Subsidy.id == SubsidyChange.subsidy_id)
            .where(SubsidyChange.fanned_out_at.is_(None))
            .order_by(SubsidyChange.id)
            .limit(batch)
            .with_for_update(of=SubsidyChange, skip_locked=True)
        ).all()
        if not rows:
            return 0
        changes = [(change, ends) for change, ends in rows]
        pupils = {change.pupil_id for change, _ends in changes}
        names = _pupil_names(session, pupils)
        adults: dict[int, list[CardRepresentative]] = {}
        for adult in session.scalars(
            select(CardRepresentative)
            .where(CardRepresentative.pupil_id.in_(pupils))
            .order_by(CardRepresentative.id)
        ):
            if _told_of_subsidy(adult):
                adults.setdefault(adult.pupil_id, []).append(adult)
        pairs = [
            (change, ends, adult)
            for change, ends in changes
            for adult in adults.get(change.pupil_id, [])
        ]
        taken: set[tuple[int, int]] = set()
        if pairs:
            now = utcnow()
            # Pairs told before (a run cut short and run again) are not returned.
            taken = {
                (row.change_id, row.representative_id)
                for row in session.execute(
                    upsert_insert(session)(SubsidyNotice)
                    .values(
                        [
                            {
                                "change_id": change.id,
                                "representative_id": adult.id,
                                "created_at": now,
                            }
                            for change, _ends, adult in pairs
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["change_id", "representative_id"])
                    .returning(SubsidyNotice.change_id, SubsidyNotice.representative_id)
                )
            }
        pairs = [p for p in pairs if (p[0].id, p[2].id) in taken]
        audiences = _audiences(session, [(change.id, adult) for change, _ends, adult in pairs])
        notify_many(
            session,
            [
                Announcement(
                    kind=f"cards_subsidy_{SubsidyChangeKind(change.kind)}",
                    template="cards/messages/subsidy.txt",
                    recipients=audiences[change.id],
                    context=_subsidy_context(change, names.get(change.pupil_id, ""), ends),
                    link=f"/cards/pupils/{change.pupil_id}",
                )
                for change, ends in changes
                if change.id in audiences
            ],
        )
        dml(
            session,
            update(SubsidyChange)
            .where(SubsidyChange.id.in_([change.id for change, _ends in changes]))
            .values(fanned_out_at=utcnow()),
        )
        uow.commit()
        return len(changes)
