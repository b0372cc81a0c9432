"""Schedules and slots: weekly rules and exceptions, the slots they plan, and what a
change of schedule does to the appointments it touches (the search for free ones is in
``search``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date, city_tz
from infocity.core.db import utcnow
from infocity.core.i18n import N_
from infocity.core.settings import get_settings
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules
from infocity.health.models import (
    ACTIVE_WAITLIST_ENTRY,
    Practitioner,
    ScheduleException,
    ScheduleRule,
    Specialty,
)
from infocity.health.rules import AppointmentStatus, Move, SlotStatus, WaitlistStatus
from infocity.health.schemas import (
    AffectedAppointmentRead,
    AppointmentRead,
    ScheduleChangeRead,
    ScheduleExceptionCreate,
    ScheduleExceptionRead,
    ScheduleRuleCreate,
    ScheduleRuleRead,
    ScheduleRuleUpdate,
)
from infocity.health.service.base import (
    APPOINTMENT_COLUMNS,
    APPOINTMENTS,
    ENTRIES,
    OFFERS,
    SLOTS,
    _appointment_read,
    _authorize_in_clinic,
    _in_state,
    _notify,
    _practitioner,
)
from infocity.health.service.taking import _give_back_referral

INSERT_BATCH = 500
JOB_CHUNK = 200  # practitioners a transaction of the hourly job (a killed worker loses one chunk)
ALTERNATIVES = 3  # free times suggested to a patient whose appointment the clinic cancelled


def set_schedule_rule(
    actor: Principal | None,
    data: ScheduleRuleCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ScheduleRuleRead:
    """Add a weekly working pattern of a practitioner (clinic administrators). Its slots
    up to the booking horizon are planned at once, so citizens see them without waiting
    for the hourly job. A pattern overlapping another of the same doctor, or (for staff)
    valid from a past date, is refused."""
    _check_rule(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
        practitioner = _practitioner(session, data.practitioner_id, lock=True)
        _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, practitioner.clinic_id)
        _check_rule_fits(session, actor, practitioner.id, data, now)
        rule = ScheduleRule(clinic_id=practitioner.clinic_id, **data.model_dump())
        session.add(rule)
        session.flush()
        result = ScheduleRuleRead.model_validate(rule)
        last_day = _horizon_end(session, now)
        _materialise_practitioner(session, practitioner, city_date(now), last_day, now)
        uow.commit()
        return result


def _horizon_end(session: Session, now: datetime) -> date:
    """The last city date any specialty books up to (as the hourly job plans)."""
    horizon = session.scalar(select(func.max(Specialty.horizon_days))) or 0
    return city_date(now) + timedelta(days=horizon + 1)


def _check_rule_fits(
    session: Session,
    actor: Principal,
    practitioner_id: int,
    data: ScheduleRuleCreate | ScheduleRuleUpdate,
    now: datetime,
    *,
    rule: ScheduleRule | None = None,
) -> None:
    """Refuse staff a pattern valid from a past date (unless it keeps the date it had)
    and one overlapping another pattern of the same doctor on the same weekday. ``SYSTEM``
    (seeding, the command line) may do both: the slots a pattern plans are idempotent."""
    if actor.is_system:
        return
    kept_date = rule is not None and rule.valid_from == data.valid_from
    if not kept_date and data.valid_from < city_date(now):
        raise errors.InvalidSchedule(
            N_("A schedule cannot start in the past: choose today or a later date."),
            field="valid_from",
        )
    query = select(ScheduleRule).where(
        ScheduleRule.practitioner_id == practitioner_id,
        ScheduleRule.weekday == data.weekday,
        ScheduleRule.start_time < data.end_time,
        ScheduleRule.end_time > data.start_time,
        or_(ScheduleRule.valid_to.is_(None), ScheduleRule.valid_to >= data.valid_from),
    )
    if data.valid_to is not None:
        query = query.where(ScheduleRule.valid_from <= data.valid_to)
    if rule is not None:
        query = query.where(ScheduleRule.id != rule.id)
    other = session.scalars(query.limit(1)).first()
    if other is not None:
        raise errors.OverlappingSchedule(
            start=other.start_time.strftime("%H:%M"), end=other.end_time.strftime("%H:%M")
        )


def add_schedule_exception(
    actor: Principal | None,
    data: ScheduleExceptionCreate,
    *,
    preview: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ScheduleExceptionRead:
    """Record a practitioner's absence or extra hours. Slots of an absence are blocked at
    once; appointments in it are cancelled by the clinic (each patient told, with up to
    three alternatives, and put first on the waiting list). Extra hours get their slots
    at once. ``preview_schedule_exception`` shows what an absence would cancel; with
    ``preview`` (its ``preview_token``) the absence is recorded only if it still cancels
    exactly those appointments."""
    _check_exception(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
        practitioner = _practitioner(session, data.practitioner_id, lock=True)
        _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, practitioner.clinic_id)
        if preview is not None:
            affected = _exception_affects(session, practitioner, data, now)
            _check_preview(_exception_change(data), affected, preview)
        exception = ScheduleException(clinic_id=practitioner.clinic_id, **data.model_dump())
        session.add(exception)
        session.flush()
        cancelled: list[int] = []
        if data.kind == "extra_hours":
            _materialise_practitioner(session, practitioner, data.date_from, data.date_to, now)
        else:
            cancelled, _blocked = _withdraw_slots(uow, practitioner, now)
        result = ScheduleExceptionRead.model_validate(exception)
        result.cancelled_appointments = cancelled
        uow.commit()
        return result


def _materialise_practitioner(
    session: Session, practitioner: Practitioner, first_day: date, last_day: date, now: datetime
) -> int:
    """Insert the practitioner's missing slots for the city dates; return how many."""
    first_day = max(first_day, city_date(now))
    if last_day < first_day:
        return 0
    specialty = session.get(Specialty, practitioner.specialty_id)
    assert specialty is not None
    weekly = _weekly(
        session.scalars(select(ScheduleRule).where(ScheduleRule.practitioner_id == practitioner.id))
    )
    overrides = _overrides(
        session.scalars(
            select(ScheduleException).where(
                ScheduleException.practitioner_id == practitioner.id,
                ScheduleException.date_to >= first_day,
                ScheduleException.date_from <= last_day,
            )
        )
    )
    rows = _slot_rows(practitioner, specialty, weekly, overrides, first_day, last_day)
    return _insert_slots(session, rows)


