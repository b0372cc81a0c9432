"""Group commit of kiosk bookings: the release rush's requests of one process, booked
together.

In a release rush most of a booking's cost is not the booking: it is the transaction
around it (BEGIN, COMMIT and its flush to disk), the identification count's own round
trip and commit, and the hand-off to the booking thread. A server process therefore
collects the kiosk bookings that arrive within a couple of milliseconds
(``web.group_commit``) and books them here: one statement counts every identification
attempt of the batch, then one transaction books them all and commits once.

Every request is answered exactly as ``booking.book_by_policy`` would answer it alone:

- no slot and no patient comes twice in one transaction: a repeat waits for the next
  round, so it sees the first one's booking as a request arriving later would;
- a round sends its reads in one statement (``slot_sql.FACTS_MANY_BY_POLICY``: every
  request's patient, slot and suspension, the patients locked in id order) and its takes
  in one (``slot_sql.TAKE_MANY_PG``: the slots locked in id order, then the single path's
  guard on each), so it holds the popular slots for two round trips, and two processes'
  batches cannot deadlock on slots or patients; each request is refused from these rows
  by the single path's own checks (``taking._self_book_facts_of``,
  ``_check_before_take``, ``_why_not_taken``), and a refused one leaves nothing behind
  (its patient's quota row is counted by the take, for the slots taken only);
- a booking under a referral is booked alone (its claim may refuse it after the take);
- if the round's transaction fails all the same (a patient's overlapping appointment
  refused by the INSERT, a lost connection), its requests are booked again one by one,
  each in its own transaction, so one bad request cannot fail the others (their
  attempts are not counted twice).

Where the lane's hand-written statements do not run (SQLite, where every write
transaction runs alone anyway), each request is booked by itself: a batch of one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import ratelimit
from infocity.core.db import fetch_rows, session_factory, utcnow
from infocity.core.errors import AppError
from infocity.core.i18n import use_locale
from infocity.core.outbox import Recipient
from infocity.core.uow import UnitOfWork
from infocity.health.metrics import counted
from infocity.health.schemas import AnonymousBookingCreate, AppointmentRead
from infocity.health.service import slot_sql
from infocity.health.service.base import _appointment_read, _doctors, _notify_booked, _queue
from infocity.health.service.booking import (
    IDENTIFY_WINDOW_SECONDS,
    _book_by_policy,
    _identification_limits,
    book_by_policy,
)
from infocity.health.service.taking import (
    _check_before_take,
    _self_book_facts_of,
    _SelfBookFacts,
    _why_not_taken,
)

logger = logging.getLogger(__name__)


def books_in_batches() -> bool:
    """Whether this database books a batch in one transaction (where the lane's
    hand-written statements run); elsewhere a batch is booked one request at a time."""
    session = session_factory()()  # no connection is made to ask
    try:
        return slot_sql.hand_written(session)
    finally:
        session.close()


def warm_up_booking() -> None:
    """Run, once, the ORM statements by which a successful kiosk booking tells its
    patient (a server process starting), so that SQLAlchemy compiles and caches them now
    and not in the first bookings of a release rush, which paid for it while their batch
    held its slots (docs/benchmarks.md, section 2). The reads look up id 0 (none), the
    message is queued to no one and rolled back: nothing is read or left behind. Only
    where batches are booked (PostgreSQL), and a database that cannot be reached now is
    no reason not to start: the first bookings compile them then."""
    if not books_in_batches():
        return
    uow = UnitOfWork()
    try:
        with uow:  # leaving it rolls back: the warm-up's message is never stored
            session = uow.session
            # The batch's reads (``_notify_booked``) and the single path's (``_notify``).
            _doctors(session, [0])
            accounts.recipients_for_users(session, [0])
            accounts.users_to_notify(session, 0)
            accounts.person_by_id(session, 0)
            # Not found, as intended: the statement ran all the same.
            with suppress(AppError):
                city.get_organisation(0, uow=uow)
            with suppress(AppError):
                accounts.recipient_for_user(session, 0)
            # The message's template and the outbox's INSERT, which the ORM compiles at
            # the flush: once for one message, once for several (an executemany).
            nobody = Recipient(user_id=None, email="warm-up@invalid")
            context = _WARM_UP_CONTEXT | {"starts_at": utcnow()}
            for count in (1, 2):
                for _ in range(count):
                    _queue(session, nobody, "appointment_booked", context)
                session.flush()
    except SQLAlchemyError:
        logger.warning("booking warm-up skipped: the database did not answer", exc_info=True)


# What a booked message says, for the warm-up (never sent).
_WARM_UP_CONTEXT: dict[str, Any] = {
    "patient_name": "-",
    "specialty": "-",
    "specialty_en": "-",
    "practitioner": "-",
    "room": "-",
    "clinic": "-",
    "clinic_en": "-",
    "address": "-",
    "ticket": "-",
}


@dataclass(frozen=True)
class KioskBooking:
    """One kiosk booking of a batch: what ``book_by_policy`` takes, and the language its
    refusal is written in."""

    data: AnonymousBookingCreate
    ip: str | None = None
    locale: str | None = None


# What each request of a batch gets: its appointment, or the refusal (or the error) that
# ``book_by_policy`` would have raised.
Outcome = AppointmentRead | Exception


@counted("book")
def _answered(step: Callable[[], AppointmentRead]) -> AppointmentRead:
    """Run one request's step, counted in the booking metrics as ``book_by_policy`` is."""
    return step()


