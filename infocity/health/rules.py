"""Rules of medical appointments: pure functions, no database, no clock.

Schedules are wall-clock times in the city; an instant is stored in UTC. Every
conversion goes through ``local_instant``, which knows that on a daylight-saving night
some wall-clock times do not exist (they are skipped) and some happen twice (the
first is meant).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from infocity.core.ages import ADULT_AGE, age_on
from infocity.core.errors import AppError
from infocity.core.i18n import N_
from infocity.health import errors


class Audience(StrEnum):
    """Whom a specialty sees by age."""

    ADULT = "adult"
    CHILD = "child"
    ANY = "any"


class ClinicKind(StrEnum):
    ADULT = "adult"
    CHILDREN = "children"


class Sex(StrEnum):
    """A person's sex as the register keeps it; a specialty may see only one."""

    FEMALE = "female"
    MALE = "male"


class BookingMode(StrEnum):
    DIRECT = "direct"  # booked at one's own polyclinic
    REFERRAL = "referral"  # booked with a doctor's referral


# --- States and their transitions ------------------------------------------------------
# One StrEnum per kind of state (the stored values), one table of every move between
# states, and the labels people read. The guarded UPDATEs of the service take the states
# they expect from the table (``expected``) and write the one it leads to (``leads_to``).


class SlotStatus(StrEnum):
    FREE = "free"
    BOOKED = "booked"
    HELD = "held"  # kept for a waiting-list entry
    BLOCKED = "blocked"  # the schedule no longer has it


class AppointmentStatus(StrEnum):
    BOOKED = "booked"
    CANCELLED_BY_PATIENT = "cancelled_by_patient"
    CANCELLED_BY_CLINIC = "cancelled_by_clinic"
    RESCHEDULED = "rescheduled"  # replaced by a later appointment of the same patient
    ATTENDED = "attended"
    NO_SHOW = "no_show"


class ReferralStatus(StrEnum):
    ACTIVE = "active"
    USED = "used"  # by one booked appointment at a time
    CANCELLED = "cancelled"


class WaitlistStatus(StrEnum):
    WAITING = "waiting"  # in the queue
    HOLDING = "holding"  # a freed time is kept for it (one at most)
    BOOKED = "booked"  # the patient took a kept time
    LEFT = "left"  # the patient left
    EXPIRED = "expired"  # a kept time ran out unanswered


class OfferOutcome(StrEnum):
    """A time kept for a waiting-list entry: ``held`` while in force, then how it ended."""

    HELD = "held"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # the clinic took the time away


class HomeVisitStatus(StrEnum):
    NEW = "new"
    ACCEPTED = "accepted"
    ASSIGNED = "assigned"
    DONE = "done"
    CANCELLED = "cancelled"


State = (
    SlotStatus | AppointmentStatus | ReferralStatus | WaitlistStatus | OfferOutcome
    | HomeVisitStatus
)  # fmt: skip


class Move(StrEnum):
    """Something that moves one row from a state to another."""

    SLOT_BOOK = "slot_book"  # a booking takes a free time
    SLOT_BOOK_HELD = "slot_book_held"  # the patient it is kept for takes it
    SLOT_HOLD = "slot_hold"  # kept for a waiting-list entry
    SLOT_RELEASE = "slot_release"  # the keeping ends without a booking
    SLOT_FREE = "slot_free"  # its appointment is cancelled or moved
    SLOT_CLOSE = "slot_close"  # the schedule no longer has it
    SLOT_CLOSE_BOOKED = "slot_close_booked"  # ... and its appointment is cancelled
    APPOINTMENT_CANCEL = "appointment_cancel"  # by the patient (or their guardian)
    APPOINTMENT_CANCEL_BY_CLINIC = "appointment_cancel_by_clinic"
    APPOINTMENT_MOVE = "appointment_move"  # replaced by a later appointment
    APPOINTMENT_ATTEND = "appointment_attend"
    APPOINTMENT_MISS = "appointment_miss"
    APPOINTMENT_UNDO_OUTCOME = "appointment_undo_outcome"  # a mistaken mark, the same day
    REFERRAL_USE = "referral_use"
    REFERRAL_GIVE_BACK = "referral_give_back"  # its appointment ended without a visit
    ENTRY_HOLD = "entry_hold"
    ENTRY_WAIT_AGAIN = "entry_wait_again"  # the kept time was declined or taken away
    ENTRY_BOOK = "entry_book"
    ENTRY_LEAVE = "entry_leave"
    ENTRY_EXPIRE = "entry_expire"
    OFFER_ACCEPT = "offer_accept"
    OFFER_DECLINE = "offer_decline"
    OFFER_EXPIRE = "offer_expire"
    OFFER_WITHDRAW = "offer_withdraw"
    VISIT_ACCEPT = "visit_accept"
    VISIT_ASSIGN = "visit_assign"  # again: another doctor
    VISIT_DONE = "visit_done"
    VISIT_CANCEL = "visit_cancel"


