"""Turnstiles and tills report in batches: entries, exits, purchases.

Each event is stored once, by (device, device event id): a batch sent again, or an MQTT
message delivered twice, finds its rows and changes nothing. Late and out-of-order
events are taken as they come and ordered by their own time. A bad row is refused with
its reason and the good ones are kept; a purchase the rules refuse leaves no trace
(its savepoint is rolled back) and is answered as refused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, cast

from pydantic import ValidationError
from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from infocity.accounts.service import DeviceIdentity
from infocity.cards import errors
from infocity.cards.models.cards import CardPupil, SchoolCard
from infocity.cards.models.events import CardEvent
from infocity.cards.rules.cards import CardStatus, Right, normalize_uid
from infocity.cards.rules.events import MAX_BATCH, EventKind
from infocity.cards.rules.ledger import EntryKind
from infocity.cards.schemas.events import BatchRead, CardEventRead, DeviceEventIn, RowRefusal
from infocity.cards.service import meals, money
from infocity.cards.service.base import _representative
from infocity.cards.service.ledger import _banned_in, _check_amount
from infocity.cards.service.tills import _use_hold
from infocity.core import bulk
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date, city_tz
from infocity.core.db import utcnow
from infocity.core.errors import AppError
from infocity.core.sql import upsert_insert
from infocity.core.uow import UnitOfWork

DEVICE_EVENT_KINDS = {"turnstile": (EventKind.ENTRY, EventKind.EXIT), "till": (EventKind.PURCHASE,)}
# A device clock this far ahead of ours is wrong, not early.
CLOCK_SKEW = timedelta(minutes=10)


# The table itself, for the bulk statements that take one.
EVENTS = cast(Table, CardEvent.__table__)
PASS_KINDS = (EventKind.ENTRY.value, EventKind.EXIT.value)
# A pass row as turnstiles send it, checked without the model: printable text already
# trimmed within the model's lengths, a moment in ISO 8601 with its offset.
PASS_FIELDS = frozenset({"event_id", "kind", "uid", "at"})
_PLAIN_ID = re.compile(r"[!-~](?:[ -~]{0,62}[!-~])?")
_PLAIN_UID = re.compile(r"[0-9A-Fa-f:-]{1,40}")
_PLAIN_MOMENT = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})"
)


@dataclass(frozen=True)
class _Card:
    """A card a batch names, as read once for the batch (plain values: a batch of 500
    rows builds no ORM objects)."""

    card_id: int
    status: str
    pupil_id: int
    school_id: int


Found = dict[str, _Card]


class _Pass(NamedTuple):
    """An entry or exit row checked without the model (``_plain_pass``): the fields a
    pass has, as ``DeviceEventIn`` names them (a tuple: the cheapest object to build)."""

    event_id: str
    kind: str
    uid: str
    at: datetime
    amount: None = None
    items: tuple[()] = ()


# A checked row: a plain pass, or any row as the model validated it.
Row = _Pass | DeviceEventIn


def _values(device: DeviceIdentity, row: Row, card: _Card, now: datetime) -> dict[str, object]:
    return {
        "device_id": device.device_id,
        "device_event_id": row.event_id,
        "pupil_id": card.pupil_id,
        "card_id": card.card_id,
        "school_id": card.school_id,
        "kind": row.kind,
        "occurred_at": row.at,
        "received_at": now,
        "amount": row.amount,
        "items": [item.model_dump() for item in row.items] or None,
    }


def _insert(session: Session, values: list[dict[str, object]]) -> set[str]:
    """The rows, each once: the device event ids stored now (not those sent before).
    Staged and moved in one statement, however many the batch holds."""
    columns = list(values[0])
    return set(
        bulk.insert_new(
            session,
            EVENTS,
            columns,
            ([row[name] for name in columns] for row in values),
            unique=["device_id", "device_event_id"],
            returning="device_event_id",
        )
    )


def _pay(
    session: Session, device: DeviceIdentity, row: DeviceEventIn, pupil_id: int, event_id: int
) -> None:
    """Serve a meal ordered ahead (paid when ordered), or take the purchase: the day's
    subsidised-meal allowance first, the rest from the balance (or the approved hold)."""
    if row.order_id is not None:
        meals._serve_order(session, device, row.order_id, pupil_id, row.at, event_id)
        return
    amount = _check_amount(row.amount)
    day = city_date(row.at)
    if row.authorization_id is None and _banned_in(session, pupil_id, row.items):
        raise errors.BannedItem()
    subsidy = meals._take_subsidy(session, pupil_id, amount, day)
    rest = amount - subsidy
    held = None
    if row.authorization_id is not None:
        held = _use_hold(session, device, row.authorization_id, pupil_id, rest)
    if rest or held:
        balance = money._debit(session, pupil_id, rest, row.at, day, held=held)
        if balance is None:
            raise money._refusal(session, pupil_id, rest)
    else:
        balance = int(
            session.scalar(select(CardPupil.balance).where(CardPupil.id == pupil_id)) or 0
        )
    money._write_entry(
        session,
        pupil_id,
        EntryKind.PURCHASE,
        -rest,
        balance,
        row.at,
        subsidy=subsidy,
        event_id=event_id,
        items=[item.model_dump() for item in row.items] or None,
    )


def _plain_pass(raw: object) -> _Pass | None:
    """An entry or exit row in its usual shape, checked without the model (a turnstile's
    batch is hundreds of them); None when the row needs the full validation. It accepts
    only rows the model accepts unchanged, so answers and refusals are the same."""
    if not isinstance(raw, dict) or raw.keys() != PASS_FIELDS:
        return None
    event_id, kind, uid, at = raw["event_id"], raw["kind"], raw["uid"], raw["at"]
    if (
        kind not in PASS_KINDS
        or not (isinstance(event_id, str) and _PLAIN_ID.fullmatch(event_id))
        or not (isinstance(uid, str) and _PLAIN_UID.fullmatch(uid))
        or not (isinstance(at, str) and _PLAIN_MOMENT.fullmatch(at))
    ):
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:  # no such day or hour: the model says why
        return None
    return _Pass(event_id, kind, uid, moment)


def _checked(device: DeviceIdentity, raw: object, now: datetime) -> Row:
    """The row as an event this device may send; refusals raise."""
    row: Row | None = _plain_pass(raw)
    if row is None:
        try:
            row = DeviceEventIn.model_validate(raw)
        except ValidationError as exc:
            raise errors.InvalidRow(str(exc.errors()[0]["msg"])) from exc
    if row.kind not in DEVICE_EVENT_KINDS.get(device.kind, ()):
        raise errors.WrongDeviceKind()
    if row.at > now + CLOCK_SKEW:
        raise errors.EventInFuture()
    return row


def _cards_of(session: Session, rows: Sequence[Row]) -> Found:
    """The cards the rows name, with their pupils: one query for the batch."""
    uids = {uid for row in rows if (uid := normalize_uid(row.uid))}
    if not uids:
        return {}
    named = bulk.is_one_of(session, SchoolCard.uid, uids, "uids")
    found = session.execute(
        select(SchoolCard.uid, SchoolCard.id, SchoolCard.status, CardPupil.id, CardPupil.school_id)
        .join(CardPupil, CardPupil.id == SchoolCard.pupil_id)
        .where(named)
    )
    return {
        uid: _Card(card_id, status, pupil_id, school_id)
        for uid, card_id, status, pupil_id, school_id in found
    }


def _card_of(found: Found, device: DeviceIdentity, raw_uid: str) -> _Card:
    """The card and its pupil, refused when unknown or of another school's pupil."""
    uid = normalize_uid(raw_uid)
    card = found.get(uid) if uid else None
    if card is None:
        raise errors.UnknownCard()
    if card.school_id != device.organisation_id:
        raise errors.CardOfAnotherSchool()
    return card


