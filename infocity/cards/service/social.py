"""Use cases of students' social cards: ordered on the college's confirmation, issued by
the college, activated, blocked and re-issued by the student; the validators' eligibility
check; the daily signed stop-list of blocked UIDs.

Every step is a guarded UPDATE from the states ``rules.social.TRANSITIONS`` allows, checked
by its row count: a student reporting a card lost while the college issues it, or two staff
issuing one card at once, cannot both win. Each step is written to the card's history and
the student is told through the outbox (inbox, e-mail, SMS by the city's channels and the
contacts they gave).
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.cards import errors
from infocity.cards.models.social import SocialCard, SocialCardEvent, SocialStopList
from infocity.cards.rules import social as rules
from infocity.cards.rules.social import Mover, SocialCardStatus
from infocity.cards.schemas.social import (
    SocialCardBlock,
    SocialCardEligibilityRead,
    SocialCardEventRead,
    SocialCardIssue,
    SocialCardOrder,
    SocialCardRead,
    SocialStopListDocument,
    SocialStopListKeyRead,
    SocialStopListRead,
)
from infocity.city import service as city
from infocity.core import audit, outbox
from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import fetch_rows, utcnow
from infocity.core.errors import NotFound
from infocity.core.settings import get_settings
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork

CARDS: Table = SocialCard.__table__  # type: ignore[assignment]
COLLEGE_KIND = "college"


# --- Shared steps ----------------------------------------------------------------------


def _read(session: Session, row: Any, *, history: bool = False) -> SocialCardRead:
    card = SocialCardRead.model_validate(row, from_attributes=True)
    if not history:
        return card
    events = session.scalars(
        select(SocialCardEvent)
        .where(SocialCardEvent.card_id == card.id)
        .order_by(SocialCardEvent.at, SocialCardEvent.id)
    )
    return card.model_copy(
        update={"history": [SocialCardEventRead.model_validate(e) for e in events]}
    )


def _record(
    session: Session, card: SocialCardRead, actor: Principal, now: datetime, note: str | None
) -> None:
    """The step in the card's history, and the student told of it."""
    session.add(
        SocialCardEvent(
            card_id=card.id, status=card.status, note=note, by_user_id=actor.acting_user_id, at=now
        )
    )
    user_id = session.scalar(select(SocialCard.user_id).where(SocialCard.id == card.id))
    assert user_id is not None
    outbox.notify(
        session,
        accounts.recipient_for_user(session, user_id),
        kind="social_card_status",
        template="cards/social/messages/status.txt",
        context={
            "status": card.status,
            "status_label": rules.STATUS_LABELS[SocialCardStatus(card.status)],
            "uid": card.uid,
            "valid_until": card.valid_until,
        },
        link="/cards/social",
    )


def _step(
    session: Session,
    card_id: int,
    status: SocialCardStatus,
    mover: Mover,
    values: dict[str, Any],
) -> SocialCardRead:
    """Move a card to ``status`` only from the states ``mover`` may take it there from;
    refuse if it has moved on meanwhile (the row count is the guard)."""
    row = dml(
        session,
        update(CARDS)
        .where(CARDS.c.id == card_id, CARDS.c.status.in_(rules.steps_to(status, mover)))
        .values(status=status.value, **values)
        .returning(*CARDS.c),
    ).one_or_none()
    if row is None:
        raise errors.SocialCardStatusConflict()
    return _read(session, row)


def _own_card(session: Session, actor: Principal, card_id: int) -> SocialCard:
    """The student's own card; anyone else's answers as unknown."""
    card = session.get(SocialCard, card_id)
    if card is None or card.user_id != actor.user_id:
        raise errors.SocialCardNotFound()
    return card


def _college_card(session: Session, actor: Principal, card_id: int) -> SocialCard:
    """A card of a college the staff member works for."""
    card = session.get(SocialCard, card_id)
    if card is None:
        raise errors.SocialCardNotFound()
    authorize(actor, Action.SOCIAL_CARD_ISSUE, card.college_id)
    return card


def _has_live_card(session: Session, person_id: int) -> bool:
    return (
        session.scalar(
            select(SocialCard.id).where(
                SocialCard.person_id == person_id, SocialCard.status.in_(rules.LIVE_STATUSES)
            )
        )
        is not None
    )