_S, _A, _R, _W, _O, _H = (
    SlotStatus, AppointmentStatus, ReferralStatus, WaitlistStatus, OfferOutcome, HomeVisitStatus,
)  # fmt: skip
# move -> (the states it may start from, the state it leads to). Nothing else is allowed.
TRANSITIONS: dict[Move, tuple[frozenset[State], State]] = {
    Move.SLOT_BOOK: (frozenset({_S.FREE}), _S.BOOKED),
    Move.SLOT_BOOK_HELD: (frozenset({_S.HELD}), _S.BOOKED),
    Move.SLOT_HOLD: (frozenset({_S.FREE}), _S.HELD),
    Move.SLOT_RELEASE: (frozenset({_S.HELD}), _S.FREE),
    Move.SLOT_FREE: (frozenset({_S.BOOKED}), _S.FREE),
    Move.SLOT_CLOSE: (frozenset({_S.FREE, _S.HELD}), _S.BLOCKED),
    Move.SLOT_CLOSE_BOOKED: (frozenset({_S.BOOKED}), _S.BLOCKED),
    Move.APPOINTMENT_CANCEL: (frozenset({_A.BOOKED}), _A.CANCELLED_BY_PATIENT),
    Move.APPOINTMENT_CANCEL_BY_CLINIC: (frozenset({_A.BOOKED}), _A.CANCELLED_BY_CLINIC),
    Move.APPOINTMENT_MOVE: (frozenset({_A.BOOKED}), _A.RESCHEDULED),
    Move.APPOINTMENT_ATTEND: (frozenset({_A.BOOKED}), _A.ATTENDED),
    Move.APPOINTMENT_MISS: (frozenset({_A.BOOKED}), _A.NO_SHOW),
    Move.APPOINTMENT_UNDO_OUTCOME: (frozenset({_A.ATTENDED, _A.NO_SHOW}), _A.BOOKED),
    Move.REFERRAL_USE: (frozenset({_R.ACTIVE}), _R.USED),
    Move.REFERRAL_GIVE_BACK: (frozenset({_R.USED}), _R.ACTIVE),
    Move.ENTRY_HOLD: (frozenset({_W.WAITING}), _W.HOLDING),
    Move.ENTRY_WAIT_AGAIN: (frozenset({_W.HOLDING}), _W.WAITING),
    Move.ENTRY_BOOK: (frozenset({_W.HOLDING}), _W.BOOKED),
    Move.ENTRY_LEAVE: (frozenset({_W.WAITING, _W.HOLDING}), _W.LEFT),
    Move.ENTRY_EXPIRE: (frozenset({_W.HOLDING}), _W.EXPIRED),
    Move.OFFER_ACCEPT: (frozenset({_O.HELD}), _O.ACCEPTED),
    Move.OFFER_DECLINE: (frozenset({_O.HELD}), _O.DECLINED),
    Move.OFFER_EXPIRE: (frozenset({_O.HELD}), _O.EXPIRED),
    Move.OFFER_WITHDRAW: (frozenset({_O.HELD}), _O.WITHDRAWN),
    Move.VISIT_ACCEPT: (frozenset({_H.NEW}), _H.ACCEPTED),
    Move.VISIT_ASSIGN: (frozenset({_H.ACCEPTED, _H.ASSIGNED}), _H.ASSIGNED),
    Move.VISIT_DONE: (frozenset({_H.ASSIGNED}), _H.DONE),
    Move.VISIT_CANCEL: (frozenset({_H.NEW, _H.ACCEPTED, _H.ASSIGNED}), _H.CANCELLED),
}


def expected(move: Move) -> tuple[str, ...]:
    """The stored states ``move`` may start from (sorted: statements stay the same)."""
    return tuple(sorted(str(state) for state in TRANSITIONS[move][0]))