def _refused(exc: Exception) -> Callable[[], AppointmentRead]:
    def step() -> AppointmentRead:
        raise exc

    return step


def _given(answer: AppointmentRead) -> Callable[[], AppointmentRead]:
    def step() -> AppointmentRead:
        return answer

    return step


def _outcome(request: KioskBooking, step: Callable[[], AppointmentRead]) -> Outcome:
    with use_locale(request.locale):
        try:
            return _answered(step)
        except AppError as exc:
            return exc


def book_many_by_policy(
    requests: Sequence[KioskBooking], *, now: datetime | None = None
) -> list[Outcome]:
    """Book kiosk bookings together (one count, one transaction a round): each request's
    appointment or refusal, in order, exactly as ``book_by_policy`` answers it alone."""
    now = now or utcnow()
    uow = UnitOfWork()
    with uow:
        if len(requests) > 1 and slot_sql.hand_written(uow.session):
            return _book_batch(uow, requests, now)
    return [_alone(request, now) for request in requests]


def _book_batch(uow: UnitOfWork, requests: Sequence[KioskBooking], now: datetime) -> list[Outcome]:
    """The batch on PostgreSQL: one count, then rounds of one transaction each."""
    outcomes: list[Outcome | None] = [None] * len(requests)
    policies: dict[int, str] = {}
    for index, request in enumerate(requests):
        try:
            policies[index] = accounts.normalize_oms_policy(request.data.oms_policy)
        except AppError as exc:
            outcomes[index] = _outcome(request, _refused(exc))
    counted_ones = sorted(policies)
    refusals = ratelimit.hit_each(
        uow.session,
        [_identification_limits(policies[i], requests[i].ip) for i in counted_ones],
        window_seconds=IDENTIFY_WINDOW_SECONDS,
        now=now,
    )
    admitted: list[int] = []
    for index, refusal in zip(counted_ones, refusals, strict=True):
        if refusal is None:
            admitted.append(index)
        else:
            outcomes[index] = _outcome(requests[index], _refused(refusal))
    for round_ in _rounds(requests, policies, admitted):
        _book_round(uow, requests, policies, round_, outcomes, now)
    return [outcome if outcome is not None else RuntimeError("unanswered") for outcome in outcomes]


def _alone(request: KioskBooking, now: datetime) -> Outcome:
    """One request booked by itself, the single path from its count on."""
    with use_locale(request.locale):
        try:
            return book_by_policy(request.data, ip=request.ip, now=now)
        except AppError as exc:
            return exc


def _rounds(
    requests: Sequence[KioskBooking], policies: dict[int, str], admitted: list[int]
) -> list[list[int]]:
    """The admitted requests in rounds of distinct slots and distinct patients: a request
    goes to the round after the last one holding its slot or its patient, so of two
    requests that share either, the earlier is booked first, as they came."""
    rounds: list[list[int]] = []
    last_of_slot: dict[int, int] = {}
    last_of_patient: dict[str, int] = {}
    for index in admitted:
        slot_id, policy = requests[index].data.slot_id, policies[index]
        number = 1 + max(last_of_slot.get(slot_id, -1), last_of_patient.get(policy, -1))
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(index)
        last_of_slot[slot_id] = last_of_patient[policy] = number
    return rounds


