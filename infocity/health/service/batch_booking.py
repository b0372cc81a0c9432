"""Group commit of kiosk bookings: the release rush's requests of one process, booked
together.

In a release rush most of a booking's cost is not the booking: it is the transaction
around it (BEGIN, COMMIT and its flush to disk), the identification count's own round
trip and commit, and the hand-off to the booking thread. A server process therefore
collects the kiosk bookings that arrive within a couple of milliseconds
(``web.group_commit``) and books them here: one statement counts every identification
attempt of the batch, then one transaction books them all and commits once.

Every request is answered exactly as ``booking.book_by_policy`` would answer it alone:

- each request runs the single path's own steps (``booking._book_by_policy``) inside a
  savepoint, so a refused request leaves nothing behind, as its own rolled-back
  transaction would;
- no slot and no patient comes twice in one transaction: a repeat waits for the next
  round, so it sees the first one's booking as a request arriving later would;
- the requests of a round take their slots in id order, so two processes' batches lock
  slots in the same order and cannot deadlock on them;
- if the round's transaction fails all the same (a deadlock over a patient, a lost
  connection), its requests are booked again one by one, each in its own transaction,
  so one bad request cannot fail the others (their attempts are not counted twice).

Where the lane's hand-written statements do not run (SQLite, where every write
transaction runs alone anyway), each request is booked by itself: a batch of one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from infocity.accounts import service as accounts
from infocity.core import ratelimit
from infocity.core.db import session_factory, utcnow
from infocity.core.errors import AppError
from infocity.core.i18n import use_locale
from infocity.core.uow import UnitOfWork
from infocity.health.metrics import counted
from infocity.health.schemas import AnonymousBookingCreate, AppointmentRead
from infocity.health.service import slot_sql
from infocity.health.service.booking import (
    IDENTIFY_WINDOW_SECONDS,
    _book_by_policy,
    _identification_limits,
    book_by_policy,
)


def books_in_batches() -> bool:
    """Whether this database books a batch in one transaction (where the lane's
    hand-written statements run); elsewhere a batch is booked one request at a time."""
    session = session_factory()()  # no connection is made to ask
    try:
        return slot_sql.hand_written(session)
    finally:
        session.close()


_SAVEPOINT = "kiosk_booking"


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
    """Book one round in one transaction (slots taken in id order), each request in a
    savepoint; if the transaction fails, book its requests one by one."""
    answers: dict[int, Outcome] = {}
    try:
        for index in sorted(round_, key=lambda i: requests[i].data.slot_id):
            answers[index] = _in_savepoint(uow, requests[index], policies[index], now)
        uow.commit()
    except Exception:
        uow.rollback()
        answers = {index: _one_by_one(requests[index], policies[index], now) for index in round_}
    for index, answer in answers.items():
        outcomes[index] = answer


def _in_savepoint(uow: UnitOfWork, request: KioskBooking, policy: str, now: datetime) -> Outcome:
    """One request of a round, inside a savepoint that a refusal rolls back to. Never
    released: the next request's savepoint of the same name hides it, and the commit ends
    them all, so a request costs one round trip more than its statements, not two."""
    connection = uow.session.connection()
    connection.exec_driver_sql(f"SAVEPOINT {_SAVEPOINT}")

    def step() -> AppointmentRead:
        try:
            return _book_by_policy(uow, request.data, policy, now)
        except AppError:
            # The refused request leaves nothing, as alone (the most recent savepoint of
            # the name is its own).
            connection.exec_driver_sql(f"ROLLBACK TO SAVEPOINT {_SAVEPOINT}")
            raise

    return _outcome(request, step)


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