def leads_to(move: Move) -> str:
    """The stored state ``move`` leads to."""
    return str(TRANSITIONS[move][1])


# A doctor marks a visit by its outcome; a clinic moves a home visit request to a status.
OUTCOME_MOVES = {
    AppointmentStatus.ATTENDED: Move.APPOINTMENT_ATTEND,
    AppointmentStatus.NO_SHOW: Move.APPOINTMENT_MISS,
}
HOME_VISIT_MOVES = {
    HomeVisitStatus.ACCEPTED: Move.VISIT_ACCEPT,
    HomeVisitStatus.ASSIGNED: Move.VISIT_ASSIGN,
    HomeVisitStatus.DONE: Move.VISIT_DONE,
    HomeVisitStatus.CANCELLED: Move.VISIT_CANCEL,
}
# States an appointment keeps its slot in (cancelled and moved ones gave it back).
OCCUPYING = (AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED, AppointmentStatus.NO_SHOW)
OPEN_HOME_VISITS = expected(Move.VISIT_CANCEL)

APPOINTMENT_LABELS = {
    AppointmentStatus.BOOKED: N_("Booked"),
    AppointmentStatus.CANCELLED_BY_PATIENT: N_("Cancelled"),
    AppointmentStatus.CANCELLED_BY_CLINIC: N_("Cancelled by the polyclinic"),
    AppointmentStatus.RESCHEDULED: N_("Moved to another time"),
    AppointmentStatus.ATTENDED: N_("Attended"),
    AppointmentStatus.NO_SHOW: N_("Did not come"),
}
SLOT_LABELS = {
    SlotStatus.FREE: N_("Free"),
    SlotStatus.BOOKED: N_("Booked"),
    SlotStatus.HELD: N_("Reserved for the waiting list"),
    SlotStatus.BLOCKED: N_("Closed"),
}
WAITLIST_LABELS = {
    WaitlistStatus.WAITING: N_("Waiting for a time"),
    WaitlistStatus.HOLDING: N_("A time is kept for you"),
    WaitlistStatus.BOOKED: N_("Booked"),
    WaitlistStatus.LEFT: N_("Left the list"),
    WaitlistStatus.EXPIRED: N_("Closed: the kept time was not answered"),
}
HOME_VISIT_LABELS = {
    HomeVisitStatus.NEW: N_("Request received"),
    HomeVisitStatus.ACCEPTED: N_("Request accepted"),
    HomeVisitStatus.ASSIGNED: N_("Doctor assigned"),
    HomeVisitStatus.DONE: N_("Visit done"),
    HomeVisitStatus.CANCELLED: N_("Request cancelled"),
}
# What the pages look a stored status up in: the kinds share no value with another
# label ("booked" reads the same for a slot, an appointment and a waiting-list place).
STATUS_LABELS: dict[str, str] = {
    str(state): label
    for labels in (SLOT_LABELS, APPOINTMENT_LABELS, WAITLIST_LABELS, HOME_VISIT_LABELS)
    for state, label in labels.items()
}


# --- The 19 specialties ------------------------------------------------------------


@dataclass(frozen=True)
class SpecialtySeed:
    code: str
    name: str
    name_en: str
    slot_minutes: int
    booking_mode: str  # direct | referral
    audience: str = Audience.ANY
    sex: str | None = None  # the only sex the specialty sees; None: both


DEFAULT_HORIZON_DAYS = 14
DEFAULT_RELEASE_TIME = time(8, 0)
DEFAULT_ACTIVE_LIMIT = 1