def _book_round(
    uow: UnitOfWork,
    requests: Sequence[KioskBooking],
    policies: dict[int, str],
    round_: list[int],
    outcomes: list[Outcome | None],
    now: datetime,
) -> None:
    """Book one round in one transaction (its reads in one statement, its takes in
    another); if the transaction fails, book its requests one by one. A booking under a
    referral (rare in a rush) is booked alone: its claim may refuse it after the take."""
    together = [index for index in round_ if requests[index].data.referral_id is None]
    answers: dict[int, Outcome]
    try:
        answers = _book_together(uow, requests, policies, together, now)
        uow.commit()
    except Exception:
        uow.rollback()
        answers = {index: _one_by_one(requests[index], policies[index], now) for index in together}
    for index in round_:
        if index not in answers:
            answers[index] = _one_by_one(requests[index], policies[index], now)
    for index, answer in answers.items():
        outcomes[index] = answer


def _book_together(
    uow: UnitOfWork,
    requests: Sequence[KioskBooking],
    policies: dict[int, str],
    round_: list[int],
    now: datetime,
) -> dict[int, Outcome]:
    """The round's requests (distinct slots, distinct patients, no referral) in the
    caller's transaction: one statement reads every request's facts and locks its
    patient, one takes every slot still wanted; each answered as ``_book_by_policy``."""
    session = uow.session
    rows = fetch_rows(
        session,
        slot_sql.FACTS_MANY_BY_POLICY,
        {
            "indexes": round_,
            "oms_policies": [policies[index] for index in round_],
            "birth_dates": [requests[index].data.birth_date for index in round_],
            "slot_ids": [requests[index].data.slot_id for index in round_],
            "now": now,
        },
    )
    by_index = {row.idx: row for row in rows}
    answers: dict[int, Outcome] = {}
    wanted: dict[int, _SelfBookFacts] = {}
    for index in round_:
        data = requests[index].data
        with use_locale(requests[index].locale):
            try:
                facts = _self_book_facts_of(
                    by_index.get(index), by_policy=True, birth_date=data.birth_date
                )
                _check_before_take(
                    facts.ctx, facts.patient, channel=data.channel, has_referral=False,
                    held=False, now=now,
                )  # fmt: skip
                wanted[index] = facts
            except AppError as exc:
                answers[index] = _outcome(requests[index], _refused(exc))
    taken = _take_together(session, requests, wanted, now)
    booked: list[tuple[AppointmentRead, str, list[int] | None]] = []
    for index, facts in wanted.items():
        request = requests[index]
        row = taken.get(request.data.slot_id)
        if row is None:
            with use_locale(request.locale):
                refusal = _why_not_taken(session, facts.ctx, facts.patient.person_id, now, None)
            answers[index] = _outcome(request, _refused(refusal))
            continue
        result = _appointment_read(row)
        booked.append((result, facts.patient.first_name, facts.recipients))
        answers[index] = _outcome(request, _given(result))
    _notify_booked(uow, booked)
    return answers


def _take_together(
    session: Session,
    requests: Sequence[KioskBooking],
    wanted: dict[int, _SelfBookFacts],
    now: datetime,
) -> dict[int, Any]:
    """The guarded takes of the wanted slots in one statement: the appointment of each
    slot taken, by slot id."""
    if not wanted:
        return {}
    order = sorted(wanted, key=lambda index: requests[index].data.slot_id)
    rows = fetch_rows(
        session,
        slot_sql.TAKE_MANY_PG,
        {
            "slot_ids": [requests[index].data.slot_id for index in order],
            "person_ids": [wanted[index].patient.person_id for index in order],
            "specialties": [wanted[index].ctx.specialty_id for index in order],
            "active_limits": [wanted[index].ctx.active_limit for index in order],
            "channels": [requests[index].data.channel for index in order],
            "now": now,
        },
    )
    return {row.slot_id: row for row in rows}


def _one_by_one(request: KioskBooking, policy: str, now: datetime) -> Outcome:
    """A request of a failed round, in a transaction of its own (already counted)."""

    def step() -> AppointmentRead:
        with UnitOfWork() as own:
            result = _book_by_policy(own, request.data, policy, now)
            own.commit()
            return result

    try:
        return _outcome(request, step)
    except Exception as exc:
        return exc
