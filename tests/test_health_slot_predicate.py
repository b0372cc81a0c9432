"""When may a slot be booked? The rule (``rules.why_not_bookable``) and the guarded update
that takes the slot are one predicate: for any slot state, patient's appointments and
"now", the update takes the row exactly when the rule finds nothing to refuse and the
patient is under the specialty's limit. On both databases, for every form of the take
(a free slot or one held for a waiting-list entry; a new booking or a reschedule)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select

from infocity.core.uow import UnitOfWork
from infocity.health import rules
from infocity.health.service import slot_sql
from infocity.health.service.base import APPOINTMENTS, SLOTS
from tests.health_builders import make_clinic, make_patient, make_practitioner

ENTRY = 7  # the waiting-list entry a held slot is held for (no foreign key)
STATUSES = ("free", "free", "held", "booked", "blocked")  # free twice: most cases matter
minutes = st.sampled_from([-1, 0, 1])  # before, exactly at, after "now"


@dataclass(frozen=True)
class Case:
    now: datetime
    status: str
    starts_in: int  # minutes from now
    released_in: int
    held_until_in: int | None
    held_for: int | None
    appointments: list[tuple[str, int]]  # the patient's others: status, minutes from now
    active_limit: int
    hold: bool  # take as the waiting-list entry ENTRY
    replacing: bool  # a reschedule of the patient's first other appointment


cases = st.builds(
    Case,
    now=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - the bounds of a generated aware instant
        max_value=datetime(2040, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    status=st.sampled_from(STATUSES),
    starts_in=minutes,
    released_in=minutes,
    held_until_in=st.none() | minutes,
    held_for=st.sampled_from([None, ENTRY, ENTRY + 1]),
    appointments=st.lists(st.tuples(st.sampled_from(["booked", "cancelled"]), minutes), max_size=2),
    active_limit=st.integers(min_value=1, max_value=2),
    hold=st.booleans(),
    replacing=st.booleans(),
)


def boundary(**changes: object) -> Case:
    """A bookable case (a free, released, future slot; no other appointment), changed."""
    base: dict[str, object] = {
        "now": datetime(2031, 3, 30, 5, 0, tzinfo=UTC),
        "status": "free",
        "starts_in": 1,
        "released_in": -1,
        "held_until_in": None,
        "held_for": None,
        "appointments": [],
        "active_limit": 1,
        "hold": False,
        "replacing": False,
    }
    return Case(**{**base, **changes})  # type: ignore[arg-type]


# The edges, every run: released exactly now (taken), starting exactly now (refused), a
# hold ending exactly now (refused), the limit reached, a reschedule not counting itself.
BOUNDARIES = [
    boundary(),
    boundary(released_in=0),
    boundary(released_in=1),
    boundary(starts_in=0),
    boundary(status="blocked"),
    boundary(status="held", held_for=ENTRY, held_until_in=1),
    boundary(status="held", held_for=ENTRY, held_until_in=1, hold=True),
    boundary(status="held", held_for=ENTRY, held_until_in=0, hold=True),
    boundary(status="held", held_for=ENTRY + 1, held_until_in=1, hold=True),
    boundary(status="free", hold=True),
    boundary(appointments=[("booked", 1)]),
    boundary(appointments=[("booked", 0)]),
    boundary(appointments=[("cancelled", 1)]),
    boundary(appointments=[("booked", 1)], replacing=True),
    boundary(appointments=[("booked", 1), ("booked", 1)], replacing=True),
    boundary(appointments=[("booked", 1)], active_limit=2),
]


def expected_taken(case: Case) -> bool:
    """What the rules say (and ``taking._why_not_taken`` explains when the take refuses)."""
    at = case.now
    status = case.status
    if case.hold:  # a slot held for this entry counts as free while the hold lasts
        held_here = status == "held" and case.held_for == ENTRY
        if not held_here or case.held_until_in is None or case.held_until_in <= 0:
            return False
        status = "free"
    slot = rules.SlotState(
        status, at + timedelta(minutes=case.starts_in), at + timedelta(minutes=case.released_in)
    )
    others = case.appointments[1:] if case.replacing and case.appointments else case.appointments
    active = sum(1 for state, start in others if state == "booked" and start > 0)
    return rules.why_not_bookable(slot, at) is None and active < case.active_limit


def _slot_row(
    case: Case, practitioner: tuple[int, int, int], starts_at: datetime, status: str
) -> dict[str, object]:
    clinic_id, practitioner_id, specialty_id = practitioner
    return {
        "clinic_id": clinic_id,
        "practitioner_id": practitioner_id,
        "specialty_id": specialty_id,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=15),
        "status": status,
        "release_at": case.now - timedelta(days=1),
        "ticket_code": "0101-0001-01",
        "version": 0,
    }


def take(case: Case, person_id: int, target: tuple[int, int, int], other: int) -> bool:
    """Build the case with plain inserts, run the guarded take, roll everything back."""
    now = case.now
    with UnitOfWork() as uow:
        session = uow.session
        row = _slot_row(case, target, now + timedelta(minutes=case.starts_in), case.status)
        row["release_at"] = now + timedelta(minutes=case.released_in)
        # The patient's overlap guard is not what is tested here: the target slot is an
        # instant and the patient's other appointments last a second, a second apart
        # (whole seconds from ``now``), so no two of them overlap.
        row["ends_at"] = row["starts_at"]
        if case.held_until_in is not None:
            row["held_until"] = now + timedelta(minutes=case.held_until_in)
        row["held_for_entry_id"] = case.held_for
        slot_id = session.execute(insert(SLOTS).values(**row).returning(SLOTS.c.id)).scalar_one()
        appointment_ids = []
        for n, (state, start) in enumerate(case.appointments):
            # Another doctor's slots, a second apart: (practitioner, start) is unique.
            starts_at = now + timedelta(minutes=start, seconds=n)
            other_slot = session.execute(
                insert(SLOTS)
                .values(**_slot_row(case, (target[0], other, target[2]), starts_at, "booked"))
                .returning(SLOTS.c.id)
            ).scalar_one()
            appointment_ids.append(
                session.execute(
                    insert(APPOINTMENTS)
                    .values(
                        slot_id=other_slot,
                        clinic_id=target[0],
                        specialty_id=target[2],
                        practitioner_id=other,
                        starts_at=starts_at,
                        ends_at=starts_at + timedelta(seconds=1),
                        ticket_number="0101-0002-01",
                        person_id=person_id,
                        status=state,
                        channel="web",
                        created_at=now - timedelta(days=1),
                    )
                    .returning(APPOINTMENTS.c.id)
                ).scalar_one()
            )
        replacing = case.replacing and bool(appointment_ids)
        taken = slot_sql.take(
            session,
            {
                "slot_id": slot_id,
                "now": now,
                "person_id": person_id,
                "specialty": target[2],
                "active_limit": case.active_limit,
                "hold_entry_id": ENTRY if case.hold else None,
                "replacing_id": appointment_ids[0] if replacing else None,
                "channel": "kiosk",
                "referral_id": None,
                "booked_by_user_id": None,
            },
            held=case.hold,
            excluding=replacing,
        )
        status = session.execute(select(SLOTS.c.status).where(SLOTS.c.id == slot_id)).scalar_one()
        assert (status == "booked") == (taken is not None or case.status == "booked")
        uow.rollback()
        return taken is not None


def test_the_guarded_take_is_the_rule(database: str) -> None:
    clinic = make_clinic()
    therapist = make_practitioner(clinic.id, "therapist")
    colleague = make_practitioner(clinic.id, "therapist")
    person_id = make_patient().principal.person_id
    assert person_id is not None
    target = (clinic.id, therapist.id, therapist.specialty_id)

    @settings(
        max_examples=60,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(case=cases)
    def check(case: Case) -> None:
        assert take(case, person_id, target, colleague.id) == expected_taken(case), case

    for edge in BOUNDARIES:
        check = example(case=edge)(check)
    check()


def test_the_pre_filter_and_the_guard_share_the_predicate() -> None:
    """The self-booking's one read locks the patient only when the take may follow: the
    same compiled predicate as the guard's, not a copy of it."""
    predicate = str(slot_sql.bookable().compile(dialect=slot_sql._PG))
    assert predicate in str(slot_sql.TAKE_FREE_SLOT_PG)
    assert predicate in str(slot_sql.FACTS_BY_POLICY)
    assert predicate in str(slot_sql.FACTS_BY_ID)