SPECIALTIES: tuple[SpecialtySeed, ...] = (
    # Booked directly, at the patient's own polyclinic.
    SpecialtySeed("therapist", "Терапевт", "Therapist", 15, "direct", "adult"),
    SpecialtySeed("general_practitioner", "Врач общей практики", "General practitioner", 15,
                  "direct", "adult"),
    SpecialtySeed("paediatrician", "Педиатр", "Paediatrician", 15, "direct", "child"),
    SpecialtySeed("surgeon", "Хирург", "Surgeon", 15, "direct"),
    SpecialtySeed("ophthalmologist", "Офтальмолог", "Ophthalmologist", 15, "direct"),
    SpecialtySeed("otolaryngologist", "Оториноларинголог", "Otolaryngologist", 15, "direct"),
    # A urologist sees women too (the urinary tract is everyone's): open to both.
    SpecialtySeed("urologist", "Уролог", "Urologist", 15, "direct"),
    SpecialtySeed("obstetrician_gynaecologist", "Акушер-гинеколог",
                  "Obstetrician-gynaecologist", 20, "direct", sex=Sex.FEMALE),
    SpecialtySeed("dentist", "Стоматолог", "Dentist", 30, "direct"),
    # Booked with a referral from the patient's doctor.
    SpecialtySeed("cardiologist", "Кардиолог", "Cardiologist", 20, "referral"),
    SpecialtySeed("neurologist", "Невролог", "Neurologist", 20, "referral"),
    SpecialtySeed("endocrinologist", "Эндокринолог", "Endocrinologist", 20, "referral"),
    SpecialtySeed("gastroenterologist", "Гастроэнтеролог", "Gastroenterologist", 20,
                  "referral"),
    SpecialtySeed("pulmonologist", "Пульмонолог", "Pulmonologist", 20, "referral"),
    SpecialtySeed("rheumatologist", "Ревматолог", "Rheumatologist", 20, "referral"),
    SpecialtySeed("allergist_immunologist", "Аллерголог-иммунолог", "Allergist-immunologist",
                  20, "referral"),
    SpecialtySeed("dermatovenereologist", "Дерматовенеролог", "Dermatovenereologist", 20,
                  "referral"),
    SpecialtySeed("infectious_diseases", "Инфекционист", "Infectious diseases specialist", 20,
                  "referral"),
    SpecialtySeed("traumatologist_orthopaedist", "Травматолог-ортопед",
                  "Traumatologist-orthopaedist", 20, "referral"),
)  # fmt: skip


# --- Time in the city --------------------------------------------------------------


def local_instant(day: date, wall: time, tz: ZoneInfo) -> datetime | None:
    """The UTC instant of wall-clock ``wall`` on ``day`` in ``tz``; None if that time does
    not exist (skipped by a spring-forward). An ambiguous time means its first occurrence."""
    local = datetime.combine(day, wall, tzinfo=tz)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def city_date(instant: datetime, tz: ZoneInfo) -> date:
    """The city's calendar date at ``instant``."""
    return instant.astimezone(tz).date()


def is_upcoming(status: str, starts_at: datetime, now: datetime) -> bool:
    """An appointment still to come: booked, and starting now or later."""
    return status == AppointmentStatus.BOOKED and starts_at >= now


def referral_state(status: str, valid_until: datetime, now: datetime) -> str:
    """What a patient reads of a referral: ``open`` (may be booked by), ``used``,
    ``expired`` (never used in time) or ``cancelled``."""
    if status == ReferralStatus.ACTIVE:
        return "open" if valid_until > now else "expired"
    return str(status)


def release_at(day: date, *, horizon_days: int, release_time: time, tz: ZoneInfo) -> datetime:
    """When the slots of city date ``day`` open: at ``release_time`` on the day
    ``horizon_days`` before (so at any moment about ``horizon_days`` days are open)."""
    release_day = day - timedelta(days=horizon_days)
    instant = local_instant(release_day, release_time, tz)
    if instant is None:  # the release time fell into a DST gap: open when the gap ends
        shifted = datetime.combine(release_day, release_time) + timedelta(hours=1)
        instant = datetime.combine(shifted.date(), shifted.time(), tzinfo=tz).astimezone(UTC)
    return instant


# --- Schedules ---------------------------------------------------------------------


@dataclass(frozen=True)
class WeeklyRule:
    weekday: int  # 0 = Monday
    start: time
    end: time
    valid_from: date
    valid_to: date | None = None  # inclusive
    break_start: time | None = None
    break_end: time | None = None
    slot_minutes: int | None = None

    def applies_on(self, day: date) -> bool:
        return (
            day.weekday() == self.weekday
            and self.valid_from <= day
            and (self.valid_to is None or day <= self.valid_to)
        )


@dataclass(frozen=True)
class Override:
    """A schedule exception over a date range: an absence (vacation, sick_leave,
    holiday) or ``extra_hours``."""

    kind: str
    date_from: date
    date_to: date  # inclusive
    start: time | None = None
    end: time | None = None

    @property
    def is_absence(self) -> bool:
        return self.kind != "extra_hours"

    def covers(self, day: date) -> bool:
        return self.date_from <= day <= self.date_to


@dataclass(frozen=True)
class PlannedSlot:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    day: date  # the city date the slot belongs to
    seq: int  # 1-based place in the practitioner's day: the queue number on the ticket