# --- Ordering (the portal's approval) and the student's part -------------------------


def check_social_card_application(
    actor: Principal | None,
    college_id: int,
    graduation_year: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> int:
    """Whether the student may apply: a college, a year that fits, no card already held;
    the student's person id."""
    actor = authorize(actor, Action.APPLICATION_SUBMIT)
    now = now or utcnow()
    if actor.person_id is None:
        raise errors.NoPersonOnAccount()
    rules.valid_until(city_date(now), graduation_year)
    uow = uow or UnitOfWork()
    with uow:
        try:
            college = city.get_organisation(college_id, uow=uow)
        except NotFound as exc:
            raise errors.NotACollege() from exc
        if college.kind != COLLEGE_KIND:
            raise errors.NotACollege()
        if _has_live_card(uow.session, actor.person_id):
            raise errors.SocialCardAlreadyHeld()
        return actor.person_id


def list_colleges(*, uow: UnitOfWork | None = None) -> list[tuple[int, str, str | None]]:
    """The colleges and universities a student may name: (id, name, English name)."""
    return [(o.id, o.name, o.name_en) for o in city.list_organisations(COLLEGE_KIND, uow=uow)]


def order_social_card(
    actor: Principal | None,
    data: SocialCardOrder,
    *,
    approved_by: Principal,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SocialCardRead:
    """Order a card for a student whose status the college confirmed (the portal's
    approval runs this as the system, naming the staff member who approved)."""
    actor = authorize(actor, Action.SOCIAL_CARD_ISSUE, data.college_id)
    now = now or utcnow()
    until = rules.valid_until(city_date(now), data.graduation_year)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        if _has_live_card(session, data.person_id):
            raise errors.SocialCardAlreadyHeld()
        card = SocialCard(
            person_id=data.person_id,
            user_id=data.user_id,
            college_id=data.college_id,
            application_id=data.application_id,
            student_number=data.student_number,
            status=SocialCardStatus.ORDERED.value,
            valid_until=until,
            created_at=now,
            updated_at=now,
        )
        session.add(card)
        try:
            session.flush()
        except IntegrityError as exc:  # an order for the same student committed first
            raise errors.SocialCardAlreadyHeld() from exc
        result = _read(session, card)
        _record(session, result, approved_by, now, None)
        uow.commit()
        return result


def list_my_social_cards(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[SocialCardRead]:
    """The student's cards, the newest first, each with its history."""
    actor = authorize(actor, Action.SOCIAL_CARD_HOLD)
    uow = uow or UnitOfWork()
    with uow:
        cards = uow.session.scalars(
            select(SocialCard)
            .where(SocialCard.user_id == actor.user_id)
            .order_by(SocialCard.created_at.desc(), SocialCard.id.desc())
        ).all()
        return [_read(uow.session, card, history=True) for card in cards]


def activate_social_card(
    actor: Principal | None,
    card_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SocialCardRead:
    """The student confirms they hold the issued card: validators accept it from now."""
    actor = authorize(actor, Action.SOCIAL_CARD_HOLD)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _own_card(uow.session, actor, card_id)
        result = _step(
            uow.session, card_id, SocialCardStatus.ACTIVE, Mover.STUDENT, {"updated_at": now}
        )
        _record(uow.session, result, actor, now, None)
        uow.commit()
        return result


def report_social_card_lost(
    actor: Principal | None,
    card_id: int,
    data: SocialCardBlock,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SocialCardRead:
    """The student blocks a lost, stolen or damaged card: validators refuse its UID at
    once, and offline from the next stop-list."""
    actor = authorize(actor, Action.SOCIAL_CARD_HOLD)
    if data.reason not in rules.STUDENT_BLOCK_REASONS:
        raise errors.InvalidBlockReason()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        _own_card(uow.session, actor, card_id)
        result = _block(uow.session, card_id, Mover.STUDENT, data, now)
        _record(uow.session, result, actor, now, data.note)
        uow.commit()
        return result


def _block(
    session: Session, card_id: int, mover: Mover, data: SocialCardBlock, now: datetime
) -> SocialCardRead:
    values = {"block_reason": data.reason, "updated_at": now}
    return _step(session, card_id, SocialCardStatus.BLOCKED, mover, values)


def reissue_social_card(
    actor: Principal | None,
    card_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SocialCardRead:
    """Order a replacement for a blocked card: a new card, with a new UID when issued;
    the old UID stays blocked. The new card."""
    actor = authorize(actor, Action.SOCIAL_CARD_HOLD)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        blocked = _own_card(session, actor, card_id)
        if _has_live_card(session, blocked.person_id):  # applied anew meanwhile
            raise errors.SocialCardAlreadyHeld()
        old = _step(session, card_id, SocialCardStatus.REISSUED, Mover.STUDENT, {"updated_at": now})
        _record(session, old, actor, now, None)
        card = SocialCard(
            person_id=old.person_id,
            user_id=actor.user_id,
            college_id=old.college_id,
            student_number=old.student_number,
            status=SocialCardStatus.ORDERED.value,
            valid_until=old.valid_until,
            replaces_card_id=old.id,
            created_at=now,
            updated_at=now,
        )
        session.add(card)
        try:
            session.flush()
        except IntegrityError as exc:  # an order for the same student committed first
            raise errors.SocialCardAlreadyHeld() from exc
        result = _read(session, card)
        _record(session, result, actor, now, None)
        uow.commit()
        return result


# --- The college's part ----------------------------------------------------------------


def list_college_social_cards(
    actor: Principal | None,
    college_id: int,
    *,
    status: str | None = None,
    uow: UnitOfWork | None = None,
) -> list[SocialCardRead]:
    """A college's cards, the oldest first (at most 500), optionally of one status."""
    actor = authorize(actor, Action.SOCIAL_CARD_ISSUE, college_id)
    uow = uow or UnitOfWork()
    with uow:
        query = select(SocialCard).where(SocialCard.college_id == college_id)
        if status is not None:
            query = query.where(SocialCard.status == status)
        cards = uow.session.scalars(query.order_by(SocialCard.created_at, SocialCard.id).limit(500))
        return [_read(uow.session, card) for card in cards]


def issue_social_card(
    actor: Principal | None,
    card_id: int,
    data: SocialCardIssue,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SocialCardRead:
    """The college hands an ordered card to the student, recording its UID."""
    actor = authorize(actor, Action.SOCIAL_CARD_ISSUE)
    uid = rules.parse_uid(data.uid)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        card = _college_card(session, actor, card_id)
        if session.scalar(select(SocialCard.id).where(SocialCard.uid == uid)) is not None:
            raise errors.CardUidTaken()
        try:
            result = _step(
                session,
                card_id,
                SocialCardStatus.ISSUED,
                Mover.COLLEGE,
                {"uid": uid, "updated_at": now},
            )
        except IntegrityError as exc:  # the same UID issued to another card at this moment
            raise errors.CardUidTaken() from exc
        audit.record(
            session,
            actor,
            "cards.social.issue",
            subject_person_id=card.person_id,
            organisation_id=card.college_id,
            detail=f"card {card_id}: {uid}",
        )
        _record(session, result, actor, now, None)
        uow.commit()
        return result


def block_social_card(
    actor: Principal | None,
    card_id: int,
    data: SocialCardBlock,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SocialCardRead:
    """The college blocks a card (studies ended, or lost as the student told the office)."""
    actor = authorize(actor, Action.SOCIAL_CARD_ISSUE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        card = _college_card(session, actor, card_id)
        result = _block(session, card_id, Mover.COLLEGE, data, now)
        audit.record(
            session,
            actor,
            "cards.social.block",
            subject_person_id=card.person_id,
            organisation_id=card.college_id,
            detail=f"card {card_id}: {data.reason}",
        )
        _record(session, result, actor, now, data.note)
        uow.commit()
        return result


# --- Validators: eligibility and the stop-list ---------------------------------------


VALIDATOR_KIND = "validator"


def _validator(raw_key: str, uow: UnitOfWork) -> None:
    device = accounts.authenticate_device(raw_key, uow=uow)
    if device.kind != VALIDATOR_KIND:
        raise errors.NotAValidator()


def check_social_card_eligibility(
    device_key: str, uid: str, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> SocialCardEligibilityRead:
    """What a transit validator is told of a card UID: a reduced fare or not, and until when.
    One indexed read by UID (after the device's key)."""
    now = now or utcnow()
    try:
        key = rules.parse_uid(uid)
    except errors.InvalidCardUid:
        key = None
    # A unit of work of its own has nothing else to commit: the read then commits by
    # itself, one round trip instead of BEGIN, SELECT and COMMIT.
    own_transaction = uow is None
    uow = uow or UnitOfWork()
    with uow:
        _validator(device_key, uow)
        # A key not checked lately was looked up and its last-seen time written (when
        # due): committed here. A key this process trusts began nothing, so this sends
        # nothing to the database.
        uow.commit()
        row = None
        if key is not None:
            rows = fetch_rows(
                uow.session, _ELIGIBILITY_READ, {"uid": key}, own_transaction=own_transaction
            )
            row = rows[0] if rows else None
        answer = rules.eligibility(
            row.status if row else None, row.valid_until if row else None, city_date(now)
        )
    return SocialCardEligibilityRead(
        uid=key or uid,
        eligible=answer.eligible,
        reason=answer.reason.value,
        valid_until=answer.valid_until,
    )


_ELIGIBILITY_READ = select(CARDS.c.status, CARDS.c.valid_until).where(
    CARDS.c.uid == bindparam("uid")
)


def _signing_key() -> Ed25519PrivateKey:
    settings = get_settings()
    if settings.social_card_signing_key:
        seed = base64.b64decode(settings.social_card_signing_key)
    else:
        # A key of its own, derived one way from the secret: the signature cannot give
        # the secret away, and it changes only when the secret does.
        seed = hashlib.sha256(
            b"infocity social card stop-list\0" + settings.secret_key.encode()
        ).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


def social_stop_list_key() -> SocialStopListKeyRead:
    """The public key that verifies the stop-list's signature (published, no login)."""
    public = _signing_key().public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SocialStopListKeyRead(
        algorithm="Ed25519",
        key_id=_key_id(raw),
        public_key=base64.b64encode(raw).decode(),
        public_key_pem=pem.decode(),
    )


def _key_id(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def _stop_list_body(day: date, key_id: str, generated_at: datetime, uids: list[str]) -> bytes:
    """The stop-list document as signed: compact JSON, keys sorted, UIDs sorted."""
    document = {
        "format": rules.STOP_LIST_FORMAT,
        "city_date": day.isoformat(),
        "generated_at": generated_at.isoformat(timespec="seconds"),
        "key_id": key_id,
        "uids": sorted(uids),
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def export_social_stop_list(
    actor: Principal | None, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> SocialStopListRead:
    """Write the day's signed stop-list (every blocked UID) once; a second run the same
    city day returns the one written."""
    authorize(actor, Action.SOCIAL_CARD_ISSUE)
    now = now or utcnow()
    day = city_date(now)
    key = _signing_key()
    key_id = social_stop_list_key().key_id
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        uids = list(
            session.scalars(
                select(SocialCard.uid).where(
                    SocialCard.status.in_(rules.STOPPED_STATUSES), SocialCard.uid.is_not(None)
                )
            )
        )
        body = _stop_list_body(day, key_id, now, [u for u in uids if u])
        signature = base64.b64encode(key.sign(body)).decode()
        insert = upsert_insert(session)
        dml(
            session,
            insert(SocialStopList)
            .values(
                city_date=day,
                body=body,
                signature=signature,
                key_id=key_id,
                uid_count=len(uids),
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["city_date"]),
        )
        stored = session.scalars(
            select(SocialStopList).where(SocialStopList.city_date == day)
        ).one()
        result = SocialStopListRead.model_validate(stored)
        uow.commit()
        return result


def get_social_stop_list(
    device_key: str, *, uow: UnitOfWork | None = None
) -> SocialStopListDocument:
    """The latest stop-list with its signature, for a validator to hold offline."""
    uow = uow or UnitOfWork()
    with uow:
        _validator(device_key, uow)
        latest = uow.session.scalars(
            select(SocialStopList).order_by(SocialStopList.city_date.desc()).limit(1)
        ).one_or_none()
        if latest is None:
            raise errors.StopListNotReady()
        result = SocialStopListDocument(
            city_date=latest.city_date,
            key_id=latest.key_id,
            signature=latest.signature,
            body=latest.body,
        )
        uow.commit()
        return result