def _slot_rows(
    practitioner: Any,
    specialty: Specialty,
    weekly: Sequence[rules.WeeklyRule],
    overrides: Sequence[rules.Override],
    first_day: date,
    last_day: date,
) -> list[dict[str, Any]]:
    """The free slots the practitioner's schedule plans for the city dates, as rows."""
    tz = city_tz()
    planned = rules.plan_slots(
        first_day, last_day, weekly, overrides, default_minutes=specialty.slot_minutes, tz=tz
    )
    release = {
        day: rules.release_at(
            day, horizon_days=specialty.horizon_days, release_time=specialty.release_time, tz=tz
        )
        for day in {p.day for p in planned}
    }
    return [
        {
            "clinic_id": practitioner.clinic_id,
            "practitioner_id": practitioner.id,
            "specialty_id": practitioner.specialty_id,
            "starts_at": p.starts_at,
            "ends_at": p.ends_at,
            "status": SlotStatus.FREE,
            "release_at": release[p.day],
            "held_until": None,
            "ticket_code": rules.ticket_code(practitioner.id, p.day, p.seq),
            "version": 0,
        }
        for p in planned
    ]


def _insert_slots(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Insert the slots not there yet; return how many. Idempotent: a slot already there
    (same practitioner and start) is left alone, whatever its status, so planning a day
    again never frees a booked slot."""
    if not rows:
        return 0
    # One statement with many parameter sets: SQLAlchemy compiles it once and sends it
    # in pages of rows (a statement with the rows in its VALUES was compiled anew for
    # every 500 rows: two thirds of the job's CPU).
    statement = (
        upsert_insert(session)(SLOTS)
        .on_conflict_do_nothing(index_elements=["practitioner_id", "starts_at"])
        .returning(SLOTS.c.id)  # counted by rows: a multi-row insert has no row count
    )
    return len(session.execute(statement, rows).all())


def materialise_slots(
    until: date, *, now: datetime | None = None, uow: UnitOfWork | None = None
) -> int:
    """Create the slots of every active practitioner up to city date ``until`` that were
    never planned (the periodic job): for each, the days after its ``slots_until`` (from
    today when it has none or it is past), which then becomes ``until``. A day with no
    slots (a weekend, a vacation) is planned once like any other. Days already planned
    change only through the staff's schedule changes, which plan them at once.
    ``JOB_CHUNK`` practitioners a transaction. Returns how many slots were added."""
    now = now or utcnow()
    today = city_date(now)
    uow = uow or UnitOfWork()
    inserted = 0
    after = 0
    while True:
        with uow:
            session = uow.session
            # Locked: a schedule change of one of them (which locks its practitioner
            # first) waits for this chunk, or this chunk reads the changed schedule.
            due = session.execute(
                select(
                    Practitioner.id,
                    Practitioner.clinic_id,
                    Practitioner.specialty_id,
                    Practitioner.slots_until,
                )
                .where(
                    Practitioner.active.is_(True),
                    Practitioner.id > after,
                    or_(Practitioner.slots_until.is_(None), Practitioner.slots_until < until),
                )
                .order_by(Practitioner.id)
                .limit(JOB_CHUNK)
                .with_for_update(key_share=True)
            ).all()
            if not due:
                return inserted
            inserted += _materialise_chunk(session, due, today, until)
            session.execute(
                update(Practitioner)
                .where(Practitioner.id.in_([p.id for p in due]))
                .values(slots_until=until)
            )
            uow.commit()
            after = due[-1].id


def _materialise_chunk(session: Session, due: Sequence[Any], today: date, until: date) -> int:
    """Plan and insert the never planned days of these practitioners, in a few statements
    for all of them."""
    first_days = {
        p.id: today if p.slots_until is None else max(today, p.slots_until + timedelta(days=1))
        for p in due
    }
    ids = list(first_days)
    specialties = {s.id: s for s in session.scalars(select(Specialty))}
    weekly: dict[int, list[Any]] = {i: [] for i in ids}
    for r in session.scalars(select(ScheduleRule).where(ScheduleRule.practitioner_id.in_(ids))):
        weekly[r.practitioner_id].append(r)
    overrides: dict[int, list[Any]] = {i: [] for i in ids}
    exceptions = select(ScheduleException).where(
        ScheduleException.practitioner_id.in_(ids),
        ScheduleException.date_to >= min(first_days.values()),
        ScheduleException.date_from <= until,
    )
    for e in session.scalars(exceptions):
        overrides[e.practitioner_id].append(e)
    rows: list[dict[str, Any]] = []
    for p in due:
        if first_days[p.id] <= until:
            rows += _slot_rows(
                p,
                specialties[p.specialty_id],
                _weekly(weekly[p.id]),
                _overrides(overrides[p.id]),
                first_days[p.id],
                until,
            )
    return _insert_slots(session, rows)


def materialise_horizon(*, now: datetime | None = None, uow: UnitOfWork | None = None) -> int:
    """Slots up to the longest booking horizon of any specialty (the hourly job)."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        last_day = _horizon_end(uow.session, now)
    return materialise_slots(last_day, now=now, uow=uow)


def _weekly(rule_rows: Iterable[Any]) -> list[rules.WeeklyRule]:
    return [
        rules.WeeklyRule(
            weekday=r.weekday,
            start=r.start_time,
            end=r.end_time,
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            break_start=r.break_start,
            break_end=r.break_end,
            slot_minutes=r.slot_minutes,
        )
        for r in rule_rows
    ]


def _overrides(exception_rows: Iterable[Any]) -> list[rules.Override]:
    return [
        rules.Override(
            kind=e.kind,
            date_from=e.date_from,
            date_to=e.date_to,
            start=e.start_time,
            end=e.end_time,
        )
        for e in exception_rows
    ]


def _schedule_of(
    session: Session, practitioner_id: int, *, without_rule: int | None = None
) -> tuple[list[rules.WeeklyRule], list[rules.Override]]:
    """The practitioner's weekly rules (less one) and exceptions, as the rules see them."""
    query = select(ScheduleRule).where(ScheduleRule.practitioner_id == practitioner_id)
    if without_rule is not None:
        query = query.where(ScheduleRule.id != without_rule)
    exceptions = select(ScheduleException).where(
        ScheduleException.practitioner_id == practitioner_id
    )
    return _weekly(session.scalars(query)), _overrides(session.scalars(exceptions))


def _unplanned_slots(
    session: Session,
    practitioner: Practitioner,
    weekly: Sequence[rules.WeeklyRule],
    overrides: Sequence[rules.Override],
    now: datetime,
) -> list[Any]:
    """The practitioner's future free, held and booked slots that this schedule no longer
    plans (what a change of rules or a new absence takes away)."""
    rows = session.execute(
        select(SLOTS.c.id, SLOTS.c.starts_at, SLOTS.c.status)
        .where(
            SLOTS.c.practitioner_id == practitioner.id,
            SLOTS.c.starts_at > now,
            SLOTS.c.status.in_((SlotStatus.FREE, SlotStatus.HELD, SlotStatus.BOOKED)),
        )
        .order_by(SLOTS.c.starts_at)
    ).all()
    if not rows:
        return []
    tz = city_tz()
    specialty = session.get(Specialty, practitioner.specialty_id)
    assert specialty is not None
    planned = {
        p.starts_at
        for p in rules.plan_slots(
            rules.city_date(rows[0].starts_at, tz),
            rules.city_date(rows[-1].starts_at, tz),
            weekly,
            overrides,
            default_minutes=specialty.slot_minutes,
            tz=tz,
        )
    }
    return [r for r in rows if r.starts_at not in planned]


def _affected(session: Session, slot_ids: Sequence[int]) -> list[AffectedAppointmentRead]:
    if not slot_ids:
        return []
    rows = session.execute(
        select(
            APPOINTMENTS.c.id.label("appointment_id"),
            APPOINTMENTS.c.slot_id,
            APPOINTMENTS.c.person_id,
            APPOINTMENTS.c.starts_at,
            APPOINTMENTS.c.ticket_number,
            APPOINTMENTS.c.channel,
        )
        .where(
            APPOINTMENTS.c.slot_id.in_(slot_ids),
            APPOINTMENTS.c.status == AppointmentStatus.BOOKED,
        )
        .order_by(APPOINTMENTS.c.starts_at, APPOINTMENTS.c.id)
    )
    return [AffectedAppointmentRead.model_validate(r, from_attributes=True) for r in rows]


def _check_exception(data: ScheduleExceptionCreate) -> None:
    if data.date_to < data.date_from:
        raise errors.InvalidSchedule(
            N_("The end date cannot be before the start date."), field="date_to"
        )
    if (data.start_time is None) != (data.end_time is None):
        raise errors.InvalidSchedule(N_("Give both times or neither."), field="end_time")
    if data.start_time is not None and data.end_time is not None:
        rules.check_times(data.start_time, data.end_time)
    elif data.kind == "extra_hours":
        raise errors.InvalidSchedule(N_("Extra hours need a start and an end."), field="start_time")


def _check_rule(data: ScheduleRuleCreate | ScheduleRuleUpdate) -> None:
    rules.check_times(
        data.start_time, data.end_time, data.break_start, data.break_end, data.slot_minutes
    )
    if data.valid_to is not None and data.valid_to < data.valid_from:
        raise errors.InvalidSchedule(
            N_("The end date cannot be before the start date."), field="valid_to"
        )


def _override_of(data: ScheduleExceptionCreate) -> rules.Override:
    return rules.Override(
        kind=data.kind,
        date_from=data.date_from,
        date_to=data.date_to,
        start=data.start_time,
        end=data.end_time,
    )


def _weekly_of(data: ScheduleRuleCreate | ScheduleRuleUpdate) -> rules.WeeklyRule:
    return _weekly([data])[0]


def _rule_for_admin(session: Session, actor: Principal | None, rule_id: int) -> ScheduleRule:
    actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
    rule = session.get(ScheduleRule, rule_id)
    if rule is None:
        raise errors.ScheduleRuleNotFound()
    _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, rule.clinic_id)
    return rule