def check_times(
    start: time,
    end: time,
    break_start: time | None = None,
    break_end: time | None = None,
    slot_minutes: int | None = None,
) -> None:
    """Working hours start before they end; a break lies inside them; a slot fits."""
    if start >= end:
        raise errors.InvalidSchedule(
            N_("Working hours must start before they end."), field="end_time"
        )
    if (break_start is None) != (break_end is None):
        raise errors.InvalidSchedule(
            N_("A break needs both a start and an end."), field="break_end"
        )
    if (
        break_start is not None
        and break_end is not None
        and not (start <= break_start < break_end <= end)
    ):
        raise errors.InvalidSchedule(
            N_("A break must lie inside the working hours."), field="break_start"
        )
    if slot_minutes is not None and not 5 <= slot_minutes <= 240:
        raise errors.InvalidSchedule(
            N_("An appointment lasts from 5 to 240 minutes."), field="slot_minutes"
        )


def _wall_steps(start: time, end: time, minutes: int) -> Iterator[tuple[time, time]]:
    """Consecutive wall-clock intervals of ``minutes`` from ``start`` that end by ``end``."""
    base = date(2000, 1, 3)  # any date: wall-clock arithmetic only
    cursor = datetime.combine(base, start)
    stop = datetime.combine(base, end)
    step = timedelta(minutes=minutes)
    while cursor + step <= stop:
        yield cursor.time(), (cursor + step).time()
        cursor += step


def _overlaps(a_start: time, a_end: time, b_start: time, b_end: time) -> bool:
    return a_start < b_end and b_start < a_end


def day_intervals(
    day: date,
    rules: Iterable[WeeklyRule],
    exceptions: Iterable[Override],
    default_minutes: int,
) -> list[tuple[time, time]]:
    """The wall-clock appointment intervals of one practitioner on city date ``day``:
    weekly rules minus breaks and absences, plus extra hours; sorted, never overlapping."""
    today_exceptions = [e for e in exceptions if e.covers(day)]
    whole_day_off = any(e.is_absence and e.start is None for e in today_exceptions)
    absences = [
        (e.start, e.end)
        for e in today_exceptions
        if e.is_absence and e.start is not None and e.end is not None
    ]
    candidates: list[tuple[time, time]] = []
    if not whole_day_off:
        for rule in rules:
            if not rule.applies_on(day):
                continue
            minutes = rule.slot_minutes or default_minutes
            for begin, finish in _wall_steps(rule.start, rule.end, minutes):
                if (
                    rule.break_start is not None
                    and rule.break_end is not None
                    and _overlaps(begin, finish, rule.break_start, rule.break_end)
                ):
                    continue
                if any(_overlaps(begin, finish, a, b) for a, b in absences):
                    continue
                candidates.append((begin, finish))
    for extra in today_exceptions:
        if extra.is_absence or extra.start is None or extra.end is None:
            continue
        candidates.extend(_wall_steps(extra.start, extra.end, default_minutes))
    # Overlapping rules (or extra hours over a rule) must not give two patients the same
    # minutes: keep the earliest interval and drop whatever overlaps it.
    result: list[tuple[time, time]] = []
    for begin, finish in sorted(set(candidates)):
        if result and begin < result[-1][1]:
            continue
        result.append((begin, finish))
    return result


def plan_slots(
    first_day: date,
    last_day: date,
    rules: Sequence[WeeklyRule],
    exceptions: Sequence[Override],
    *,
    default_minutes: int,
    tz: ZoneInfo,
) -> list[PlannedSlot]:
    """The slots of one practitioner for the city dates ``first_day..last_day``, in UTC.

    Wall-clock times that do not exist on a spring-forward night are skipped; a slot
    lasts its length in real time, so none overlaps another across a DST change.
    """
    planned: list[PlannedSlot] = []
    day = first_day
    while day <= last_day:
        seq = 0
        previous_end: datetime | None = None
        for begin, finish in day_intervals(day, rules, exceptions, default_minutes):
            starts_at = local_instant(day, begin, tz)
            if starts_at is None:
                continue
            wall_minutes = (
                datetime.combine(day, finish) - datetime.combine(day, begin)
            ) // timedelta(minutes=1)
            ends_at = starts_at + timedelta(minutes=wall_minutes)
            if previous_end is not None and starts_at < previous_end:
                continue  # a fall-back night repeats an hour: its second pass is dropped
            seq += 1
            planned.append(PlannedSlot(starts_at=starts_at, ends_at=ends_at, day=day, seq=seq))
            previous_end = ends_at
        day += timedelta(days=1)
    return planned


