"""The staff's tools in health, through the use cases and the pages (real forms with
CSRF), on SQLite and PostgreSQL: the clinic administrator opens a doctor's post and
changes schedules only after a preview of what the change cancels."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import httpx
import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.core.errors import AppError
from infocity.core.models import AuditEntry, OutboxMessage
from infocity.core.uow import UnitOfWork
from infocity.health import reads, service
from infocity.health.models import Appointment, Practitioner, ScheduleRule, Slot
from infocity.health.schemas import (
    BookingCreate,
    DoctorPostCreate,
    HomeVisitCreate,
    HomeVisitUpdate,
    OutcomeCreate,
    ReferralCreate,
    ScheduleExceptionCreate,
    ScheduleRuleCreate,
    ScheduleRuleUpdate,
)
from tests.builders import Account, logged_in, make_staff
from tests.health_builders import (
    attach,
    city_today,
    make_clinic,
    make_doctor,
    make_patient,
    make_practitioner,
    make_slots,
)
from tests.support.forms import submit


@dataclass
class Clinic:
    clinic_id: int
    children_clinic_id: int
    doctor: Account
    admin: Account
    patient: Account
    practitioner_id: int
    slots: list[int]
    day: date


@pytest.fixture
def clinic(database: str) -> Clinic:
    adult = make_clinic()
    children = make_clinic("children")
    practitioner = make_practitioner(adult.id, "therapist")
    day = city_today() + timedelta(days=1)
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, adult.id)
    return Clinic(
        clinic_id=adult.id,
        children_clinic_id=children.id,
        doctor=make_staff("doctor", adult.id, display_name="Смирнова Ольга"),
        admin=make_staff("clinic_admin", adult.id),
        patient=patient,
        practitioner_id=practitioner.id,
        slots=make_slots(practitioner.id, day),
        day=day,
    )


def _book(clinic: Clinic, slot_id: int, patient: Account | None = None) -> int:
    patient = patient or clinic.patient
    appointment = service.book_slot(patient.principal, BookingCreate(slot_id=slot_id))
    return appointment.id


def _status(appointment_id: int) -> str:
    with UnitOfWork() as uow:
        found = uow.session.get(Appointment, appointment_id)
        assert found is not None
        return found.status


# --- 1. A doctor's post ---------------------------------------------------------------


def test_clinic_admin_opens_a_post_for_a_doctor_account(clinic: Clinic) -> None:
    post = service.open_doctor_post(
        clinic.admin.principal,
        DoctorPostCreate(
            clinic_id=clinic.clinic_id,
            user_id=clinic.doctor.id,
            specialty_code="cardiologist",
            room="214",
        ),
    )
    assert (post.name, post.room, post.user_id) == ("Смирнова Ольга", "214", clinic.doctor.id)

    def refused(**changes: object) -> str:
        data = {
            "clinic_id": clinic.clinic_id,
            "user_id": clinic.doctor.id,
            "specialty_code": "neurologist",
            "room": "215",
            **changes,
        }
        with pytest.raises(AppError) as caught:
            service.open_doctor_post(clinic.admin.principal, DoctorPostCreate(**data))
        return caught.value.code

    assert refused(specialty_code="cardiologist") == "doctor_post_exists"
    assert refused(user_id=clinic.admin.id) == "not_a_doctor_here"  # not a doctor account
    other_doctor = make_doctor(clinic.children_clinic_id)
    assert refused(user_id=other_doctor.id) == "not_a_doctor_here"  # a doctor elsewhere
    assert refused(specialty_code="paediatrician") == "specialty_not_for_clinic"
    assert refused(specialty_code="no_such") == "specialty_not_found"
    with UnitOfWork() as uow:
        posts = uow.session.scalar(
            select(func.count())
            .select_from(Practitioner)
            .where(Practitioner.user_id == clinic.doctor.id)
        )
    assert posts == 1


def test_the_post_form_lists_the_clinics_doctors_and_says_why_it_refuses(
    clinic: Clinic, client: TestClient
) -> None:
    admin = logged_in(client, clinic.admin)
    page = admin.get("/clinic-admin")
    assert "Открыть должность врача" in page.text
    assert f'<option value="{clinic.doctor.id}" >Смирнова Ольга</option>' in page.text
    assert 'value="paediatrician"' not in page.text  # an adult polyclinic
    form = {"clinic_id": clinic.clinic_id, "user_id": clinic.doctor.id, "room": "301"}
    opened = submit(
        admin, page, "/clinic-admin/posts", {**form, "specialty_code": "otolaryngologist"}
    )
    assert opened.status_code == 303
    page = admin.get(opened.headers["location"])
    assert "Должность врача открыта" in page.text
    assert "Смирнова Ольга — " in page.text
    assert "каб. 301" in page.text

    again = submit(
        admin, page, "/clinic-admin/posts", {**form, "specialty_code": "otolaryngologist"}
    )
    assert again.status_code == 409
    assert "У этого врача уже есть должность этой специальности" in again.text
    assert 'value="301"' in again.text


# --- 2. Schedules ---------------------------------------------------------------------


def test_a_new_weekly_rule_opens_its_times_at_once(clinic: Clinic) -> None:
    post = make_practitioner(clinic.clinic_id, "therapist")
    tomorrow = city_today() + timedelta(days=1)
    service.set_schedule_rule(
        clinic.admin.principal,
        ScheduleRuleCreate(
            practitioner_id=post.id,
            weekday=tomorrow.weekday(),
            start_time=time(9),
            end_time=time(10),
            valid_from=city_today(),
        ),
    )
    with UnitOfWork() as uow:  # no job has run: the slots are there
        slots = uow.session.scalar(
            select(func.count()).select_from(Slot).where(Slot.practitioner_id == post.id)
        )
    assert (slots or 0) >= 1


def test_overlapping_and_past_rules_are_refused_with_the_reason(clinic: Clinic) -> None:
    today = city_today()

    def rule(start: int, end: int, valid_from: date) -> ScheduleRuleCreate:
        return ScheduleRuleCreate(
            practitioner_id=clinic.practitioner_id,
            weekday=clinic.day.weekday(),
            start_time=time(start),
            end_time=time(end),
            valid_from=valid_from,
        )

    with pytest.raises(AppError) as overlap:  # make_slots' rule works 9–10 that day
        service.set_schedule_rule(clinic.admin.principal, rule(8, 12, today))
    assert overlap.value.code == "overlapping_schedule"
    assert overlap.value.params == {"start": "09:00", "end": "10:00"}
    with pytest.raises(AppError) as past:
        service.set_schedule_rule(clinic.admin.principal, rule(14, 16, date(2020, 1, 1)))
    assert (past.value.code, past.value.field) == ("invalid_schedule", "valid_from")
    added = service.set_schedule_rule(clinic.admin.principal, rule(10, 12, clinic.day))
    with pytest.raises(AppError) as moved:  # a change may not overlap either
        service.change_schedule_rule(
            clinic.admin.principal,
            added.id,
            ScheduleRuleUpdate(
                weekday=clinic.day.weekday(),
                start_time=time(9, 30),
                end_time=time(12),
                valid_from=clinic.day,
            ),
        )
    assert moved.value.code == "overlapping_schedule"


def test_an_absence_applies_only_with_the_preview_still_true(clinic: Clinic) -> None:
    first = _book(clinic, clinic.slots[0])
    absence = ScheduleExceptionCreate(
        practitioner_id=clinic.practitioner_id,
        kind="sick_leave",
        date_from=clinic.day,
        date_to=clinic.day,
    )
    affected = service.preview_schedule_exception(clinic.admin.principal, absence)
    token = service.exception_preview_token(absence, affected)
    with pytest.raises(AppError) as missing:
        service.add_schedule_exception(clinic.admin.principal, absence, preview="")
    assert missing.value.code == "preview_outdated"
    neighbour = make_patient()
    assert neighbour.person_id is not None
    attach(neighbour.person_id, clinic.clinic_id)
    _book(clinic, clinic.slots[1], neighbour)  # booked after the preview was seen
    with pytest.raises(AppError) as stale:
        service.add_schedule_exception(clinic.admin.principal, absence, preview=token)
    assert stale.value.code == "preview_outdated"
    assert _status(first) == "booked"

    affected = service.preview_schedule_exception(clinic.admin.principal, absence)
    token = service.exception_preview_token(absence, affected)
    recorded = service.add_schedule_exception(clinic.admin.principal, absence, preview=token)
    assert len(recorded.cancelled_appointments) == 2
    assert _status(first) == "cancelled_by_clinic"


def _preview_token(page: httpx.Response) -> str:
    token = re.search(r'name="preview" value="([0-9a-f]+)"', page.text)
    assert token, "no preview to apply"
    return token.group(1)


def test_schedule_page_previews_at_the_top_and_reports_the_count(
    clinic: Clinic, client: TestClient
) -> None:
    booked = _book(clinic, clinic.slots[0])
    admin = logged_in(client, clinic.admin)
    page = admin.get("/clinic-admin")
    absence = {
        "clinic_id": clinic.clinic_id,
        "practitioner_id": clinic.practitioner_id,
        "kind": "vacation",
        "date_from": clinic.day.isoformat(),
        "date_to": clinic.day.isoformat(),
    }
    blind = submit(admin, page, "/clinic-admin/exceptions", {**absence, "step": "apply"})
    assert blind.status_code == 409  # no preview seen: the preview is shown instead
    assert "Сначала посмотрите" in blind.text
    assert _status(booked) == "booked"

    preview = submit(admin, page, "/clinic-admin/exceptions", {**absence, "step": "preview"})
    assert preview.status_code == 200
    # The preview opens the page: before every doctor's section and form.
    top = preview.text.index('id="pending"')
    assert top < preview.text.index('<section class="card" aria-labelledby="p-')
    assert preview.text.index("Затронутые записи") > top
    applied = submit(
        admin,
        preview,
        "/clinic-admin/exceptions",
        {**absence, "step": "apply", "preview": _preview_token(preview)},
    )
    assert applied.status_code == 303
    done = admin.get(applied.headers["location"])
    assert "Отменено записей: 1" in done.text
    assert _status(booked) == "cancelled_by_clinic"
    assert "Отпуск" in done.text  # the recorded absence is listed


def test_weekly_rules_are_changed_and_deleted_from_the_page_with_preview(
    clinic: Clinic, client: TestClient
) -> None:
    booked = _book(clinic, clinic.slots[-1])  # 09:45, the rule's last time
    with UnitOfWork() as uow:
        rule_id = uow.session.scalar(
            select(ScheduleRule.id).where(ScheduleRule.practitioner_id == clinic.practitioner_id)
        )
    assert rule_id is not None
    admin = logged_in(client, clinic.admin)
    page = admin.get("/clinic-admin")
    assert f'href="/clinic-admin/rules/{rule_id}?' in page.text
    edit = admin.get(f"/clinic-admin/rules/{rule_id}", params={"clinic": clinic.clinic_id})
    assert 'id="edit-rule"' in edit.text
    assert 'value="09:00"' in edit.text
    shorter = {
        "clinic_id": clinic.clinic_id,
        "weekday": clinic.day.weekday(),
        "start_time": "09:00",
        "end_time": "09:30",
        "valid_from": clinic.day.isoformat(),
        "valid_to": clinic.day.isoformat(),
    }
    preview = submit(admin, edit, f"/clinic-admin/rules/{rule_id}", {**shorter, "step": "preview"})
    assert preview.status_code == 200
    assert "Проверьте изменение расписания" in preview.text
    changed = submit(
        admin,
        preview,
        f"/clinic-admin/rules/{rule_id}",
        {**shorter, "step": "apply", "preview": _preview_token(preview)},
    )
    assert changed.status_code == 303
    assert "Отменено записей: 1" in admin.get(changed.headers["location"]).text
    assert _status(booked) == "cancelled_by_clinic"

    removal = f"/clinic-admin/rules/{rule_id}/delete"
    blind = submit(admin, page, removal, {"clinic_id": clinic.clinic_id, "step": "apply"})
    assert blind.status_code == 409  # not seen: the preview is shown, with its button
    assert _preview_token(blind)
    delete = submit(admin, page, removal, {"clinic_id": clinic.clinic_id, "step": "preview"})
    assert "Проверьте удаление расписания" in delete.text
    apply = {"clinic_id": clinic.clinic_id, "step": "apply", "preview": _preview_token(delete)}
    removed = submit(admin, delete, removal, apply)
    assert removed.status_code == 303
    with UnitOfWork() as uow:
        assert uow.session.get(ScheduleRule, rule_id) is None


def test_the_rule_form_says_why_an_overlapping_or_past_rule_is_refused(
    clinic: Clinic, client: TestClient
) -> None:
    admin = logged_in(client, clinic.admin)
    page = admin.get("/clinic-admin")
    rule = {
        "clinic_id": clinic.clinic_id,
        "practitioner_id": clinic.practitioner_id,
        "weekday": clinic.day.weekday(),
        "start_time": "09:30",
        "end_time": "11:00",
        "valid_from": clinic.day.isoformat(),
    }
    overlap = submit(admin, page, "/clinic-admin/rules", rule)
    assert overlap.status_code == 422
    assert "Врач уже работает 09:00–10:00" in overlap.text
    afternoon = {"start_time": "14:00", "end_time": "15:00", "valid_from": "2020-01-01"}
    past = submit(admin, page, "/clinic-admin/rules", {**rule, **afternoon})
    assert past.status_code == 422
    assert "Расписание не может начинаться в прошлом" in past.text


# --- 3. The registrar's desk ----------------------------------------------------------


def test_registrar_finds_patients_by_surname_and_birth_date(clinic: Clinic) -> None:
    registrar = make_staff("registrar", clinic.clinic_id)
    namesake = make_patient()  # the same name and birth date, attached here too
    assert namesake.person_id is not None
    attach(namesake.person_id, clinic.clinic_id)
    elsewhere = make_patient()  # not a patient of this polyclinic: never shown
    assert elsewhere.person_id is not None

    found = reads.find_patients_by_name(
        registrar.principal, clinic.clinic_id, "иванова", date(1980, 5, 17)
    )
    assert {p.id for p in found} == {clinic.patient.person_id, namesake.person_id}
    assert {p.name for p in found} == {"Иванова Анна"}
    assert (
        reads.find_patients_by_name(
            registrar.principal, clinic.clinic_id, "Иванова", date(1980, 5, 18)
        )
        == []
    )
    with UnitOfWork() as uow:
        looked_up = uow.session.scalars(
            select(AuditEntry.subject_person_id).where(AuditEntry.action == "health.patient.lookup")
        ).all()
    assert sorted(p for p in looked_up if p) == sorted(p.id for p in found)


def test_registrar_cancels_with_a_reason_the_patient_is_told(clinic: Clinic) -> None:
    registrar = make_staff("registrar", clinic.clinic_id)
    appointment = _book(clinic, clinic.slots[0])
    service.cancel_appointment(registrar.principal, appointment, reason="Врач  на учёбе")
    with UnitOfWork() as uow:
        stored = uow.session.get(Appointment, appointment)
        assert stored is not None
        assert (stored.status, stored.cancel_reason) == ("cancelled_by_patient", "Врач на учёбе")
        bodies = uow.session.scalars(
            select(OutboxMessage.body).where(OutboxMessage.kind == "appointment_cancelled")
        ).all()
    assert bodies
    assert all("Причина, указанная поликлиникой: Врач на учёбе" in b for b in bodies)


def test_the_desk_finds_books_prints_and_cancels_with_confirmation(
    clinic: Clinic, client: TestClient
) -> None:
    desk = logged_in(client, make_staff("registrar", clinic.clinic_id))
    page = desk.get("/registry/patients", params={"clinic": clinic.clinic_id})
    by_name = {"clinic_id": clinic.clinic_id, "last_name": "Иванова", "birth_date": "1980-05-17"}
    nothing = submit(desk, page, "/registry/patients", {"clinic_id": clinic.clinic_id})
    assert nothing.status_code == 422
    assert "Укажите номер полиса или фамилию и дату рождения" in nothing.text
    found = submit(desk, page, "/registry/patients", by_name)
    assert found.status_code == 303  # one patient: straight to the card
    card = desk.get(found.headers["location"])
    assert "Иванова Анна" in card.text

    booked = submit(
        desk,
        card,
        f"/registry/patients/{clinic.patient.person_id}/book",
        {"clinic_id": clinic.clinic_id, "slot_id": clinic.slots[1], "specialty": "therapist"},
    )
    assert booked.status_code == 303
    ticket = desk.get(booked.headers["location"])
    assert "Пациент записан. Распечатайте талон и отдайте его пациенту." in ticket.text
    assert "Вы записаны" not in ticket.text
    assert "data-print" in ticket.text
    with UnitOfWork() as uow:
        appointment_id = uow.session.scalar(select(Appointment.id))

    card = desk.get(f"/registry/patients/{clinic.patient.person_id}?clinic={clinic.clinic_id}")
    confirm_link = re.search(r'href="(/registry/appointments/\d+/cancel\?[^"]+)"', card.text)
    assert confirm_link
    confirm = desk.get(confirm_link.group(1).replace("&amp;", "&"))
    assert "Отменить запись?" in confirm.text
    cancel = f"/registry/appointments/{appointment_id}/cancel"
    back = f"/registry/patients/{clinic.patient.person_id}?clinic={clinic.clinic_id}"
    no_reason = submit(desk, confirm, cancel, {"next": back, "reason": " "})
    assert no_reason.status_code == 422
    assert "Укажите причину отмены" in no_reason.text
    assert _status(appointment_id or 0) == "booked"
    done = submit(desk, confirm, cancel, {"next": back, "reason": "Пациент попросил по телефону"})
    assert done.status_code == 303
    assert _status(appointment_id or 0) == "cancelled_by_patient"


# --- 4. The doctor ---------------------------------------------------------------------


def _doctor_with_a_booked_visit(clinic: Clinic) -> tuple[Account, int, datetime]:
    """The clinic's doctor account with a post, a patient booked with them, and the
    instant a minute into the visit."""
    post = make_practitioner(clinic.clinic_id, "surgeon", user_id=clinic.doctor.id)
    slots = make_slots(post.id, clinic.day)
    appointment = _book(clinic, slots[0])
    with UnitOfWork() as uow:
        found = uow.session.get(Appointment, appointment)
        assert found is not None
        started = found.starts_at + timedelta(minutes=1)
    return clinic.doctor, appointment, started


def test_doctor_undoes_a_mistaken_mark_the_same_day(clinic: Clinic) -> None:
    doctor, appointment, started = _doctor_with_a_booked_visit(clinic)
    missed = OutcomeCreate(outcome="no_show")
    service.mark_appointment_outcome(doctor.principal, appointment, missed, now=started)
    undone = service.undo_appointment_outcome(
        doctor.principal, appointment, now=started + timedelta(minutes=20)
    )
    assert undone.status == "booked"
    with pytest.raises(AppError) as nothing:
        service.undo_appointment_outcome(doctor.principal, appointment, now=started)
    assert nothing.value.code == "no_outcome_to_undo"
    with pytest.raises(AppError) as stranger:  # only the patient's doctor
        service.undo_appointment_outcome(clinic.admin.principal, appointment, now=started)
    assert stranger.value.status == 403

    attended = OutcomeCreate(outcome="attended")
    service.mark_appointment_outcome(doctor.principal, appointment, attended, now=started)
    with pytest.raises(AppError) as late:
        service.undo_appointment_outcome(
            doctor.principal, appointment, now=started + timedelta(days=1)
        )
    assert late.value.code == "outcome_undo_too_late"
    assert _status(appointment) == "attended"


def test_doctor_page_undoes_a_mark_and_lists_referrals_and_home_visits(
    clinic: Clinic, client: TestClient
) -> None:
    doctor, appointment, started = _doctor_with_a_booked_visit(clinic)
    assert clinic.patient.person_id is not None
    service.issue_referral(
        doctor.principal,
        clinic.clinic_id,
        ReferralCreate(person_id=clinic.patient.person_id, specialty_code="cardiologist"),
    )
    visit = service.request_home_visit(
        clinic.patient.principal,
        HomeVisitCreate(
            address="ул. Ленина, 1, кв. 5", reason="Температура", contact_phone="+79990001122"
        ),
    )
    registrar = make_staff("registrar", clinic.clinic_id)
    with UnitOfWork() as uow:
        post_id = uow.session.scalar(
            select(Practitioner.id).where(Practitioner.user_id == doctor.id)
        )
    service.update_home_visit(registrar.principal, visit.id, HomeVisitUpdate(status="accepted"))
    service.update_home_visit(
        registrar.principal,
        visit.id,
        HomeVisitUpdate(status="assigned", practitioner_id=post_id),
    )

    page = logged_in(client, doctor).get("/doctor")
    assert "Выданные мной направления" in page.text
    assert 'data-referral="' in page.text
    assert "Кардиолог" in page.text
    assert "Вызовы на дом, назначенные мне" in page.text
    assert f'data-visit="{visit.id}"' in page.text
    assert "ул. Ленина, 1, кв. 5" in page.text
    undo_path = f"/doctor/appointments/{appointment}/outcome/undo"
    refused = submit(client, page, undo_path, {})
    assert refused.status_code == 409  # nothing marked yet
    assert "Отметки о приёме нет" in refused.text

    # During the visit the doctor marks it missed by mistake, and takes the mark back.
    with time_machine.travel(started, tick=False):
        day = client.get("/doctor", params={"day": clinic.day.isoformat()})
        marked = submit(client, day, f"/doctor/appointments/{appointment}/outcome",
                        {"outcome": "no_show"})  # fmt: skip
        assert marked.status_code == 303
        day = client.get("/doctor", params={"day": clinic.day.isoformat()})
        assert undo_path in day.text
        undone = submit(client, day, undo_path, {})
        assert undone.status_code == 303
        assert "Отметка снята" in client.get(undone.headers["location"]).text
    assert _status(appointment) == "booked"


def test_the_staff_pages_speak_english_too(clinic: Clinic, client: TestClient) -> None:
    client.headers["Accept-Language"] = "en"
    admin = logged_in(client, clinic.admin)
    page = admin.get("/clinic-admin")
    assert "Open a doctor's post" in page.text
    assert "Delete…" in page.text  # the weekly schedule's row actions
    rule = {
        "clinic_id": clinic.clinic_id,
        "practitioner_id": clinic.practitioner_id,
        "weekday": clinic.day.weekday(),
        "start_time": "09:30",
        "end_time": "11:00",
        "valid_from": clinic.day.isoformat(),
    }
    overlap = submit(admin, page, "/clinic-admin/rules", rule)
    assert "The doctor already works 09:00–10:00" in overlap.text

    appointment = _book(clinic, clinic.slots[0])
    desk = logged_in(client, make_staff("registrar", clinic.clinic_id))
    ticket = desk.get(f"/registry/appointments/{appointment}/ticket?clinic={clinic.clinic_id}")
    assert "The patient is booked. Print the ticket and hand it to the patient." in ticket.text
    confirm = desk.get(f"/registry/appointments/{appointment}/cancel?clinic={clinic.clinic_id}")
    assert "Cancel the appointment?" in confirm.text
    doctor = logged_in(client, clinic.doctor).get("/doctor")
    assert "Referrals I issued" in doctor.text
    assert "Home visits assigned to me" in doctor.text
