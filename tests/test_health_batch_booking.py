"""Group commit of kiosk bookings, on SQLite and PostgreSQL: a batch answers each request
exactly as booking it alone would, and leaves the same things behind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.exc import OperationalError

from infocity.core.db import get_engine
from infocity.core.errors import AppError
from infocity.core.models import OutboxMessage, RateLimitCounter
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Appointment
from infocity.health.schemas import AnonymousBookingCreate, AppointmentRead
from infocity.health.service import base, batch_booking
from tests.health_builders import (
    attach,
    get_slot,
    health_snapshot,
    make_clinic,
    make_patient,
    make_policy,
    make_practitioner,
    make_slots,
)

BORN = date(1975, 3, 9)


def make_kiosk_world() -> dict[str, Any]:
    """A polyclinic, a therapist's four slots tomorrow and four attached patients (their
    policy numbers)."""
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    slots = make_slots(therapist.id)
    policies = []
    for _ in range(4):
        policy = make_policy()
        patient = make_patient(BORN, oms_policy=policy)
        attach(patient.person_id, clinic.id)  # type: ignore[arg-type]
        policies.append(policy)
    return {"slots": slots, "patients": policies}


def scenario(world: dict[str, Any]) -> list[service.KioskBooking]:
    """Two want the same slot, one is not who they say, one names a referral no one was
    given, one patient comes twice, one policy number is malformed."""
    slots, (p1, p2, p3, p4) = world["slots"], world["patients"]

    def ask(patient: str, slot: int, born: date = BORN, **extra: Any) -> service.KioskBooking:
        data = AnonymousBookingCreate(
            oms_policy=patient,
            birth_date=born,
            slot_id=slots[slot],
            **extra,
        )
        return service.KioskBooking(data, ip=f"10.0.0.{len(asked) + 1}", locale="en")

    asked: list[service.KioskBooking] = []
    wanted: list[tuple[str, int, date, dict[str, Any]]] = [
        (p1, 0, BORN, {}),
        (p2, 0, BORN, {}),  # the same slot: taken by the first
        (p3, 1, date(1975, 3, 10), {}),  # wrong birth date
        (p4, 1, BORN, {"referral_id": 10**9}),  # a referral no one was given
        (p4, 2, BORN, {}),  # the same patient again, without it
        ("7700-12", 3, BORN, {}),  # malformed policy
        (p1, 3, BORN, {}),  # over the therapist's limit of one
    ]
    for policy, slot, born, extra in wanted:
        asked.append(ask(policy, slot, born, **extra))
    return asked


def answers(outcomes: list[Any], world: dict[str, Any]) -> list[tuple[str, int | None]]:
    """What each caller is told: booked (which slot) or the refusal's code."""
    told: list[tuple[str, int | None]] = []
    for outcome in outcomes:
        if isinstance(outcome, AppointmentRead):
            told.append(("booked", world["slots"].index(outcome.slot_id)))
        else:
            assert isinstance(outcome, AppError), outcome
            told.append((outcome.code, None))
    return told


def one_by_one(requests: list[service.KioskBooking]) -> list[Any]:
    outcomes: list[Any] = []
    for request in requests:
        try:
            outcomes.append(service.book_by_policy(request.data, ip=request.ip))
        except AppError as exc:
            outcomes.append(exc)
    return outcomes


def changes(run: Callable[[], list[Any]]) -> tuple[list[Any], dict[str, Any]]:
    """The outcomes of ``run`` and how much it added of each thing health writes."""
    before = health_snapshot()
    outcomes = run()
    after = health_snapshot()
    added = {
        "appointments": len(after["appointments"]) - len(before["appointments"]),
        "booked_slots": sum(s.status == "booked" for s in after["slots"])
        - sum(s.status == "booked" for s in before["slots"]),
        "quotas": after["quotas"] - before["quotas"],
        "outbox": after["outbox"] - before["outbox"],
    }
    return outcomes, added


@pytest.fixture
def two_worlds(database: str) -> tuple[dict[str, Any], dict[str, Any]]:
    return make_kiosk_world(), make_kiosk_world()


def test_a_batch_answers_each_request_as_booking_it_alone(
    two_worlds: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    alone_world, batch_world = two_worlds
    alone, alone_added = changes(lambda: one_by_one(scenario(alone_world)))
    batched, batch_added = changes(lambda: service.book_many_by_policy(scenario(batch_world)))

    told = answers(batched, batch_world)
    assert told == answers(alone, alone_world)
    assert told == [
        ("booked", 0),
        ("slot_taken", None),
        ("patient_not_found", None),
        ("referral_not_found", None),
        ("booked", 2),
        ("invalid_oms_policy", None),
        ("active_limit_reached", None),
    ]
    assert batch_added == alone_added  # appointments, slots, quota counts, messages
    assert batch_added["appointments"] == 2
    assert get_slot(batch_world["slots"][1]).status == "free"  # the refused ones left nothing


def test_every_attempt_of_a_batch_is_counted_once(database: str) -> None:
    world = make_kiosk_world()
    counted = select(func.coalesce(func.sum(RateLimitCounter.count), 0))
    with UnitOfWork() as uow:
        before = uow.session.execute(counted).scalar_one()
    service.book_many_by_policy(scenario(world))
    with UnitOfWork() as uow:
        after = uow.session.execute(counted).scalar_one()
    # Two counters (the policy at the terminal, the address) for each well-formed policy.
    assert after - before == 2 * 6


def test_a_failed_batch_is_booked_one_by_one(
    database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_kiosk_world()
    p1, p2, p3, p4 = world["patients"]
    requests = [
        service.KioskBooking(
            AnonymousBookingCreate(oms_policy=p, birth_date=BORN, slot_id=slot),
            ip=f"10.1.0.{n}",
        )
        for n, (p, slot) in enumerate(zip((p1, p2, p3, p4), world["slots"], strict=True))
    ]
    real = batch_booking._take_together
    failed: list[int] = []

    def fails_once(*args: Any) -> Any:
        if not failed:
            failed.append(1)  # as a deadlock would end the batch's transaction
            raise OperationalError("booking", {}, Exception("deadlock detected"))
        return real(*args)

    monkeypatch.setattr(batch_booking, "_take_together", fails_once)
    outcomes = service.book_many_by_policy(requests)

    assert [type(o) for o in outcomes] == [AppointmentRead] * 4
    with UnitOfWork() as uow:
        booked = uow.session.scalar(
            select(func.count())
            .select_from(Appointment)
            .where(Appointment.slot_id.in_(world["slots"]), Appointment.status == "booked")
        )
        told = uow.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.kind == "appointment_booked")
        )
    assert booked == 4
    assert told is not None
    assert told >= 4
    # On PostgreSQL the batch's transaction failed and its requests were booked again
    # alone; SQLite books a batch one request at a time, so nothing failed together.
    assert bool(failed) == (not database.startswith("sqlite"))