def ticket_code(practitioner_id: int, day: date, seq: int) -> str:
    """The number printed on the ticket: day, doctor, place in the doctor's queue.

    '1403-0012-07' is the 7th patient of doctor 12 on 14 March. It identifies the visit
    in the doctor's queue; the appointment id identifies the booking.
    """
    # The date's fields, not strftime: a quarter of the time (millions of slots).
    return f"{day.day:02d}{day.month:02d}-{practitioner_id:04d}-{seq:02d}"


# --- Attachment --------------------------------------------------------------------

ATTACHMENT_CHANGE_INTERVAL = timedelta(days=365)


def next_attachment_change(current_since: datetime | None) -> datetime | None:
    """The earliest instant the current attachment may be changed; None: right away."""
    if current_since is None:
        return None
    return current_since + ATTACHMENT_CHANGE_INTERVAL


def clinic_kind_for_age(age: int) -> str:
    """Children (under 18) are attached to children's polyclinics, adults to adult ones."""
    return ClinicKind.CHILDREN if age < ADULT_AGE else ClinicKind.ADULT


# --- Who is seen where -------------------------------------------------------------


def clinic_audience(clinic_kind: str) -> Audience:
    """Whom a polyclinic of ``clinic_kind`` sees, whatever the specialty."""
    return Audience.CHILD if clinic_kind == ClinicKind.CHILDREN else Audience.ADULT


@dataclass(frozen=True)
class PatientTraits:
    """What of a patient decides where they are seen: age (from the birth date, on the
    day of the visit) and sex. Either may be unknown."""

    birth_date: date | None
    sex: str | None


def why_unsuited(
    patient: PatientTraits,
    on: date,
    *,
    clinic_kind: str | None = None,
    audience: str | None = None,
    sex: str | None = None,
) -> AppError | None:
    """The refusal for a patient who does not fit a polyclinic of ``clinic_kind``, or a
    specialty of this ``audience`` that sees only patients of ``sex``; None if they fit
    (every check left out by passing None).

    The one rule of who is seen where: attaching, referring, booking and joining a
    waiting list refuse by it, and the lists offered to citizens and staff are filtered
    by it, so nothing offered is refused after the click. What is not known does not
    refuse: an unknown birth date (booking asks for it separately) or an unstated sex.
    """
    if patient.birth_date is not None:
        is_child = age_on(patient.birth_date, on) < ADULT_AGE
        if clinic_kind is not None and (clinic_kind == ClinicKind.CHILDREN) != is_child:
            return errors.WrongClinicKind(adult=not is_child)
        if audience == Audience.ADULT and is_child:
            return errors.AgeNotServed(adult_only=True)
        if audience == Audience.CHILD and not is_child:
            return errors.AgeNotServed(adult_only=False)
    if sex is not None and patient.sex is not None and patient.sex != sex:
        return errors.SexNotServed(female_only=sex == Sex.FEMALE)
    return None


def suits(
    patient: PatientTraits,
    on: date,
    *,
    clinic_kind: str | None = None,
    audience: str | None = None,
    sex: str | None = None,
) -> bool:
    """Whether ``why_unsuited`` lets the patient in: what pages and kiosks offer."""
    found = why_unsuited(patient, on, clinic_kind=clinic_kind, audience=audience, sex=sex)
    return found is None


def check_suited(
    patient: PatientTraits,
    on: date,
    *,
    clinic_kind: str | None = None,
    audience: str | None = None,
    sex: str | None = None,
) -> None:
    """Raise the refusal of ``why_unsuited``, if any."""
    refusal = why_unsuited(patient, on, clinic_kind=clinic_kind, audience=audience, sex=sex)
    if refusal is not None:
        raise refusal


# --- Booking -----------------------------------------------------------------------


@dataclass(frozen=True)
class BookingFacts:
    """What decides whether a patient may book a slot, read before anything is written."""

    booking_mode: str  # the specialty's: direct | referral
    audience: str  # the specialty's: adult | child | any
    clinic_kind: str  # the slot's clinic: adult | children
    attached: bool  # the patient is attached to the slot's head clinic
    birth_date: date | None
    slot_day: date  # the slot's city date: age is judged on the day of the visit
    has_referral: bool
    sex: str | None = None  # the patient's; None: not stated
    specialty_sex: str | None = None  # the only sex the specialty sees; None: both


