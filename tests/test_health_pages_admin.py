"""The city administrator's specialties page and the booking status shown before a
booking is refused (the kiosk's specialties, the registry's patient card), through real
forms with CSRF, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from infocity.core.models import AuditEntry
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import rules, service
from infocity.health.models import Specialty
from infocity.health.schemas import BookingCreate, OutcomeCreate
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

BIRTH = date(1980, 5, 17)
POLICY = "7700000000005678"
SUSPENDED = r'<div class="alert alert-error" role="alert" data-suspended="(\d+)">(.*?)</div>'


@dataclass
class City:
    clinic_id: int
    practitioner_id: int
    slots: list[int]
    patient: Account
    doctor: Account
    registrar: Account
    clinic_admin: Account
    city_admin: Account


@pytest.fixture
def city(database: str) -> City:
    clinic = make_clinic()
    doctor = make_doctor(clinic.id)
    therapist = make_practitioner(clinic.id, "therapist", user_id=doctor.id)
    patient = make_patient(BIRTH, oms_policy=POLICY)
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    return City(
        clinic_id=clinic.id,
        practitioner_id=therapist.id,
        slots=make_slots(therapist.id),
        patient=patient,
        doctor=doctor,
        registrar=make_staff("registrar", clinic.id),
        clinic_admin=make_staff("clinic_admin", clinic.id),
        city_admin=make_staff("city_admin"),
    )


def specialties() -> dict[str, tuple[Any, ...]]:
    with UnitOfWork() as uow:
        return {
            s.code: (s.slot_minutes, s.booking_mode, s.horizon_days, s.release_time, s.active_limit)
            for s in uow.session.scalars(select(Specialty))
        }


def specialty_id(code: str) -> int:
    with UnitOfWork() as uow:
        found = uow.session.scalar(select(Specialty.id).where(Specialty.code == code))
    assert found is not None
    return found


# --- City administration: specialties -------------------------------------------------


def test_only_the_city_admin_sees_the_specialties(
    city: City, client: TestClient, browser: TestClient
) -> None:
    anonymous = client.get("/admin/specialties", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login")

    clinic_admin = logged_in(client, city.clinic_admin)
    workplace = clinic_admin.get("/clinic-admin")
    assert 'href="/admin/specialties"' not in workplace.text
    assert clinic_admin.get("/admin/specialties").status_code == 403
    before = specialties()
    refused = submit(
        clinic_admin,
        workplace,
        f"/admin/specialties/{specialty_id('therapist')}",
        {"slot_minutes": 30},
    )
    assert refused.status_code == 403
    assert specialties() == before

    admin = logged_in(browser, city.city_admin)
    page = admin.get("/admin/specialties")
    assert page.status_code == 200
    assert 'href="/admin/specialties"' in page.text  # in the city admin's menu
    assert "Специальности" in page.text
    rows = re.findall(r'data-specialty="([a-z0-9_]+)"', page.text)
    assert sorted(rows) == sorted(before)
    assert len(rows) == 19
    assert page.text.count('action="/admin/specialties/') == 19


def test_city_admin_tunes_a_specialty(city: City, client: TestClient) -> None:
    admin = logged_in(client, city.city_admin)
    page = admin.get("/admin/specialties")
    therapist = specialty_id("therapist")
    before = specialties()

    # Refused input: the message in Russian, what was typed, nothing written.
    refused = submit(
        admin,
        page,
        f"/admin/specialties/{therapist}",
        {
            "booking_mode": "direct",
            "slot_minutes": 3,
            "horizon_days": 14,
            "release_time": "08:00",
            "active_limit": 1,
        },
    )
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert "Исправьте отмеченные поля" in refused.text
    assert f'id="f-s{therapist}-slot_minutes" name="slot_minutes" type="number" value="3"' in (
        refused.text
    )
    assert 'aria-invalid="true"' in refused.text
    assert specialties() == before

    # Nonsense time and an unknown specialty: refused too.
    nonsense = submit(admin, page, f"/admin/specialties/{therapist}", {"release_time": "25:61"})
    assert nonsense.status_code == 422
    assert 'value="25:61"' in nonsense.text
    unknown = submit(admin, page, "/admin/specialties/999999", {"slot_minutes": 30})
    assert unknown.status_code == 404
    assert specialties() == before

    saved = submit(
        admin,
        page,
        f"/admin/specialties/{therapist}",
        {
            "booking_mode": "referral",
            "slot_minutes": 20,
            "horizon_days": 21,
            "release_time": "07:30",
            "active_limit": 2,
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"].startswith("/admin/specialties?done=specialty")
    after = specialties()
    assert after["therapist"] == (20, "referral", 21, time(7, 30), 2)
    assert {k: v for k, v in after.items() if k != "therapist"} == {
        k: v for k, v in before.items() if k != "therapist"
    }
    shown = admin.get(saved.headers["location"])
    assert "Специальность сохранена" in shown.text
    assert 'value="07:30"' in shown.text
    with UnitOfWork() as uow:
        audited = uow.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "health.specialty.update")
        )
    assert audited == 1

    # A forged form (no CSRF token) is refused.
    forged = admin.post(
        f"/admin/specialties/{therapist}", data={"slot_minutes": "40"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert specialties() == after


# --- Booking status before booking ----------------------------------------------------


def three_no_shows(city: City) -> None:
    """The patient misses three appointments on three days: self-booking is suspended."""
    now: datetime | None = None
    for offset in (1, 2, 3):
        day = city_today() + timedelta(days=offset)
        slot_id = city.slots[0] if offset == 1 else make_slots(city.practitioner_id, day)[0]
        appointment = service.book_slot(
            city.patient.principal, BookingCreate(slot_id=slot_id), now=now
        )
        now = appointment.starts_at + timedelta(minutes=10)
        service.mark_appointment_outcome(
            city.doctor.principal, appointment.id, OutcomeCreate(outcome="no_show"), now=now
        )
    make_slots(city.practitioner_id, city_today() + timedelta(days=4))


def suspended_until(city: City) -> str:
    status = service.get_booking_status(city.patient.principal)
    assert status.suspended
    assert status.suspended_until is not None
    return format_date(
        rules.city_date(status.suspended_until, get_settings().city_tz), "long", locale="ru"
    )


def identify_at_kiosk(client: TestClient) -> httpx.Response:
    start = client.get("/kiosk")
    identified = submit(client, start, "/kiosk", {"oms_policy": POLICY, "birth_date": BIRTH})
    assert identified.status_code == 303
    home: httpx.Response = client.get("/kiosk/specialties")
    return home


def test_the_kiosk_shows_a_suspension_before_a_time_is_picked(
    city: City, client: TestClient
) -> None:
    home = identify_at_kiosk(client)
    assert home.status_code == 200
    assert "data-suspended" not in home.text  # in good standing: the specialists
    assert 'href="/kiosk/slots?specialty=therapist"' in home.text
    assert submit(client, home, "/kiosk/finish", {}).status_code == 303

    three_no_shows(city)
    until = suspended_until(city)
    home = identify_at_kiosk(client)
    assert home.status_code == 200
    assert 'class="kiosk"' in home.text
    alert = re.search(SUSPENDED, home.text, re.S)
    assert alert, "the suspension is shown before the patient picks a time"
    assert int(alert.group(1)) == city.patient.person_id
    assert "приостановлена до" in alert.group(2)
    assert until in alert.group(2)
    assert "пропущено приёмов без отмены: 3" in alert.group(2)
    assert "/kiosk/slots" not in home.text  # no time to pick only to be refused
    assert 'action="/kiosk/finish"' in home.text


def test_the_registry_card_shows_the_suspension(city: City, client: TestClient) -> None:
    registrar = logged_in(client, city.registrar)
    card_path = f"/registry/patients/{city.patient.person_id}?clinic={city.clinic_id}"
    card = registrar.get(card_path)
    assert card.status_code == 200
    assert "data-suspended" not in card.text

    three_no_shows(city)
    until = suspended_until(city)
    card = registrar.get(card_path)
    assert card.status_code == 200
    alert = re.search(SUSPENDED, card.text, re.S)
    assert alert, "the registrar can explain the suspension"
    assert int(alert.group(1)) == city.patient.person_id
    assert "Пациент не может записаться самостоятельно" in alert.group(2)
    assert "приостановлена до" in alert.group(2)
    assert until in alert.group(2)
    # The registrar may still book.
    assert f"/registry/patients/{city.patient.person_id}/book?" in card.text