def preview_schedule_exception(
    actor: Principal | None,
    data: ScheduleExceptionCreate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AffectedAppointmentRead]:
    """The booked appointments an absence would cancel (writes nothing)."""
    _check_exception(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
        practitioner = _practitioner(session, data.practitioner_id)
        _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, practitioner.clinic_id)
        return _exception_affects(session, practitioner, data, now)


def _exception_affects(
    session: Session, practitioner: Practitioner, data: ScheduleExceptionCreate, now: datetime
) -> list[AffectedAppointmentRead]:
    if data.kind == "extra_hours":
        return []
    weekly, overrides = _schedule_of(session, practitioner.id)
    gone = _unplanned_slots(session, practitioner, weekly, [*overrides, _override_of(data)], now)
    return _affected(session, [r.id for r in gone if r.status == SlotStatus.BOOKED])


def preview_schedule_rule_change(
    actor: Principal | None,
    rule_id: int,
    data: ScheduleRuleUpdate | None,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> list[AffectedAppointmentRead]:
    """The booked appointments changing (``data``) or removing (None) a weekly pattern
    would cancel (writes nothing)."""
    if data is not None:
        _check_rule(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        rule = _rule_for_admin(session, actor, rule_id)
        return _rule_change_affects(session, rule, data, now)


def _rule_change_affects(
    session: Session, rule: ScheduleRule, data: ScheduleRuleUpdate | None, now: datetime
) -> list[AffectedAppointmentRead]:
    practitioner = _practitioner(session, rule.practitioner_id)
    weekly, overrides = _schedule_of(session, practitioner.id, without_rule=rule.id)
    if data is not None:
        weekly.append(_weekly_of(data))
    gone = _unplanned_slots(session, practitioner, weekly, overrides, now)
    return _affected(session, [r.id for r in gone if r.status == SlotStatus.BOOKED])


def _preview_token(change: str, affected: Sequence[AffectedAppointmentRead]) -> str:
    """A short fingerprint of a previewed change and the appointments it would cancel:
    applying with it applies exactly what was shown, or is refused."""
    seen = ",".join(f"{a.appointment_id}@{a.starts_at.isoformat()}" for a in affected)
    return hashlib.sha256(f"{change}|{seen}".encode()).hexdigest()[:32]


def _exception_change(data: ScheduleExceptionCreate) -> str:
    return "exception:" + data.model_dump_json()


def _rule_change(rule_id: int, data: ScheduleRuleUpdate | None) -> str:
    return f"rule:{rule_id}:" + (data.model_dump_json() if data is not None else "remove")


def exception_preview_token(
    data: ScheduleExceptionCreate, affected: Sequence[AffectedAppointmentRead]
) -> str:
    """The token applying this previewed absence takes (``add_schedule_exception``)."""
    return _preview_token(_exception_change(data), affected)


def rule_preview_token(
    rule_id: int, data: ScheduleRuleUpdate | None, affected: Sequence[AffectedAppointmentRead]
) -> str:
    """The token applying this previewed change (None: removal) of a weekly pattern takes."""
    return _preview_token(_rule_change(rule_id, data), affected)


def _check_preview(change: str, affected: Sequence[AffectedAppointmentRead], token: str) -> None:
    if not hmac.compare_digest(_preview_token(change, affected), token):
        raise errors.PreviewOutdated()


def _withdraw_slots(
    uow: UnitOfWork, practitioner: Practitioner, now: datetime
) -> tuple[list[int], int]:
    """Apply the practitioner's schedule as it now stands to their future slots: slots it
    no longer plans are blocked, holds on them withdrawn, and their appointments
    cancelled by the clinic. Returns the cancelled appointment ids and blocked slots."""
    session = uow.session
    weekly, overrides = _schedule_of(session, practitioner.id)
    gone = [r.id for r in _unplanned_slots(session, practitioner, weekly, overrides, now)]
    cancelled_ids: list[int] = []
    blocked = 0
    for start in range(0, len(gone), INSERT_BATCH):
        ids = gone[start : start + INSERT_BATCH]
        # Guarded by status, not by what was read: a slot booked since the read is left
        # 'booked' here and its appointment is cancelled by the next statement (which
        # sees every booking committed before it); a booking after this statement finds
        # the slot 'blocked' and is refused.
        free_or_held = dml(
            session,
            update(SLOTS)
            .where(SLOTS.c.id.in_(ids), _in_state(SLOTS.c.status, Move.SLOT_CLOSE))
            .values(status=rules.leads_to(Move.SLOT_CLOSE), held_until=None, held_for_entry_id=None,
                    version=SLOTS.c.version + 1)
            .returning(SLOTS.c.id, SLOTS.c.held_for_entry_id),
        ).all()  # fmt: skip
        blocked += len(free_or_held)
        held_ids = [r.id for r in free_or_held]
        if held_ids:
            _withdraw_holds(session, held_ids, now)
        cancelled = dml(
            session,
            update(APPOINTMENTS)
            .where(
                APPOINTMENTS.c.slot_id.in_(ids),
                _in_state(APPOINTMENTS.c.status, Move.APPOINTMENT_CANCEL_BY_CLINIC),
            )
            .values(status=rules.leads_to(Move.APPOINTMENT_CANCEL_BY_CLINIC), cancelled_at=now)
            .returning(*APPOINTMENT_COLUMNS),
        ).all()
        if cancelled:
            blocked += dml(
                session,
                update(SLOTS)
                .where(
                    SLOTS.c.id.in_([c.slot_id for c in cancelled]),
                    _in_state(SLOTS.c.status, Move.SLOT_CLOSE_BOOKED),
                )
                .values(status=rules.leads_to(Move.SLOT_CLOSE_BOOKED), version=SLOTS.c.version + 1),
            ).rowcount
        for row in cancelled:
            appointment = _appointment_read(row)
            if appointment.referral_id is not None:
                _give_back_referral(session, appointment.referral_id, appointment.id)
            _prioritise(session, appointment, now)
            _notify(
                uow,
                appointment,
                "appointment_cancelled_by_clinic",
                {
                    "alternatives": _alternatives(session, appointment, now),
                    "book_link": _more_times_link(session, appointment),
                },
            )
            cancelled_ids.append(appointment.id)
    return cancelled_ids, blocked


def _withdraw_holds(session: Session, slot_ids: Sequence[int], now: datetime) -> None:
    """Holds on slots the clinic took away end; their entries wait again, keeping their
    place."""
    entry_ids = list(
        session.scalars(
            update(OFFERS)
            .where(OFFERS.c.slot_id.in_(slot_ids), _in_state(OFFERS.c.outcome, Move.OFFER_WITHDRAW))
            .values(outcome=rules.leads_to(Move.OFFER_WITHDRAW), closed_at=now)
            .returning(OFFERS.c.entry_id)
        )
    )
    if entry_ids:
        dml(
            session,
            update(ENTRIES)
            .where(ENTRIES.c.id.in_(entry_ids), _in_state(ENTRIES.c.status, Move.ENTRY_WAIT_AGAIN))
            .values(status=rules.leads_to(Move.ENTRY_WAIT_AGAIN)),
        )


def _prioritise(session: Session, appointment: AppointmentRead, now: datetime) -> None:
    """Put the patient whose appointment the clinic cancelled first on the waiting list
    of the specialty at that clinic (an open entry of theirs is raised to priority)."""
    statement = (
        upsert_insert(session)(ENTRIES)
        .values(
            clinic_id=appointment.clinic_id,
            person_id=appointment.person_id,
            specialty_id=appointment.specialty_id,
            referral_id=appointment.referral_id,
            priority=True,
            reason="clinic_cancelled",
            status=WaitlistStatus.WAITING,
            created_at=now,
        )
        .on_conflict_do_update(
            index_elements=["person_id", "specialty_id"],
            index_where=ACTIVE_WAITLIST_ENTRY,
            set_={"priority": True, "reason": "clinic_cancelled"},
        )
    )
    session.execute(statement)


def _alternatives(
    session: Session, appointment: AppointmentRead, now: datetime
) -> list[dict[str, Any]]:
    """Up to three nearest free times of the same specialty at the same clinic, each with
    a link that opens its booking for the patient in one click."""
    rows = session.execute(
        select(SLOTS.c.id, SLOTS.c.starts_at, Practitioner.name, Practitioner.room)
        .join(Practitioner, Practitioner.id == SLOTS.c.practitioner_id)
        .where(
            SLOTS.c.specialty_id == appointment.specialty_id,
            SLOTS.c.clinic_id == appointment.clinic_id,
            SLOTS.c.status == SlotStatus.FREE,
            SLOTS.c.release_at <= now,
            SLOTS.c.starts_at > now,
        )
        .order_by(SLOTS.c.starts_at, SLOTS.c.id)
        .limit(ALTERNATIVES)
    )
    book = f"{get_settings().base_url.rstrip('/')}/health/book/confirm"
    return [
        {
            "starts_at": r.starts_at,
            "practitioner": r.name,
            "room": r.room,
            "link": f"{book}?{urlencode({'patient': appointment.person_id, 'slot': r.id})}",
        }
        for r in rows
    ]


def _more_times_link(session: Session, appointment: AppointmentRead) -> str:
    """The booking of the cancelled appointment's specialty for its patient."""
    code = session.scalar(select(Specialty.code).where(Specialty.id == appointment.specialty_id))
    query = urlencode({"patient": appointment.person_id, "specialty": code})
    return f"{get_settings().base_url.rstrip('/')}/health/book?{query}"


def _apply_schedule(
    uow: UnitOfWork, practitioner: Practitioner, now: datetime
) -> ScheduleChangeRead:
    cancelled, blocked = _withdraw_slots(uow, practitioner, now)
    session = uow.session
    last_day = _horizon_end(session, now)
    added = _materialise_practitioner(session, practitioner, city_date(now), last_day, now)
    return ScheduleChangeRead(
        cancelled_appointments=cancelled, blocked_slots=blocked, added_slots=added
    )


def change_schedule_rule(
    actor: Principal | None,
    rule_id: int,
    data: ScheduleRuleUpdate,
    *,
    preview: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ScheduleChangeRead:
    """Change a weekly pattern: appointments it no longer covers are cancelled by the
    clinic (patients told, with alternatives and waiting-list priority). Refused when
    it would overlap another pattern of the doctor or, for staff, move its start into
    the past; with ``preview`` as ``remove_schedule_rule``."""
    _check_rule(data)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = authorize(actor, Action.SCHEDULE_MANAGE)
        rule = _rule_for_admin(session, actor, rule_id)
        _check_rule_fits(session, actor, rule.practitioner_id, data, now, rule=rule)
        if preview is not None:
            affected = _rule_change_affects(session, rule, data, now)
            _check_preview(_rule_change(rule.id, data), affected, preview)
        for name, value in data.model_dump().items():
            setattr(rule, name, value)
        session.flush()
        practitioner = _practitioner(session, rule.practitioner_id, lock=True)
        result = _apply_schedule(uow, practitioner, now)
        uow.commit()
        return result


def remove_schedule_rule(
    actor: Principal | None,
    rule_id: int,
    *,
    preview: str | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ScheduleChangeRead:
    """Remove a weekly pattern: its future appointments are cancelled by the clinic.
    With ``preview`` (the ``preview_token`` of ``preview_schedule_rule_change``) it is
    removed only if it still cancels exactly the appointments shown."""
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        rule = _rule_for_admin(session, actor, rule_id)
        if preview is not None:
            affected = _rule_change_affects(session, rule, None, now)
            _check_preview(_rule_change(rule.id, None), affected, preview)
        practitioner = _practitioner(session, rule.practitioner_id, lock=True)
        session.delete(rule)
        session.flush()
        result = _apply_schedule(uow, practitioner, now)
        uow.commit()
        return result