def _record(
    session: Session, device: DeviceIdentity, row: Row, found: Found, now: datetime
) -> dict[str, object] | str | None:
    """A pass's values to insert with the batch; a purchase stored (and paid) here: its
    event id when new, None when seen before. Refusals raise."""
    card = _card_of(found, device, row.uid)
    if card.status != CardStatus.ACTIVE:
        # Stored before the card was blocked: a replay of it is a duplicate, not a refusal.
        if session.scalar(
            select(CardEvent.id).where(
                CardEvent.device_id == device.device_id, CardEvent.device_event_id == row.event_id
            )
        ):
            return None
        raise errors.CardBlocked()
    values = _values(device, row, card, now)
    if row.kind in PASS_KINDS:
        return values
    assert isinstance(row, DeviceEventIn)  # a purchase always passes the model
    with session.begin_nested():
        event_id = session.execute(
            upsert_insert(session)(CardEvent)
            .values(values)
            .on_conflict_do_nothing(index_elements=["device_id", "device_event_id"])
            .returning(CardEvent.id)
        ).scalar_one_or_none()
        if event_id is None:
            return None
        _pay(session, device, row, card.pupil_id, event_id)
    return row.event_id


def _event_id_of(raw: object) -> str | None:
    value = raw.get("event_id") if isinstance(raw, dict) else None
    return value if isinstance(value, str) else None