def check_booking(facts: BookingFacts) -> None:
    """Refuse a booking the patient is not entitled to (the slot itself is checked by
    the database, in the statement that takes it)."""
    if facts.birth_date is None:
        raise errors.BirthDateRequired()
    patient = PatientTraits(facts.birth_date, facts.sex)
    # A children's polyclinic sees children only, whatever the doctor: as an audience.
    check_suited(patient, facts.slot_day, audience=clinic_audience(facts.clinic_kind))
    check_suited(patient, facts.slot_day, audience=facts.audience, sex=facts.specialty_sex)
    if facts.booking_mode == "referral":
        if not facts.has_referral:
            raise errors.ReferralRequired()
    elif not facts.attached and not facts.has_referral:
        # A direct specialty is booked at one's own polyclinic; a referral (to another
        # polyclinic's surgeon, say) also opens it.
        raise errors.NotAttached()


@dataclass(frozen=True)
class SlotState:
    status: str
    starts_at: datetime
    release_at: datetime


def why_not_bookable(slot: SlotState, now: datetime) -> str | None:
    """The error code for a slot the guarded update did not take, or None if the slot
    itself is bookable (then something else refused: the limit, or a race)."""
    if slot.starts_at <= now:
        return "slot_in_past"
    if slot.status == SlotStatus.BOOKED:
        return "slot_taken"
    if slot.status == SlotStatus.HELD:
        return "slot_held"
    if slot.status == SlotStatus.BLOCKED:
        return "slot_blocked"
    if slot.release_at > now:
        return "slot_not_released"
    return None


# What health records in the audit log, and how the log's page names it.
AUDIT_ACTIONS = {
    "health.practitioner.open": N_("Opened a doctor's post"),
    "health.appointment.outcome_undone": N_("Undid the outcome of a visit"),
    "health.doctor.referrals": N_("Opened the referrals they issued"),
    "health.doctor.home_visits": N_("Opened the home visits assigned to them"),
    "health.appointment.book": N_("Booked an appointment for a patient"),
    "health.appointment.cancel": N_("Cancelled a patient's appointment"),
    "health.appointment.reschedule": N_("Moved a patient's appointment"),
    "health.appointment.outcome": N_("Recorded the outcome of an appointment"),
    "health.attach": N_("Attached a patient to a polyclinic"),
    "health.booking_status": N_("Checked a patient's appointments"),
    "health.doctor.day": N_("Opened a doctor's day"),
    "health.registry.day": N_("Opened the registry's day"),
    "health.patient.lookup": N_("Looked a patient up"),
    "health.fhir_client.register": N_("Registered a client system of the FHIR API"),
    "health.fhir.patient_lookup": N_("A client system looked a patient up by OMS policy"),
    "health.fhir.find": N_("A client system read a patient's polyclinic and referrals"),
    "health.patient.view": N_("Opened a patient's card"),
    "health.patient.district": N_("Set a patient's district"),
    "health.home_visit.queue": N_("Opened the home visit queue"),
    "health.home_visit.update": N_("Changed a home visit"),
    "health.referral.issue": N_("Issued a referral"),
    "health.specialty.update": N_("Changed a medical specialty"),
}


# --- FHIR access: SMART-style scopes -----------------------------------------------------

# What a registered client system may be granted (SMART v1 names: context/Resource.access).
FHIR_RESOURCES = (
    "Organization", "Location", "HealthcareService", "Practitioner", "PractitionerRole",
    "Schedule", "Slot", "Appointment", "Patient",
)  # fmt: skip
FHIR_SYSTEM_SCOPES = frozenset(
    {f"system/{r}.read" for r in FHIR_RESOURCES} | {"system/Appointment.write", "system/*.read"}
)
# A citizen's own token acts in the patient's context: themself and their children.
FHIR_PATIENT_SCOPES = frozenset({"patient/*.read", "patient/Appointment.write"})


def fhir_scope_allows(scopes: frozenset[str], context: str, resource: str, access: str) -> bool:
    """Whether ``scopes`` let a ``context`` (system | patient) token ``access`` (read |
    write) a ``resource``: ``system/Slot.read``, ``system/*.read``, ``system/*.*``."""
    return any(f"{context}/{r}.{a}" in scopes for r in (resource, "*") for a in (access, "*"))
