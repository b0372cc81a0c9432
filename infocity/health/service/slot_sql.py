"""The booking lane's SQL, built from one predicate: when a slot may be taken.

``rules.why_not_bookable`` says it in Python (to explain a refusal); ``bookable`` says
it in SQL, once, and every statement that takes a slot or reads before the take is
built from it: the guarded UPDATE (SQLAlchemy, any database), the same UPDATE feeding
the appointment's INSERT in one PostgreSQL statement, and the self-booking's one-read
pre-filter. Statements are built and compiled when this module is imported: the hot
path runs them prepared through ``core.db.fetch_rows`` without constructing or
cache-keying anything per call.

Which database runs which form is decided here (``hand_written``), not in use cases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Row,
    String,
    TextualSelect,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    null,
    select,
    text,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts.read_model import PERSON_CONTACTS, PERSON_FACTS
from infocity.core.db import UTCDateTime, fetch_rows
from infocity.health import rules
from infocity.health.rules import AppointmentStatus, Move
from infocity.health.service.base import APPOINTMENT_COLUMNS, APPOINTMENTS, SLOTS

# The parameters of the lane's statements (one object per name, shared by every use).
NOW = bindparam("now", type_=UTCDateTime())
SLOT_ID = bindparam("slot_id", type_=BigInteger())
PERSON_ID = bindparam("person_id", type_=BigInteger())
# Not "specialty_id": a bound name equal to a column of the updated table is taken as a SET.
SPECIALTY_ID = bindparam("specialty", type_=BigInteger())
ACTIVE_LIMIT = bindparam("active_limit", type_=Integer())
HOLD_ENTRY_ID = bindparam("hold_entry_id", type_=BigInteger())
REPLACING_ID = bindparam("replacing_id", type_=BigInteger())
CHANNEL = bindparam("channel", type_=String())
REFERRAL_ID = bindparam("referral_id", type_=BigInteger())
BOOKED_BY_USER_ID = bindparam("booked_by_user_id", type_=BigInteger())

# Constants are written into the SQL, not bound: the compiled text must need no
# parameter but the named ones above.
# The take is ``Move.SLOT_BOOK`` (or ``SLOT_BOOK_HELD``) of ``rules.TRANSITIONS``.
(_FREE_STATE,) = rules.expected(Move.SLOT_BOOK)
(_HELD_STATE,) = rules.expected(Move.SLOT_BOOK_HELD)
_FREE: ColumnElement[str] = literal_column(f"'{_FREE_STATE}'")
_HELD: ColumnElement[str] = literal_column(f"'{_HELD_STATE}'")
_TAKEN: ColumnElement[str] = literal_column(f"'{rules.leads_to(Move.SLOT_BOOK)}'")
_BOOKED: ColumnElement[str] = literal_column(f"'{AppointmentStatus.BOOKED}'")

# Compiles with ``:name`` parameters and no casts of its own, so the text can be wrapped
# in ``text()`` again.
_PG = PGDialect(paramstyle="named")  # type: ignore[no-untyped-call]


def hand_written(session: Session) -> bool:
    """Whether this session's database runs the lane's one-statement forms (PostgreSQL:
    data-modifying CTEs, prepared statements); elsewhere the same predicate runs as
    separate SQLAlchemy statements."""
    return session.get_bind().dialect.name == "postgresql"


def bookable(*, held: bool = False) -> ColumnElement[bool]:
    """The slot may be taken at ``:now`` — ``rules.why_not_bookable(...) is None`` in SQL.

    ``held``: the slot is held for the waiting-list entry ``:hold_entry_id`` and the hold
    lasts (such a slot counts as free for that entry only)."""
    if held:
        state = and_(
            SLOTS.c.status == _HELD,
            SLOTS.c.held_for_entry_id == HOLD_ENTRY_ID,
            SLOTS.c.held_until > NOW,
        )
    else:
        state = SLOTS.c.status == _FREE
    return and_(state, SLOTS.c.release_at <= NOW, SLOTS.c.starts_at > NOW)


def active_count(
    *, excluding: bool = False, person: Any = PERSON_ID, specialty: Any = SPECIALTY_ID
) -> Any:
    """The patient's (``:person_id``) booked, future appointments of ``:specialty``,
    a scalar subquery; ``excluding``: not counting ``:replacing_id`` (a reschedule).
    ``person``, ``specialty``: other expressions for them (a batch's columns)."""
    conditions = [
        APPOINTMENTS.c.person_id == person,
        APPOINTMENTS.c.specialty_id == specialty,
        APPOINTMENTS.c.status == _BOOKED,
        APPOINTMENTS.c.starts_at > NOW,
    ]
    if excluding:
        conditions.append(APPOINTMENTS.c.id != REPLACING_ID)
    return select(func.count()).select_from(APPOINTMENTS).where(*conditions).scalar_subquery()


def _guard(*, held: bool, excluding: bool) -> Any:
    """The guarded UPDATE: it takes the slot ``:slot_id`` only if it is bookable and the
    patient is under the specialty's limit (``:active_limit``)."""
    return (
        update(SLOTS)
        .where(
            SLOTS.c.id == SLOT_ID,
            bookable(held=held),
            active_count(excluding=excluding) < ACTIVE_LIMIT,
        )
        .values(
            status=_TAKEN,
            held_until=null(),
            held_for_entry_id=null(),
            version=SLOTS.c.version + literal_column("1"),
        )
        .returning(
            SLOTS.c.id,
            SLOTS.c.clinic_id,
            SLOTS.c.specialty_id,
            SLOTS.c.practitioner_id,
            SLOTS.c.starts_at,
            SLOTS.c.ends_at,
            SLOTS.c.ticket_code,
        )
    )


def _pg_text(element: Any, expected: set[str]) -> str:
    """``element`` as PostgreSQL text with ``:name`` parameters (compiled once)."""
    compiled = element.compile(dialect=_PG)
    if set(compiled.binds) != expected:  # an unnamed constant would go unbound
        raise AssertionError(f"unexpected parameters {sorted(compiled.binds)}")
    return str(compiled)


# The columns of the appointment the take inserts, in the order its SELECT gives them.
_TAKE_INSERTS = (
    "slot_id",
    "clinic_id",
    "specialty_id",
    "practitioner_id",
    "starts_at",
    "ends_at",
    "ticket_number",
    "person_id",
    "status",
    "channel",
    "referral_id",
    "rescheduled_from_id",
    "booked_by_user_id",
    "created_at",
)


def _take_pg(*, held: bool, excluding: bool) -> TextualSelect:
    """The guarded UPDATE's RETURNING feeding the appointment's INSERT: one round trip."""
    taken = _guard(held=held, excluding=excluding).cte("taken")
    statement = (
        insert(APPOINTMENTS)
        .from_select(
            list(_TAKE_INSERTS),
            select(
                taken.c.id,
                taken.c.clinic_id,
                taken.c.specialty_id,
                taken.c.practitioner_id,
                taken.c.starts_at,
                taken.c.ends_at,
                taken.c.ticket_code,
                PERSON_ID,
                _BOOKED,
                CHANNEL,
                sql_cast(REFERRAL_ID, BigInteger()),
                sql_cast(REPLACING_ID, BigInteger()) if excluding else null(),
                sql_cast(BOOKED_BY_USER_ID, BigInteger()),
                NOW,
            ),
        )
        .add_cte(taken)
        .returning(*APPOINTMENT_COLUMNS)
    )
    expected = {"now", "slot_id", "person_id", "specialty", "active_limit", "channel"}
    expected |= {"referral_id", "booked_by_user_id"}
    expected |= {"hold_entry_id"} if held else set()
    expected |= {"replacing_id"} if excluding else set()
    return (
        text(_pg_text(statement, expected))
        .bindparams(bindparam("now", type_=UTCDateTime()))
        .columns(*APPOINTMENT_COLUMNS)
    )


_VARIANTS = [(held, excluding) for held in (False, True) for excluding in (False, True)]
GUARDS = {variant: _guard(held=variant[0], excluding=variant[1]) for variant in _VARIANTS}
TAKES_PG = {variant: _take_pg(held=variant[0], excluding=variant[1]) for variant in _VARIANTS}
# The plain booking (no hold, nothing replaced): the statement of a release rush.
TAKE_FREE_SLOT_PG = TAKES_PG[False, False]


def take(session: Session, params: dict[str, Any], *, held: bool, excluding: bool) -> Any:
    """Run the guarded take with ``params`` (as named above): on PostgreSQL the slot and
    the appointment in one prepared statement (the appointment's row, or None); elsewhere
    only the guarded UPDATE (the taken slot's row, or None; the caller inserts)."""
    if hand_written(session):
        rows = fetch_rows(session, TAKES_PG[held, excluding], params)
        return rows[0] if rows else None
    row: Row[Any] | None = session.execute(GUARDS[held, excluding], params).one_or_none()
    return row


# The guard against a patient's overlapping appointments (migration 0011): checked by
# the appointment's INSERT itself, so it costs the booking no round trip.
PATIENT_BUSY_CONSTRAINT = "ex_appointments_patient_busy"  # PostgreSQL: exclusion constraint
PATIENT_BUSY_MESSAGE = "patient_busy"  # SQLite: the trigger's RAISE(ABORT, ...)


def patient_busy(exc: IntegrityError) -> bool:
    """Whether the refused write is the patient's overlapping appointment (and not, say,
    the backstop on the slot's active appointment)."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:  # psycopg: the violated constraint is named
        return getattr(diag, "constraint_name", None) == PATIENT_BUSY_CONSTRAINT
    return PATIENT_BUSY_MESSAGE in str(exc.orig)


# The appointment's foreign key to its referral: a referral number no one was given.
REFERRAL_KEY_CONSTRAINT = "fk_appointments_referral_id_referrals"  # PostgreSQL: named
FOREIGN_KEY_MESSAGE = "FOREIGN KEY constraint failed"  # SQLite: unnamed


def referral_missing(exc: IntegrityError) -> bool:
    """Whether the refused INSERT named a referral that does not exist (the only key of
    the appointment a caller chooses besides the slot)."""
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:
        return getattr(diag, "constraint_name", None) == REFERRAL_KEY_CONSTRAINT
    return FOREIGN_KEY_MESSAGE in str(exc.orig)


# The patient's lock (``taking._lock_patient``) on PostgreSQL: every booking of a patient,
# whatever the specialty, waits for the one in progress (a transaction-scoped advisory
# lock keyed by the person's id: this module owns the single-key advisory lock space),
# then upserts the specialty's quota row as before. Why: two same-time bookings of one
# patient inserting at once would each wait on the other's row at the exclusion
# constraint, and PostgreSQL would end one with a deadlock error instead of the clear
# ``patient_busy``. One statement, as before.
PERSON_LOCK = "pg_advisory_xact_lock(CAST({person} AS BIGINT))"
LOCK_PATIENT_PG = text(
    """WITH person_lock AS (SELECT pg_advisory_xact_lock(CAST(:person_id AS BIGINT)))
INSERT INTO booking_quotas (person_id, specialty_id, bookings, updated_at)
SELECT :person_id, :specialty, 1, :now FROM person_lock
ON CONFLICT (person_id, specialty_id)
DO UPDATE SET bookings = booking_quotas.bookings + 1, updated_at = excluded.updated_at"""
).bindparams(bindparam("now", type_=UTCDateTime()))


# The self-booking's reads in one round trip on PostgreSQL: the patient (by policy or
# id, from the register's view), the slot's context as ``taking._slot_context``, the
# patient's suspension as ``_refuse_if_suspended``, the accounts to notify, and the
# patient's lock as ``LOCK_PATIENT_PG`` (a data-modifying CTE; the take that counts runs in
# a later statement, so it sees a concurrent booking of the same patient that committed
# while we waited).
_SELF_BOOK_FACTS_SQL = """WITH p AS ({person}),
patient_lock AS (
    INSERT INTO booking_quotas (person_id, specialty_id, bookings, updated_at)
    SELECT p.id, slots.specialty_id, 1, :now FROM p JOIN slots ON slots.id = :slot_id
    CROSS JOIN LATERAL (SELECT {person_lock}) AS person_lock
    WHERE {birth_ok}
      -- Only when the take may follow, as in the step-by-step path: a refusal from what
      -- is read here (three in four answers of a release rush) then writes nothing.
      AND {bookable}
    ON CONFLICT (person_id, specialty_id)
    DO UPDATE SET bookings = booking_quotas.bookings + 1, updated_at = excluded.updated_at)
SELECT {facts}"""

# What the self-booking reads, from ``p`` (the patient) and the slot ``{slot}``: the
# columns of ``taking._slot_context``, the suspension, the accounts to notify.
_FACTS_SQL = """p.id AS person_id, p.birth_date, p.first_name,
    slots.id AS slot_id, slots.clinic_id,
    coalesce(clinics.parent_clinic_id, clinics.id) AS head_clinic_id,
    slots.specialty_id, slots.status, slots.starts_at, slots.release_at,
    specialties.booking_mode, specialties.audience, specialties.active_limit,
    specialties.horizon_days, specialties.release_time, clinics.clinic_kind,
    EXISTS (SELECT 1 FROM clinic_attachments
        WHERE clinic_attachments.person_id = p.id
          AND clinic_attachments.clinic_id = coalesce(clinics.parent_clinic_id, clinics.id)
          AND clinic_attachments.valid_to IS NULL) AS attached,
    standing.suspended_until, standing.suspension_no_shows,
    {recipients} AS recipients,
    -- Last, so that readers by position (bench/ceiling.py) keep their places.
    p.sex, specialties.sex AS specialty_sex
FROM p
LEFT JOIN (slots JOIN specialties ON specialties.id = slots.specialty_id
    JOIN clinics ON clinics.id = slots.clinic_id) ON slots.id = {slot}
LEFT JOIN booking_standings AS standing
    ON standing.person_id = p.id AND standing.suspended_until > :now"""


def _person(by_policy: bool) -> str:
    """The patient, from the register's published view (``accounts.read_model``)."""
    key = PERSON_FACTS.c.oms_policy if by_policy else PERSON_FACTS.c.person_id
    person = select(
        PERSON_FACTS.c.person_id.label("id"),
        PERSON_FACTS.c.birth_date,
        PERSON_FACTS.c.first_name,
        PERSON_FACTS.c.sex,
    ).where(key == bindparam("oms_policy" if by_policy else "person_id"))
    return _pg_text(person, {"oms_policy" if by_policy else "person_id"})


def _recipients() -> str:
    """The accounts to notify about the patient ``p``, as an array of user ids."""
    users = (
        select(PERSON_CONTACTS.c.user_id)
        .where(PERSON_CONTACTS.c.person_id == literal_column("p.id"))
        .order_by(PERSON_CONTACTS.c.user_id)
    )
    return f"ARRAY({_pg_text(users, set())})"


def _facts(slot: str) -> str:
    return _FACTS_SQL.format(recipients=_recipients(), slot=slot)


_FACT_TYPES = {
    "starts_at": UTCDateTime(),
    "release_at": UTCDateTime(),
    "suspended_until": UTCDateTime(),
}


def self_book_facts_statement(by_policy: bool) -> TextualSelect:
    """The self-booking's one read (PostgreSQL) of the patient found by policy number
    (and birth date) or by id."""
    return (
        text(
            _SELF_BOOK_FACTS_SQL.format(
                person=_person(by_policy),
                birth_ok="p.birth_date = :birth_date" if by_policy else "true",
                person_lock=PERSON_LOCK.format(person="p.id"),
                bookable=_pg_text(bookable(), {"now"}),
                facts=_facts(":slot_id"),
            )
        )
        .bindparams(bindparam("now", type_=UTCDateTime()))
        .columns(**_FACT_TYPES)
    )


FACTS_BY_POLICY = self_book_facts_statement(by_policy=True)
FACTS_BY_ID = self_book_facts_statement(by_policy=False)


# A batch of kiosk bookings (``batch_booking``), on PostgreSQL: its reads in one statement
# and its takes in one, so that a batch holds the slots it takes for two round trips, not
# for each request's statements one after another. Arrays in, one row per request out;
# no patient and no slot comes twice in one batch.
#
# The reads of ``FACTS_BY_POLICY`` for every request (``idx`` says whose row), and the
# locks of the patients whose take may follow, taken in person id order so that two
# batches wanting the same patients cannot deadlock. The quota row is written by the take
# (``TAKE_MANY_PG``), only for the slots taken: what stays is what the single path leaves.
_FACTS_MANY_SQL = """WITH asked AS (
    SELECT * FROM unnest(CAST(:indexes AS integer[]), CAST(:oms_policies AS text[]),
        CAST(:birth_dates AS date[]), CAST(:slot_ids AS bigint[]))
        AS asked(idx, oms_policy, asked_birth_date, asked_slot_id)),
p AS (SELECT asked.idx, asked.asked_birth_date, asked.asked_slot_id, found.*
    FROM asked LEFT JOIN LATERAL ({person}) AS found ON true),
patient_lock AS MATERIALIZED (
    SELECT {person_lock} FROM (
        SELECT DISTINCT p.id FROM p JOIN slots ON slots.id = p.asked_slot_id
        WHERE p.birth_date = p.asked_birth_date AND {bookable}
        ORDER BY p.id) AS p)
SELECT p.idx, {facts}
CROSS JOIN (SELECT count(*) FROM patient_lock) AS locked"""


def _facts_many_statement() -> TextualSelect:
    person = _person(by_policy=True).replace(":oms_policy", "asked.oms_policy")
    return (
        text(
            _FACTS_MANY_SQL.format(
                person=person,
                person_lock=PERSON_LOCK.format(person="p.id"),
                bookable=_pg_text(bookable(), {"now"}),
                facts=_facts("p.asked_slot_id"),
            )
        )
        .bindparams(bindparam("now", type_=UTCDateTime()))
        .columns(**_FACT_TYPES)
    )


FACTS_MANY_BY_POLICY = _facts_many_statement()

# The guarded takes of ``TAKE_FREE_SLOT_PG`` for every request: the slots locked in id
# order first (so that batches cannot deadlock on them), then the same guard on each,
# the appointments inserted and the patients' quota rows counted for the slots taken.
_TAKE_MANY_SQL = """WITH want AS (
    SELECT * FROM unnest(CAST(:slot_ids AS bigint[]), CAST(:person_ids AS bigint[]),
        CAST(:specialties AS bigint[]), CAST(:active_limits AS integer[]),
        CAST(:channels AS text[])) AS want(slot_id, person_id, specialty, active_limit, channel)),
locked AS MATERIALIZED (
    SELECT slots.id FROM slots WHERE slots.id IN (SELECT want.slot_id FROM want)
    ORDER BY slots.id FOR UPDATE OF slots),
taken AS (
    UPDATE slots SET status = {taken}, held_until = NULL, held_for_entry_id = NULL,
        version = slots.version + 1
    FROM want
    WHERE slots.id = want.slot_id AND slots.id IN (SELECT locked.id FROM locked)
      AND {bookable} AND ({active}) < want.active_limit
    RETURNING slots.id, slots.clinic_id, slots.specialty_id, slots.practitioner_id,
        slots.starts_at, slots.ends_at, slots.ticket_code, want.person_id, want.channel),
quota AS (
    INSERT INTO booking_quotas (person_id, specialty_id, bookings, updated_at)
    SELECT taken.person_id, taken.specialty_id, 1, :now FROM taken
    ON CONFLICT (person_id, specialty_id)
    DO UPDATE SET bookings = booking_quotas.bookings + 1, updated_at = excluded.updated_at)
INSERT INTO appointments ({inserts})
SELECT taken.id, taken.clinic_id, taken.specialty_id, taken.practitioner_id, taken.starts_at,
    taken.ends_at, taken.ticket_code, taken.person_id, {booked}, taken.channel,
    NULL, NULL, NULL, :now
FROM taken
RETURNING {returning}"""


def _take_many_statement() -> TextualSelect:
    active = active_count(
        person=literal_column("want.person_id"), specialty=literal_column("want.specialty")
    )
    returning = ", ".join(f"appointments.{column.name}" for column in APPOINTMENT_COLUMNS)
    return (
        text(
            _TAKE_MANY_SQL.format(
                taken=_TAKEN,
                bookable=_pg_text(bookable(), {"now"}),
                active=_pg_text(active, {"now"}),
                inserts=", ".join(_TAKE_INSERTS),
                booked=_BOOKED,
                returning=returning,
            )
        )
        .bindparams(bindparam("now", type_=UTCDateTime()))
        .columns(*APPOINTMENT_COLUMNS)
    )


TAKE_MANY_PG = _take_many_statement()