def test_a_request_the_database_refuses_fails_no_other_of_its_batch(database: str) -> None:
    """The patient's overlap guard refuses the INSERT of the batch's one take statement:
    the batch is booked again one by one, and each caller is told what alone tells them."""

    def world_and_requests() -> tuple[dict[str, Any], list[service.KioskBooking]]:
        world = make_kiosk_world()
        clinic_id = get_slot(world["slots"][0]).clinic_id
        surgeon_slots = make_slots(make_practitioner(clinic_id, "surgeon").id)
        p1, p2, p3, _ = world["patients"]
        # p1 is already at the surgeon's at the hour of the therapist's first slot.
        service.book_by_policy(
            AnonymousBookingCreate(oms_policy=p1, birth_date=BORN, slot_id=surgeon_slots[0])
        )
        requests = [
            service.KioskBooking(
                AnonymousBookingCreate(oms_policy=p, birth_date=BORN, slot_id=world["slots"][n]),
                ip=f"10.2.0.{n}",
                locale="en",
            )
            for n, p in enumerate((p1, p2, p3))
        ]
        return world, requests

    alone_world, alone_requests = world_and_requests()
    batch_world, batch_requests = world_and_requests()
    alone, alone_added = changes(lambda: one_by_one(alone_requests))
    batched, batch_added = changes(lambda: service.book_many_by_policy(batch_requests))

    told = answers(batched, batch_world)
    assert told == answers(alone, alone_world)
    assert told == [("patient_busy", None), ("booked", 1), ("booked", 2)]
    assert batch_added == alone_added
    assert get_slot(batch_world["slots"][0]).status == "free"


def test_a_batch_queues_the_messages_booking_alone_would(database: str) -> None:
    world = make_kiosk_world()
    requests = [
        service.KioskBooking(
            AnonymousBookingCreate(oms_policy=p, birth_date=BORN, slot_id=slot),
            ip=f"10.2.0.{n}",
        )
        for n, (p, slot) in enumerate(zip(world["patients"][:3], world["slots"][:3], strict=True))
    ]
    outcomes = service.book_many_by_policy(requests)
    assert [type(o) for o in outcomes] == [AppointmentRead] * 3

    def booked_messages(uow: UnitOfWork) -> dict[str, tuple[Any, ...]]:
        rows = uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "appointment_booked")
        )
        return {m.id: (m.user_id, m.channel, m.address, m.locale, m.subject, m.body) for m in rows}

    with UnitOfWork() as uow:
        queued = booked_messages(uow)
        for appointment in outcomes:  # what the single path queues, never committed
            assert isinstance(appointment, AppointmentRead)
            base._notify(uow, appointment, "appointment_booked")
        uow.session.flush()
        alone = {k: v for k, v in booked_messages(uow).items() if k not in queued}
    assert len(queued) >= 3
    assert sorted(queued.values()) == sorted(alone.values())


# What the messages of a booking read and write.
MESSAGE_TABLES = ("practitioners", "organisations", "users", "outbox_messages")


def test_a_started_process_has_compiled_what_a_booking_tells_its_patient(database: str) -> None:
    if database.startswith("sqlite"):
        pytest.skip("the warm-up runs where batches are booked (PostgreSQL)")
    world = make_kiosk_world()
    engine = get_engine()
    # A process that has just started: no statement compiled yet.
    assert engine._compiled_cache is not None
    engine._compiled_cache.clear()
    OutboxMessage.__mapper__._compiled_cache.clear()
    before = health_snapshot()
    service.warm_up_booking()
    assert health_snapshot() == before  # the warm-up left nothing behind

    compiled: list[str] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: Any
    ) -> None:
        if context.cache_hit == CacheStats.CACHE_MISS:
            compiled.append(statement)

    event.listen(engine, "after_cursor_execute", record)
    try:
        requests = [
            service.KioskBooking(AnonymousBookingCreate(oms_policy=p, birth_date=BORN, slot_id=s))
            for p, s in zip(world["patients"][:2], world["slots"][:2], strict=True)
        ]
        outcomes = service.book_many_by_policy(requests)
    finally:
        event.remove(engine, "after_cursor_execute", record)
    assert [type(o) for o in outcomes] == [AppointmentRead] * 2
    told = [s for s in compiled if any(t in s for t in MESSAGE_TABLES)]
    assert told == []  # the messages' reads and their INSERT were compiled at start
