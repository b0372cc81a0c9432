"""The rest of medical appointments, on SQLite and PostgreSQL: visits' outcome and
no-shows, clinic-side schedule changes, the waiting list with holds, reminders with
one-click links, and home visits.

Every refusal is checked for what the user notices: its code, its Russian message, and
that nothing was written.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.core.auth import SYSTEM
from infocity.core.models import AuditEntry, OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import (
    Appointment,
    Referral,
    ScheduleRule,
    WaitlistEntry,
)
from infocity.health.schemas import (
    AnonymousBookingCreate,
    AppointmentRead,
    BookingCreate,
    HomeVisitCreate,
    HomeVisitUpdate,
    OutcomeCreate,
    RegistryBookingCreate,
    RescheduleCreate,
    ScheduleExceptionCreate,
    ScheduleRuleUpdate,
    SlotFilter,
    WaitlistEntryCreate,
)
from tests.builders import make_staff
from tests.health_builders import (
    attach,
    city_today,
    get_slot,
    health_snapshot,
    make_child,
    make_clinic,
    make_doctor,
    make_patient,
    make_practitioner,
    make_referral,
    make_slots,
)


def messages(kind: str) -> list[OutboxMessage]:
    with UnitOfWork() as uow:
        found = list(
            uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == kind, OutboxMessage.channel == "inbox")
                .order_by(OutboxMessage.created_at)
            )
        )
        for message in found:
            uow.session.expunge(message)
        return found


def patient_at(clinic_id: int, birth: date = date(1980, 5, 17)) -> Any:
    patient = make_patient(birth)
    attach(patient.person_id, clinic_id)  # type: ignore[arg-type]
    return patient


def book(patient: Any, slot_id: int, **kwargs: Any) -> Any:
    now = kwargs.pop("now", None)
    return service.book_slot(patient.principal, BookingCreate(slot_id=slot_id, **kwargs), now=now)


def entry_of(entry_id: int) -> WaitlistEntry:
    with UnitOfWork() as uow:
        entry = uow.session.get(WaitlistEntry, entry_id)
        assert entry is not None
        uow.session.expunge(entry)
        return entry


def appointment_of(appointment_id: int) -> Appointment:
    with UnitOfWork() as uow:
        appointment = uow.session.get(Appointment, appointment_id)
        assert appointment is not None
        uow.session.expunge(appointment)
        return appointment


# --- Visits' outcome and no-shows --------------------------------------------------


def mark(doctor: Any, appointment_id: int, outcome: str, now: datetime) -> Any:
    return service.mark_appointment_outcome(
        doctor.principal, appointment_id, OutcomeCreate(outcome=outcome), now=now
    )


@pytest.mark.calendar
def test_the_doctor_marks_a_visit_once_its_time_has_come(
    world: dict[str, Any], unchanged: Any
) -> None:
    appointment = book(world["patient"], world["slots"][0])
    doctor = world["doctor"]
    with unchanged("visit_not_started", "только когда подошло его время"):
        mark(doctor, appointment.id, "attended", appointment.starts_at - timedelta(minutes=1))
    colleague = make_doctor(world["clinic"].id)
    with unchanged("not_your_appointment", "Отметить приём может только врач"):
        mark(colleague, appointment.id, "attended", appointment.starts_at)
    elsewhere = make_doctor(make_clinic().id)
    with unchanged("forbidden"):
        mark(elsewhere, appointment.id, "attended", appointment.starts_at)
    with unchanged("forbidden"):
        mark(world["patient"], appointment.id, "attended", appointment.starts_at)
    marked = mark(doctor, appointment.id, "attended", appointment.starts_at + timedelta(minutes=5))
    assert (marked.status, marked.outcome_at is not None) == ("attended", True)
    with unchanged("outcome_already_marked", "уже отмечен"):
        mark(doctor, appointment.id, "no_show", appointment.starts_at + timedelta(minutes=6))
    with UnitOfWork() as uow:
        actions = uow.session.scalars(select(AuditEntry.action)).all()
    assert "health.appointment.outcome" in actions


def test_a_cancelled_appointment_has_no_outcome(world: dict[str, Any], unchanged: Any) -> None:
    appointment = book(world["patient"], world["slots"][0])
    service.cancel_appointment(world["patient"].principal, appointment.id)
    with unchanged("appointment_not_active"):
        mark(world["doctor"], appointment.id, "no_show", appointment.starts_at)


def three_no_shows(world: dict[str, Any]) -> tuple[datetime, list[int]]:
    """The patient misses three appointments on three days; returns the moment of the
    third mark and a slot on a fourth day."""
    therapist, patient, doctor = world["therapist"], world["patient"], world["doctor"]
    now: datetime | None = None
    for offset in (1, 2, 3):
        day = city_today() + timedelta(days=offset)
        slot_id = world["slots"][0] if offset == 1 else make_slots(therapist.id, day)[0]
        appointment = book(patient, slot_id, now=now)
        now = appointment.starts_at + timedelta(minutes=10)
        mark(doctor, appointment.id, "no_show", now)
    assert now is not None
    later = make_slots(therapist.id, city_today() + timedelta(days=4))
    return now, later


@pytest.mark.calendar
def test_three_no_shows_suspend_self_booking_visibly(world: dict[str, Any], unchanged: Any) -> None:
    patient = world["patient"]
    suspended_at, later = three_no_shows(world)
    soon = suspended_at + timedelta(hours=1)
    until = suspended_at + timedelta(days=30)
    with unchanged("booking_suspended", "приостановлена до"):
        book(patient, later[0], now=soon)
    # The kiosk is self-booking too.
    with UnitOfWork() as uow:
        from infocity.accounts.models import Person

        person = uow.session.get(Person, patient.person_id)
        assert person is not None
        oms, birth = person.oms_policy, person.birth_date
    assert oms is not None
    assert birth is not None
    with unchanged("booking_suspended"):
        service.book_by_policy(
            AnonymousBookingCreate(oms_policy=oms, birth_date=birth, slot_id=later[0]), now=soon
        )
    with unchanged("booking_suspended"):
        service.join_waitlist(
            patient.principal,
            WaitlistEntryCreate(specialty_id=world["therapist"].specialty_id),
            now=soon,
        )
    # The patient sees why and until when; they were told when it began.
    status = service.get_booking_status(patient.principal, now=soon)
    assert status.suspended
    assert status.suspended_until == until
    assert status.reason is not None
    assert "пропущено приёмов без отмены: 3" in status.reason
    (told,) = messages("booking_suspended")
    assert told.subject == "Запись через интернет приостановлена"
    # The registrar may still book.
    registrar = make_staff("registrar", world["clinic"].id)
    booked = service.book_for_patient(
        registrar.principal,
        RegistryBookingCreate(patient_id=patient.person_id, slot_id=later[0]),
        now=soon,
    )
    assert booked.status == "booked"
    # Once the suspension has ended, the patient books again.
    after = until + timedelta(minutes=1)
    assert not service.get_booking_status(patient.principal, now=after).suspended


def test_no_shows_below_the_limit_do_not_suspend(world: dict[str, Any]) -> None:
    appointment = book(world["patient"], world["slots"][0])
    mark(world["doctor"], appointment.id, "no_show", appointment.starts_at + timedelta(hours=1))
    status = service.get_booking_status(world["patient"].principal)
    assert (status.suspended, status.no_shows, status.no_show_limit) == (False, 1, 3)
    assert status.reason is None
    assert messages("booking_suspended") == []


# --- Clinic-side schedule changes --------------------------------------------------


@pytest.fixture
def clinic_day(world: dict[str, Any]) -> dict[str, Any]:
    """The world, with a clinic administrator, a second therapist with free times the
    day after tomorrow, and the first slot booked."""
    other = make_practitioner(world["clinic"].id, "therapist")
    spare = make_slots(other.id, city_today() + timedelta(days=2))
    appointment = book(world["patient"], world["slots"][0])
    admin = make_staff("clinic_admin", world["clinic"].id)
    return {**world, "spare": spare, "appointment": appointment, "admin": admin}


def sick_leave(world: dict[str, Any], day: date | None = None) -> ScheduleExceptionCreate:
    day = day or city_today() + timedelta(days=1)
    return ScheduleExceptionCreate(
        practitioner_id=world["therapist"].id, kind="sick_leave", date_from=day, date_to=day
    )


def test_an_absence_is_previewed_then_cancels_by_the_clinic(
    clinic_day: dict[str, Any],
) -> None:
    admin, appointment = clinic_day["admin"], clinic_day["appointment"]
    before = health_snapshot()
    preview = service.preview_schedule_exception(admin.principal, sick_leave(clinic_day))
    assert [a.appointment_id for a in preview] == [appointment.id]
    assert health_snapshot() == before  # a preview writes nothing

    service.add_schedule_exception(admin.principal, sick_leave(clinic_day))
    assert appointment_of(appointment.id).status == "cancelled_by_clinic"
    assert {get_slot(s).status for s in clinic_day["slots"]} == {"blocked"}
    # The patient is told, with the three nearest free times at the clinic...
    (told,) = messages("appointment_cancelled_by_clinic")
    assert told.subject == "Поликлиника отменила запись"
    assert told.body.count("\n- ") == 3
    assert "первым в листе ожидания" in told.body
    # ...and is first on the waiting list of the specialty there.
    with UnitOfWork() as uow:
        (entry,) = uow.session.scalars(select(WaitlistEntry)).all()
        assert (entry.person_id, entry.priority, entry.reason, entry.clinic_id) == (
            appointment.person_id, True, "clinic_cancelled", clinic_day["clinic"].id,
        )  # fmt: skip


def test_an_absence_gives_the_referral_back(clinic_day: dict[str, Any]) -> None:
    cardiologist = make_practitioner(clinic_day["clinic"].id, "cardiologist")
    # After the patient's 09:00 therapist: their appointments may not overlap.
    slot_id = make_slots(cardiologist.id, start=time(11, 0), end=time(12, 0))[0]
    patient = clinic_day["patient"]
    referral = make_referral(patient.person_id, clinic_day["clinic"].id)
    book(patient, slot_id, referral_id=referral.id)
    day = city_today() + timedelta(days=1)
    service.add_schedule_exception(
        SYSTEM,
        ScheduleExceptionCreate(
            practitioner_id=cardiologist.id, kind="vacation", date_from=day, date_to=day
        ),
    )
    with UnitOfWork() as uow:
        stored = uow.session.get(Referral, referral.id)
        assert stored is not None
        assert stored.status == "active"
        entry = uow.session.scalars(
            select(WaitlistEntry).where(WaitlistEntry.specialty_id == cardiologist.specialty_id)
        ).one()
        assert entry.referral_id == referral.id


def test_schedule_changes_are_for_the_clinics_administrators(
    clinic_day: dict[str, Any], unchanged: Any
) -> None:
    stranger = make_staff("clinic_admin", make_clinic().id)
    with unchanged("forbidden"):
        service.add_schedule_exception(stranger.principal, sick_leave(clinic_day))
    with unchanged("forbidden"):
        service.preview_schedule_exception(stranger.principal, sick_leave(clinic_day))
    rule_id = rule_of(clinic_day)
    with unchanged("forbidden"):
        service.remove_schedule_rule(stranger.principal, rule_id)
    with unchanged("schedule_rule_not_found"):
        service.remove_schedule_rule(clinic_day["admin"].principal, 10**9)


def rule_of(world: dict[str, Any]) -> int:
    with UnitOfWork() as uow:
        return (
            uow.session.scalars(
                select(ScheduleRule.id)
                .where(ScheduleRule.practitioner_id == world["therapist"].id)
                .order_by(ScheduleRule.id)
            ).first()
            or 0
        )


def test_narrower_hours_cancel_only_what_they_no_longer_cover(clinic_day: dict[str, Any]) -> None:
    admin, slots = clinic_day["admin"], clinic_day["slots"]
    later = book(make_patient_at(clinic_day), slots[3])  # 09:45
    day = city_today() + timedelta(days=1)
    change = ScheduleRuleUpdate(
        weekday=day.weekday(), start_time=time(9, 0), end_time=time(9, 30),
        valid_from=day, valid_to=day,
    )  # fmt: skip
    rule_id = rule_of(clinic_day)
    before = health_snapshot()
    preview = service.preview_schedule_rule_change(admin.principal, rule_id, change)
    assert [a.appointment_id for a in preview] == [later.id]
    assert health_snapshot() == before
    result = service.change_schedule_rule(admin.principal, rule_id, change)
    assert result.cancelled_appointments == [later.id]
    assert result.blocked_slots == 2  # 09:30 (free) and 09:45 (booked)
    assert appointment_of(clinic_day["appointment"].id).status == "booked"
    assert [get_slot(s).status for s in slots] == ["booked", "free", "blocked", "blocked"]


def make_patient_at(world: dict[str, Any]) -> Any:
    return patient_at(world["clinic"].id)


def test_removing_a_rule_cancels_its_appointments(clinic_day: dict[str, Any]) -> None:
    admin = clinic_day["admin"]
    rule_id = rule_of(clinic_day)
    preview = service.preview_schedule_rule_change(admin.principal, rule_id, None)
    assert [a.appointment_id for a in preview] == [clinic_day["appointment"].id]
    result = service.remove_schedule_rule(admin.principal, rule_id)
    assert result.cancelled_appointments == [clinic_day["appointment"].id]
    assert {get_slot(s).status for s in clinic_day["slots"]} == {"blocked"}
    assert len(messages("appointment_cancelled_by_clinic")) == 1


# --- Waiting list ------------------------------------------------------------------


@pytest.fixture
def full_day(world: dict[str, Any]) -> dict[str, Any]:
    """Every slot of the day booked by four patients; two more patients on the waiting
    list (the first joined earlier)."""
    holders = [make_patient_at(world) for _ in world["slots"]]
    appointments = [book(p, s) for p, s in zip(holders, world["slots"], strict=True)]
    waiting = [make_patient_at(world) for _ in range(2)]
    specialty_id = world["therapist"].specialty_id
    entries = [
        service.join_waitlist(p.principal, WaitlistEntryCreate(specialty_id=specialty_id))
        for p in waiting
    ]
    assert [e.status for e in entries] == ["waiting", "waiting"]
    assert entries[0].clinic_id == world["clinic"].id  # defaults to the attached clinic
    return {**world, "holders": holders, "appointments": appointments,
            "waiting": waiting, "entries": entries}  # fmt: skip


@pytest.mark.calendar
def test_a_freed_slot_is_held_for_the_first_in_line(
    full_day: dict[str, Any], unchanged: Any
) -> None:
    first, second = full_day["entries"]
    freed = full_day["appointments"][1]
    service.cancel_appointment(full_day["holders"][1].principal, freed.id)
    slot = get_slot(freed.slot_id)
    assert (slot.status, slot.held_for_entry_id) == ("held", first.id)
    assert slot.held_until is not None
    assert entry_of(first.id).status == "holding"
    assert entry_of(second.id).status == "waiting"
    (told,) = messages("waitlist_hold")
    assert told.subject == "Для вас придержано время"
    # Hidden from search, refused to everyone else.
    found = service.search_free_slots(SlotFilter(specialty_id=full_day["therapist"].specialty_id))
    assert freed.slot_id not in [s.id for s in found]
    other = make_patient_at(full_day)
    with unchanged("slot_held", "зарезервировано для пациента из листа ожидания"):
        book(other, freed.slot_id)
    # The list shows the held time.
    (mine,) = service.list_my_waitlist(full_day["waiting"][0].principal)
    assert (mine.held_slot_id, mine.held_starts_at) == (freed.slot_id, slot.starts_at)
    # Accepting books it through the usual path.
    appointment = service.accept_hold(full_day["waiting"][0].principal, first.id)
    assert (appointment.slot_id, appointment.status) == (freed.slot_id, "booked")
    assert get_slot(freed.slot_id).status == "booked"
    assert (entry_of(first.id).status, entry_of(first.id).appointment_id) == (
        "booked", appointment.id,
    )  # fmt: skip
    with unchanged("waitlist_entry_closed"):
        service.accept_hold(full_day["waiting"][0].principal, first.id)


def test_priority_comes_before_age(full_day: dict[str, Any]) -> None:
    # A patient the clinic cancelled on joins last but is served first.
    late = make_patient_at(full_day)
    with UnitOfWork() as uow:
        from infocity.health.service.schedules import _prioritise

        _prioritise(
            uow.session,
            AppointmentRead.model_validate(
                {**full_day["appointments"][0].model_dump(), "person_id": late.person_id}
            ),
            full_day["appointments"][0].created_at,
        )
        uow.commit()
        priority_id = uow.session.scalars(
            select(WaitlistEntry.id).where(WaitlistEntry.person_id == late.person_id)
        ).one()
    freed = full_day["appointments"][2]
    service.cancel_appointment(full_day["holders"][2].principal, freed.id)
    assert get_slot(freed.slot_id).held_for_entry_id == priority_id


def test_declining_passes_the_slot_on_and_keeps_waiting(full_day: dict[str, Any]) -> None:
    first, second = full_day["entries"]
    freed = full_day["appointments"][0]
    service.cancel_appointment(full_day["holders"][0].principal, freed.id)
    declined = service.decline_hold(full_day["waiting"][0].principal, first.id)
    assert declined.status == "waiting"
    assert get_slot(freed.slot_id).held_for_entry_id == second.id
    # Declined by the second too: it is free again, never offered twice to the same place.
    service.decline_hold(full_day["waiting"][1].principal, second.id)
    assert get_slot(freed.slot_id).status == "free"
    service.release_due_slots()
    assert get_slot(freed.slot_id).status == "free"


@pytest.mark.calendar
def test_an_unanswered_hold_expires_and_goes_to_the_next(
    full_day: dict[str, Any], unchanged: Any
) -> None:
    first, second = full_day["entries"]
    freed = full_day["appointments"][0]
    service.cancel_appointment(full_day["holders"][0].principal, freed.id)
    held_until = get_slot(freed.slot_id).held_until
    assert held_until is not None
    assert service.release_due_slots(held_until - timedelta(seconds=1)) == 0
    assert service.release_due_slots(held_until) == 1
    assert entry_of(first.id).status == "expired"
    assert get_slot(freed.slot_id).held_for_entry_id == second.id
    with unchanged("waitlist_entry_closed"):
        service.accept_hold(full_day["waiting"][0].principal, first.id, now=held_until)


def test_accepting_after_the_hold_ran_out(full_day: dict[str, Any], unchanged: Any) -> None:
    first, _ = full_day["entries"]
    freed = full_day["appointments"][0]
    service.cancel_appointment(full_day["holders"][0].principal, freed.id)
    held_until = get_slot(freed.slot_id).held_until
    assert held_until is not None
    with unchanged("no_active_hold", "время было снято или истекло"):
        service.accept_hold(full_day["waiting"][0].principal, first.id, now=held_until)


def test_leaving_passes_a_held_slot_on(full_day: dict[str, Any], unchanged: Any) -> None:
    first, second = full_day["entries"]
    freed = full_day["appointments"][0]
    service.cancel_appointment(full_day["holders"][0].principal, freed.id)
    left = service.leave_waitlist(full_day["waiting"][0].principal, first.id)
    assert left.status == "left"
    assert get_slot(freed.slot_id).held_for_entry_id == second.id
    with unchanged("waitlist_entry_closed"):
        service.leave_waitlist(full_day["waiting"][0].principal, first.id)
    with unchanged("waitlist_entry_not_found"):
        service.leave_waitlist(full_day["waiting"][1].principal, first.id)


def test_a_reschedule_frees_a_slot_for_the_waiting_list(full_day: dict[str, Any]) -> None:
    first, _ = full_day["entries"]
    spare = make_slots(full_day["therapist"].id, city_today() + timedelta(days=3))
    moved = full_day["appointments"][3]
    # The entry's window is one day: the later day does not match it.
    service.reschedule_appointment(
        full_day["holders"][3].principal, moved.id, RescheduleCreate(slot_id=spare[0])
    )
    assert get_slot(moved.slot_id).held_for_entry_id == first.id


def test_joining_refusals(full_day: dict[str, Any], unchanged: Any) -> None:
    waiting = full_day["waiting"][0]
    specialty_id = full_day["therapist"].specialty_id
    with unchanged("already_on_waitlist", "уже в листе ожидания"):
        service.join_waitlist(waiting.principal, WaitlistEntryCreate(specialty_id=specialty_id))
    newcomer = make_patient_at(full_day)
    with unchanged("invalid_waitlist"):
        service.join_waitlist(
            newcomer.principal,
            WaitlistEntryCreate(specialty_id=specialty_id, time_from=time(12), time_to=time(9)),
        )
    unattached = make_patient()  # made outside: signing up queues its confirmation link
    with unchanged("not_attached"):
        service.join_waitlist(unattached.principal, WaitlistEntryCreate(specialty_id=specialty_id))
    cardiology = service.list_specialties()
    cardiologist_id = next(s.id for s in cardiology if s.code == "cardiologist")
    with unchanged("referral_required"):
        service.join_waitlist(newcomer.principal, WaitlistEntryCreate(specialty_id=cardiologist_id))
    with unchanged("not_your_patient"):
        service.join_waitlist(
            newcomer.principal,
            WaitlistEntryCreate(specialty_id=specialty_id, patient_id=waiting.person_id),
        )


def test_a_window_that_matches_a_free_slot_is_held_at_once(world: dict[str, Any]) -> None:
    patient = world["patient"]
    entry = service.join_waitlist(
        patient.principal,
        WaitlistEntryCreate(
            specialty_id=world["therapist"].specialty_id, time_from=time(9, 30), time_to=time(10)
        ),
    )
    assert entry.status == "holding"
    assert entry.held_slot_id == world["slots"][2]  # 09:30, the first in the window


def test_a_child_on_the_waiting_list(database: str) -> None:
    kids = make_clinic("children")
    paediatrician = make_practitioner(kids.id, "paediatrician")
    (slot_id,) = make_slots(paediatrician.id, end=time(9, 15))
    parent = make_patient()
    child = make_child(parent)
    attach(child.id, kids.id)
    other_child = make_child(make_patient())
    attach(other_child.id, kids.id)
    service.book_for_patient(
        make_staff("registrar", kids.id).principal,
        RegistryBookingCreate(patient_id=other_child.id, slot_id=slot_id),
    )
    entry = service.join_waitlist(
        parent.principal,
        WaitlistEntryCreate(specialty_id=paediatrician.specialty_id, patient_id=child.id),
    )
    assert (entry.person_id, entry.status) == (child.id, "waiting")
    assert [e.id for e in service.list_my_waitlist(parent.principal)] == [entry.id]


# --- Reminders and one-click links -------------------------------------------------


@pytest.fixture
def booked_early(world: dict[str, Any]) -> Any:
    """An appointment tomorrow, booked two days before it."""
    slot = get_slot(world["slots"][0])
    return book(world["patient"], slot.id, now=slot.starts_at - timedelta(days=2))


@pytest.mark.calendar
def test_reminders_a_day_and_two_hours_before_once_each(booked_early: Any) -> None:
    starts = booked_early.starts_at
    assert service.send_due_reminders(now=starts - timedelta(hours=25)) == 0
    assert service.send_due_reminders(now=starts - timedelta(hours=23)) == 1
    assert service.send_due_reminders(now=starts - timedelta(hours=22)) == 0  # never twice
    assert service.send_due_reminders(now=starts - timedelta(hours=1)) == 1
    assert service.send_due_reminders(now=starts - timedelta(minutes=30)) == 0
    reminders = messages("appointment_reminder")
    assert len(reminders) == 2
    assert reminders[0].subject == "Напоминание о записи к врачу"
    # The links open pages (a click in an e-mail is a GET), absolute from the base URL.
    base = get_settings().base_url.rstrip("/")
    for action in ("confirm", "cancel"):
        link = f"{base}/health/appointments/{booked_early.id}/{action}?token="
        assert link in reminders[0].body


@pytest.mark.calendar
def test_no_day_before_reminder_for_a_late_booking(world: dict[str, Any]) -> None:
    slot = get_slot(world["slots"][1])
    appointment = book(world["patient"], slot.id, now=slot.starts_at - timedelta(hours=5))
    assert service.send_due_reminders(now=appointment.starts_at - timedelta(hours=4)) == 0
    assert service.send_due_reminders(now=appointment.starts_at - timedelta(hours=2)) == 1


def test_one_click_confirm(booked_early: Any, unchanged: Any) -> None:
    token = service.appointment_link_token(booked_early.id, "confirm", booked_early.starts_at)
    confirmed = service.confirm_by_link(booked_early.id, token)
    assert confirmed.confirmed_at is not None
    with unchanged("invalid_link", "Ссылка недействительна"):
        service.confirm_by_link(booked_early.id, token + "x")
    cancel_token = service.appointment_link_token(booked_early.id, "cancel", booked_early.starts_at)
    with unchanged("invalid_link"):
        service.confirm_by_link(booked_early.id, cancel_token)  # scoped to its action
    with unchanged("invalid_link"):
        service.confirm_by_link(booked_early.id + 1, token)  # scoped to its appointment
    with unchanged("invalid_link"):
        service.cancel_by_link(booked_early.id, cancel_token, now=booked_early.starts_at)


def test_one_click_cancel_frees_the_slot_for_the_waiting_list(
    world: dict[str, Any], booked_early: Any, client: TestClient
) -> None:
    # Everything else that day is taken; someone is waiting.
    for slot_id in world["slots"][1:]:
        book(make_patient_at(world), slot_id)
    waiting = make_patient_at(world)
    entry = service.join_waitlist(
        waiting.principal, WaitlistEntryCreate(specialty_id=world["therapist"].specialty_id)
    )
    token = service.appointment_link_token(booked_early.id, "cancel", booked_early.starts_at)
    answer = client.post(
        f"/api/v1/health/appointments/{booked_early.id}/cancel", params={"token": token}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "cancelled_by_patient"
    assert get_slot(booked_early.slot_id).held_for_entry_id == entry.id
    again = client.post(
        f"/api/v1/health/appointments/{booked_early.id}/cancel", params={"token": token}
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "appointment_not_active")
    forged = client.post(
        f"/api/v1/health/appointments/{booked_early.id}/confirm", params={"token": "forged"}
    )
    assert (forged.status_code, forged.json()["error"]["code"]) == (404, "invalid_link")


# --- Home visits -------------------------------------------------------------------


def visit_request(**changes: Any) -> HomeVisitCreate:
    data = {
        "address": "Москва, Тверская ул., 7, кв. 12",
        "reason": "Температура 38,5",
        "contact_phone": "8 (916) 123-45-67",
        **changes,
    }
    return HomeVisitCreate(**data)


def test_a_home_visit_from_request_to_done(world: dict[str, Any], unchanged: Any) -> None:
    patient = world["patient"]
    visit = service.request_home_visit(patient.principal, visit_request())
    assert (visit.status, visit.contact_phone, visit.clinic_id) == (
        "new", "+79161234567", world["clinic"].id,
    )  # fmt: skip
    registrar = make_staff("registrar", world["clinic"].id)
    queue = service.list_home_visit_queue(registrar.principal, world["clinic"].id)
    assert [v.id for v in queue] == [visit.id]
    with unchanged("home_visit_status_conflict", "больше не в том состоянии"):
        service.update_home_visit(registrar.principal, visit.id, HomeVisitUpdate(status="done"))
    service.update_home_visit(registrar.principal, visit.id, HomeVisitUpdate(status="accepted"))
    with unchanged("practitioner_required"):
        service.update_home_visit(registrar.principal, visit.id, HomeVisitUpdate(status="assigned"))
    elsewhere = make_practitioner(make_clinic().id)
    with unchanged("practitioner_not_found"):
        service.update_home_visit(
            registrar.principal,
            visit.id,
            HomeVisitUpdate(status="assigned", practitioner_id=elsewhere.id),
        )
    assigned = service.update_home_visit(
        registrar.principal,
        visit.id,
        HomeVisitUpdate(status="assigned", practitioner_id=world["therapist"].id),
    )
    assert assigned.practitioner_id == world["therapist"].id
    done = service.update_home_visit(registrar.principal, visit.id, HomeVisitUpdate(status="done"))
    assert done.status == "done"
    subjects = [m.subject for m in messages("home_visit_status")]
    assert subjects == [
        "Заявка на вызов врача на дом получена",
        "Заявка на вызов врача на дом принята",
        "К вам придёт врач",
        "Вызов врача на дом выполнен",
    ]
    assert world["therapist"].name in messages("home_visit_status")[2].body
    with unchanged("home_visit_status_conflict"):
        service.cancel_home_visit(patient.principal, visit.id)
    assert [v.status for v in service.list_my_home_visits(patient.principal)] == ["done"]


def test_home_visit_refusals(world: dict[str, Any], unchanged: Any) -> None:
    patient = world["patient"]
    with unchanged("invalid_phone", "Введите российский номер телефона"):
        service.request_home_visit(patient.principal, visit_request(contact_phone="12345"))
    stranger = make_patient()  # made outside: signing up queues its confirmation link
    with unchanged("not_attached", "прикрепите пациента"):
        service.request_home_visit(stranger.principal, visit_request())
    visit = service.request_home_visit(patient.principal, visit_request())
    other_registrar = make_staff("registrar", make_clinic().id)
    with unchanged("forbidden"):
        service.list_home_visit_queue(other_registrar.principal, world["clinic"].id)
    with unchanged("forbidden"):
        service.update_home_visit(
            other_registrar.principal, visit.id, HomeVisitUpdate(status="accepted")
        )
    with unchanged("forbidden"):
        service.list_home_visit_queue(world["doctor"].principal, world["clinic"].id)
    with unchanged("home_visit_not_found"):
        service.cancel_home_visit(stranger.principal, visit.id)
    assert service.cancel_home_visit(patient.principal, visit.id).status == "cancelled"


def test_a_home_visit_for_a_child_over_the_api(client: TestClient) -> None:
    from tests.builders import api_token, bearer

    kids = make_clinic("children")
    parent = make_patient()
    child = make_child(parent)
    attach(child.id, kids.id)
    headers = bearer(api_token(client, parent.identifier, parent.password))
    answer = client.post(
        "/api/v1/health/home-visits",
        json={**visit_request().model_dump(exclude={"patient_id"}), "patient_id": child.id},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["clinic_id"] == kids.id
    admin = make_staff("clinic_admin", kids.id)
    admin_headers = bearer(api_token(client, admin.identifier, admin.password))
    queue = client.get(
        f"/api/v1/health/clinics/{kids.id}/home-visits",
        params={"status": "new"},
        headers=admin_headers,
    )
    assert [v["id"] for v in queue.json()] == [answer.json()["id"]]
    moved = client.patch(
        f"/api/v1/health/home-visits/{answer.json()['id']}",
        json={"status": "accepted"},
        headers=admin_headers,
    )
    assert moved.json()["status"] == "accepted"
    bad = client.post(
        "/api/v1/health/home-visits",
        json={**visit_request().model_dump(exclude={"patient_id"}), "contact_phone": "12345"},
        headers=headers,
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_phone")