def record_device_events(
    device: DeviceIdentity,
    rows: Sequence[object],
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> BatchRead:
    """Take a device's batch: each good row stored once (and a purchase paid), each bad
    one answered with its reason; one transaction for the batch. The cards are read in
    one query and the passes written in one statement: per-batch work, not per-event."""
    if device.kind not in DEVICE_EVENT_KINDS:
        raise errors.NotACardDevice()
    if len(rows) > MAX_BATCH:
        raise errors.BatchTooLarge(MAX_BATCH)
    now = now or utcnow()
    refused: list[RowRefusal] = []
    outcomes: dict[int, str | None] = {}  # index -> event id when new, None when a duplicate
    passes: list[tuple[int, dict[str, object]]] = []

    def refuse(index: int, refusal: AppError) -> None:
        refused.append(
            RowRefusal(
                index=index,
                event_id=_event_id_of(rows[index]),
                code=refusal.code,
                message=refusal.translated(),
            )
        )

    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        checked: list[tuple[int, Row]] = []
        for index, raw in enumerate(rows):
            try:
                checked.append((index, _checked(device, raw, now)))
            except AppError as refusal:
                refuse(index, refusal)
        found = _cards_of(session, [row for _index, row in checked])
        for index, row in checked:
            try:
                recorded = _record(session, device, row, found, now)
            except AppError as refusal:
                refuse(index, refusal)
                continue
            if isinstance(recorded, dict):
                passes.append((index, recorded))
            else:
                outcomes[index] = recorded
        stored = _insert(session, [values for _index, values in passes]) if passes else set()
        for index, values in passes:
            event_id = str(values["device_event_id"])
            # The same event twice in one batch: the first is the new one.
            outcomes[index] = event_id if event_id in stored else None
            stored.discard(event_id)
        uow.commit()
    refused.sort(key=lambda refusal: refusal.index)
    accepted = sum(1 for outcome in outcomes.values() if outcome is not None)
    return BatchRead(accepted=accepted, duplicates=len(outcomes) - accepted, refused=refused)


def list_card_events(
    actor: Principal | None,
    pupil_id: int,
    day: datetime | None = None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[CardEventRead]:
    """A pupil's events of one city day (today by default), in the order they happened."""
    actor = authorize(actor, Action.SCHOOL_CARDS_OWN)
    now = now or utcnow()
    local = (day or now).astimezone(city_tz())
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _representative(session, actor, pupil_id, Right.SEE)
        rows = session.scalars(
            select(CardEvent)
            .where(
                CardEvent.pupil_id == pupil_id,
                CardEvent.occurred_at >= start,
                CardEvent.occurred_at < start + timedelta(days=1),
            )
            .order_by(CardEvent.occurred_at, CardEvent.id)
        )
        return [CardEventRead.model_validate(row) for row in rows]
