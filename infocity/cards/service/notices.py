"""Telling representatives of card events, in the worker, never in the ingest.

The ingest writes one event row per card event; this job takes events not yet fanned
out, a batch at a time in one transaction, and queues each representative's messages
by their settings. A notice row per (event, representative) is unique, so a run cut
short (a worker killed) and run again, or two workers at once, tell no one twice; the
batch commits with its messages, so no one is left untold either.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, update

from infocity.accounts import service as accounts
from infocity.cards.models.cards import CardPupil, CardRepresentative
from infocity.cards.models.events import CardEvent, CardNotice
from infocity.cards.rules.events import EVENT_LABELS, TOPIC_OF, EventKind, Topic
from infocity.cards.rules.ledger import DECLINE_LABELS, Decline
from infocity.core.auth import Action, Principal, authorize
from infocity.core.db import utcnow
from infocity.core.outbox import notify
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork

FAN_OUT_BATCH = 200

_SETTING = {
    Topic.PASSES: CardRepresentative.notify_passes,
    Topic.PURCHASES: CardRepresentative.notify_purchases,
    Topic.LOW_BALANCE: CardRepresentative.notify_low_balance,
}


def _tell(uow: UnitOfWork, events: list[CardEvent], names: dict[int, str]) -> int:
    """Every representative who wants to hear of each event: one query for the adults,
    one statement for the notices, one for their contacts; then a message each."""
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
    taken = {
        (row.event_id, row.representative_id)
        for row in session.execute(
            upsert_insert(session)(CardNotice)
            .values(
                [
                    {"event_id": event.id, "representative_id": adult.id, "created_at": now}
                    for event, adult in pairs
                ]
            )
            .on_conflict_do_nothing(index_elements=["event_id", "representative_id"])
            .returning(CardNotice.event_id, CardNotice.representative_id)
        )
    }
    pairs = [(event, adult) for event, adult in pairs if (event.id, adult.id) in taken]
    recipients = accounts.recipients_for_users(session, {adult.user_id for _e, adult in pairs})
    for event, representative in pairs:
        kind = EventKind(event.kind)
        notify(
            session,
            recipients[representative.user_id],
            kind=f"cards_{kind}",
            template="cards/messages/event.txt",
            context={
                "kind": kind.value,
                "label": EVENT_LABELS[kind],
                "name": names.get(event.pupil_id, ""),
                "at": event.occurred_at,
                "rubles": Decimal(event.amount) / 100 if event.amount is not None else None,
                "reason_label": DECLINE_LABELS[Decline(event.reason)] if event.reason else "",
            },
            link=f"/cards/pupils/{event.pupil_id}",
            channels=[c for c in representative.channels.split(",") if c],
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
        events = list(
            session.scalars(
                select(CardEvent)
                .where(CardEvent.fanned_out_at.is_(None))
                .order_by(CardEvent.id)
                .limit(batch)
                .with_for_update(skip_locked=True)
            )
        )
        if not events:
            return 0
        pupils = {event.pupil_id for event in events}
        persons = {
            row.id: row.person_id
            for row in session.execute(
                select(CardPupil.id, CardPupil.person_id).where(CardPupil.id.in_(pupils))
            )
        }
        by_person = accounts.person_names(session, persons.values())
        names = {pupil_id: by_person.get(person_id, "") for pupil_id, person_id in persons.items()}
        _tell(uow, events, names)
        dml(
            session,
            update(CardEvent)
            .where(CardEvent.id.in_([event.id for event in events]))
            .values(fanned_out_at=utcnow()),
        )
        uow.commit()
        return len(events)
