"""Booking as a citizen expects it, through the pages (on SQLite and PostgreSQL): a doctor
filter and a day picker instead of every doctor's ten days on one page, the own doctor
first; a cancellation and a move that ask first; one click from a referral or from a
cancellation notice to the booking; the appointment as a calendar file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from infocity.core.auth import SYSTEM
from infocity.core.clock import city_date
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Appointment, Practitioner, Slot
from infocity.health.schemas import BookingCreate, ScheduleExceptionCreate
from tests.builders import Account, csrf_token, login_page_client
from tests.health_builders import (
    attach,
    city_today,
    get_slot,
    make_child,
    make_clinic,
    make_patient,
    make_practitioner,
    make_referral,
    work_every_day,
)
from tests.test_health_visits import messages

DAYS = 10  # working days of each therapist, from tomorrow
PER_DAY = 16  # 09:00-13:00 in 15 minutes


@dataclass
class Clinic:
    clinic_id: int
    therapists: list[int]  # practitioner ids
    names: list[str]
    patient: Account


@pytest.fixture
def busy_clinic(database: str) -> Clinic:
    """A polyclinic with three therapists working every morning for ten days (480 free
    times) and an attached patient, logged in nowhere yet."""
    clinic = make_clinic()
    first = city_today() + timedelta(days=1)
    therapists = [make_practitioner(clinic.id, "therapist") for _ in range(3)]
    for t in therapists:
        work_every_day(t.id, first, first + timedelta(days=DAYS - 1), until=time(13, 0))
    service.materialise_slots(first + timedelta(days=DAYS - 1))
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    return Clinic(clinic.id, [t.id for t in therapists], [t.name for t in therapists], patient)


def logged_in(client: TestClient, account: Account) -> TestClient:
    return login_page_client(client, account.identifier, "correct-horse-battery")


def post(client: TestClient, path: str, data: dict[str, str | int]) -> httpx.Response:
    form = {**{k: str(v) for k, v in data.items()}, "csrf_token": csrf_token(client, "/kiosk")}
    response: httpx.Response = client.post(path, data=form, follow_redirects=False)
    return response


def _slot_ids(html: str) -> list[int]:
    return [int(s) for s in re.findall(r'class="slot button" href="[^"]*slot=(\d+)"', html)]


def _day(slot_id: int) -> str:
    return city_date(get_slot(slot_id).starts_at).isoformat()


def _slots_of(practitioner_id: int) -> list[int]:
    with UnitOfWork() as uow:
        return list(
            uow.session.scalars(
                select(Slot.id)
                .where(Slot.practitioner_id == practitioner_id)
                .order_by(Slot.starts_at)
            )
        )


def _status(appointment_id: int) -> str:
    with UnitOfWork() as uow:
        status = uow.session.scalar(
            select(Appointment.status).where(Appointment.id == appointment_id)
        )
    assert status is not None
    return status


def _link(html: str, pattern: str) -> str:
    found = re.search(pattern, html)
    assert found, pattern
    return found.group(1).replace("&amp;", "&")


# --- The doctor filter and the day picker -----------------------------------------------


def test_the_booking_page_shows_one_day_and_a_doctor_filter(
    busy_clinic: Clinic, client: TestClient
) -> None:
    logged_in(client, busy_clinic.patient)
    page = client.get("/health/book", params={"specialty": "therapist"})
    assert page.status_code == 200
    # All doctors' ten mornings were 480 time links on one page (about 200 KB).
    assert len(page.content) < 40_000, len(page.content)
    slots = _slot_ids(page.text)
    assert len(slots) == 3 * PER_DAY  # the first free day, every doctor
    assert len({_day(s) for s in slots}) == 1
    for name in busy_clinic.names:
        assert name in page.text  # the filter lists every doctor with free time
    day_links = re.findall(r'class="day-choice" href="([^"]+)"', page.text)
    assert len(day_links) == DAYS

    # Another day, then one doctor: only that doctor's times of that day.
    last = client.get(day_links[-1].replace("&amp;", "&"))
    last_slots = _slot_ids(last.text)
    assert last_slots
    assert set(last_slots).isdisjoint(slots)
    doctor = busy_clinic.therapists[1]
    one = client.get(
        "/health/book",
        params={"specialty": "therapist", "doctor": doctor, "day": _day(last_slots[0])},
    )
    mine = _slot_ids(one.text)
    assert len(mine) == PER_DAY
    assert {get_slot(s).practitioner_id for s in mine} == {doctor}
    assert {_day(s) for s in mine} == {_day(last_slots[0])}
    assert f'href="/health/book?patient={busy_clinic.patient.person_id}' in one.text


def test_the_kiosk_offers_the_same_steps(busy_clinic: Clinic, client: TestClient) -> None:
    policy, birth = "7700000000004321", date(1975, 3, 9)
    visitor = make_patient(birth, oms_policy=policy)
    assert visitor.person_id is not None
    attach(visitor.person_id, busy_clinic.clinic_id)
    identified = post(client, "/kiosk", {"oms_policy": policy, "birth_date": birth.isoformat()})
    assert identified.status_code == 303

    page = client.get("/kiosk/slots", params={"specialty": "therapist"})
    assert len(page.content) < 40_000, len(page.content)
    assert len(_slot_ids(page.text)) == 3 * PER_DAY
    day_links = re.findall(r'class="day-choice" href="([^"]+)"', page.text)
    assert len(day_links) == DAYS
    assert all(link.startswith("/kiosk/slots?") for link in day_links)  # stays in the kiosk
    doctor = busy_clinic.therapists[0]
    one = client.get("/kiosk/slots", params={"specialty": "therapist", "doctor": doctor})
    mine = _slot_ids(one.text)
    assert len(mine) == PER_DAY
    assert {get_slot(s).practitioner_id for s in mine} == {doctor}


def test_the_own_doctor_comes_first_and_marked(busy_clinic: Clinic, client: TestClient) -> None:
    logged_in(client, busy_clinic.patient)
    before = client.get("/health/book", params={"specialty": "therapist"}).text
    assert "ваш врач" not in before

    # Booked (the last time of the period) with the third doctor: they lead the list.
    own = busy_clinic.therapists[2]
    service.book_slot(busy_clinic.patient.principal, BookingCreate(slot_id=_slots_of(own)[-1]))
    page = client.get("/health/book", params={"specialty": "therapist"}).text
    assert re.findall(r'<li data-doctor="(\d+)">', page)[0] == str(own)
    assert "ваш врач" in page

    client.cookies.set("lang", "en")
    english = client.get("/health/book", params={"specialty": "therapist"}).text
    assert "your doctor" in english
    assert "Any doctor" in english


# --- Cancel and move ask first ----------------------------------------------------------


def test_cancel_asks_for_confirmation_saying_what(busy_clinic: Clinic, client: TestClient) -> None:
    logged_in(client, busy_clinic.patient)
    slot_id = _slots_of(busy_clinic.therapists[0])[0]
    appointment = service.book_slot(busy_clinic.patient.principal, BookingCreate(slot_id=slot_id))

    mine = client.get("/health/appointments").text
    assert f'action="/health/appointments/{appointment.id}/cancel"' not in mine  # no one-click
    ask = client.get(_link(mine, r'href="(/health/appointments/\d+/cancellation)"'))
    assert ask.status_code == 200
    assert "Отменить запись?" in ask.text
    assert appointment.ticket_number in ask.text
    assert busy_clinic.names[0] in ask.text
    assert _status(appointment.id) == "booked"  # asking changes nothing

    done = post(client, f"/health/appointments/{appointment.id}/cancel", {})
    assert done.status_code == 303
    assert _status(appointment.id) == "cancelled_by_patient"
    again = client.get(f"/health/appointments/{appointment.id}/cancellation")
    assert "больше нельзя изменить" in again.text  # nothing left to confirm


def test_a_move_shows_the_new_time_beside_the_old_and_asks(
    busy_clinic: Clinic, client: TestClient
) -> None:
    logged_in(client, busy_clinic.patient)
    first, *_, later = _slots_of(busy_clinic.therapists[0])
    appointment = service.book_slot(busy_clinic.patient.principal, BookingCreate(slot_id=first))

    choose = client.get(f"/health/appointments/{appointment.id}/reschedule")
    assert len(choose.content) < 40_000
    assert 'type="submit" name="slot_id"' not in choose.text  # choosing does not move
    ask = client.get(f"/health/appointments/{appointment.id}/reschedule/confirm?slot={later}")
    assert ask.status_code == 200
    assert "Перенести запись?" in ask.text
    times = re.findall(r'<time datetime="([^"]+)"', ask.text)
    assert [datetime.fromisoformat(t) for t in times] == [
        get_slot(first).starts_at,
        get_slot(later).starts_at,
    ]
    assert _status(appointment.id) == "booked"

    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', ask.text))
    moved = client.post(
        f"/health/appointments/{appointment.id}/reschedule", data=fields, follow_redirects=False
    )
    assert moved.status_code == 303
    assert _status(appointment.id) == "rescheduled"

    # A time of another specialist is no move of this appointment.
    surgeon = make_practitioner(busy_clinic.clinic_id, "surgeon")
    work_every_day(
        surgeon.id, city_today() + timedelta(days=1), city_today() + timedelta(2), until=time(13, 0)
    )
    service.materialise_slots(city_today() + timedelta(days=2))
    new_id = int(moved.headers["location"].split("/")[-1].split("?")[0])
    other = _slots_of(surgeon.id)[0]
    refused = client.get(f"/health/appointments/{new_id}/reschedule/confirm?slot={other}")
    assert refused.status_code == 404


# --- One click from a referral and from a cancellation notice -----------------------------


def test_a_referral_opens_its_booking_in_one_click(busy_clinic: Clinic, client: TestClient) -> None:
    cardiologist = make_practitioner(busy_clinic.clinic_id, "cardiologist")
    day = city_today() + timedelta(days=2)
    work_every_day(cardiologist.id, day, day, until=time(13, 0))
    service.materialise_slots(day)
    assert busy_clinic.patient.person_id is not None
    referral = make_referral(busy_clinic.patient.person_id, busy_clinic.clinic_id)
    logged_in(client, busy_clinic.patient)

    mine = client.get("/health/appointments").text
    page = client.get(_link(mine, r'href="(/health/book\?[^"]*referral=\d+[^"]*)"'))
    assert page.status_code == 200
    assert "Кардиолог" in page.text
    slots = _slot_ids(page.text)
    assert slots
    assert {get_slot(s).practitioner_id for s in slots} == {cardiologist.id}
    confirm = client.get(_link(page.text, r'class="slot button" href="([^"]+)"'))
    assert f'name="referral_id" value="{referral.id}"' in confirm.text


def test_a_cancellation_notice_links_each_alternative_to_its_booking(
    busy_clinic: Clinic, client: TestClient
) -> None:
    guardian = busy_clinic.patient
    child = make_child(guardian)
    paediatric = make_clinic("children")
    attach(child.id, paediatric.id)
    paediatricians = [make_practitioner(paediatric.id, "paediatrician") for _ in range(2)]
    day = city_today() + timedelta(days=1)
    for p in paediatricians:
        work_every_day(p.id, day, day, until=time(13, 0))
    service.materialise_slots(day)
    booked = service.book_slot(
        guardian.principal,
        BookingCreate(slot_id=_slots_of(paediatricians[0].id)[0], patient_id=child.id),
    )
    service.add_schedule_exception(
        SYSTEM,
        ScheduleExceptionCreate(
            practitioner_id=paediatricians[0].id, kind="sick_leave", date_from=day, date_to=day
        ),
    )
    (told,) = messages("appointment_cancelled_by_clinic")
    links = re.findall(r"(http\S+/health/book/confirm\?\S+)", told.body)
    assert len(links) == 3
    assert re.search(r"http\S+/health/book\?\S*specialty=paediatrician", told.body)

    logged_in(client, guardian)
    path = "/health/book/confirm?" + links[0].split("?", 1)[1]
    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "Подтвердите запись" in confirm.text
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    assert fields["patient_id"] == str(child.id)
    assert booked.id  # the one the clinic cancelled
    made = client.post("/health/book", data=fields, follow_redirects=False)
    assert made.status_code == 303, made.text


def slot_room(slot: Slot) -> str | None:
    with UnitOfWork() as uow:
        doctor = uow.session.get(Practitioner, slot.practitioner_id)
        assert doctor is not None
        return doctor.room


# --- Add to calendar ----------------------------------------------------------------------


def test_an_appointment_downloads_as_a_calendar_entry_for_its_owner_only(
    busy_clinic: Clinic, client: TestClient, browser: TestClient
) -> None:
    slot = get_slot(_slots_of(busy_clinic.therapists[0])[0])
    appointment = service.book_slot(busy_clinic.patient.principal, BookingCreate(slot_id=slot.id))
    logged_in(client, busy_clinic.patient)
    ticket = client.get(f"/health/appointments/{appointment.id}").text
    path = _link(ticket, r'href="(/health/appointments/\d+/calendar\.ics)"')

    ics = client.get(path)
    assert ics.status_code == 200
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "attachment" in ics.headers["content-disposition"]
    lines = ics.text.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR"
    assert lines[-2] == "END:VCALENDAR"
    fields = dict(line.split(":", 1) for line in lines if ":" in line and line[0] != " ")
    assert fields["VERSION"] == "2.0"
    assert fields["UID"].startswith(f"appointment-{appointment.id}@")
    stamp = datetime.strptime(fields["DTSTAMP"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(stamp - datetime.now(UTC)) < timedelta(minutes=5)
    start = datetime.strptime(fields["DTSTART"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    end = datetime.strptime(fields["DTEND"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert (start, end) == (slot.starts_at, slot.ends_at)
    assert fields["SUMMARY"].startswith("Терапевт")
    unfolded = dict(
        line.split(":", 1) for line in ics.text.replace("\r\n ", "").split("\r\n") if line
    )
    assert unfolded["LOCATION"].endswith("Тверская ул.\\, 1\\, каб. " + str(slot_room(slot)))
    assert unfolded["DESCRIPTION"].startswith("Номер талона: " + appointment.ticket_number)
    assert all(len(line.encode()) <= 75 for line in lines)

    # Another citizen gets "not found"; nobody logged in goes to the login.
    stranger = make_patient()
    logged_in(browser, stranger)
    assert browser.get(path).status_code == 404
    browser.cookies.clear()
    assert browser.get(path, follow_redirects=False).status_code in (303, 401)
