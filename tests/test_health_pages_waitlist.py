"""What a citizen and a registrar notice on the health pages that close issue 3, on
SQLite and PostgreSQL: the waiting list (joining, a kept time, accepting it books),
a suspension shown with its reason and end date, home visits from request to the
clinic's queue and back, reminder links that work from an e-mail without logging in
(and refuse a tampered token, changing nothing), and a kiosk cookie without the policy
number."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from infocity.core.errors import AppError
from infocity.core.models import OutboxMessage
from infocity.core.settings import get_settings
from infocity.core.uow import UnitOfWork
from infocity.health import rules, service
from infocity.health.models import Appointment, HomeVisitRequest, Slot, WaitlistEntry
from infocity.health.schemas import (
    BookingCreate,
    IdentifiedBookingCreate,
    OutcomeCreate,
)
from tests.builders import Account, count_rows, logged_in, make_staff
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
POLICY = "7700000000004321"


@dataclass
class City:
    clinic_id: int
    specialty_id: int
    practitioner_id: int
    slots: list[int]
    patient: Account
    doctor: Account
    registrar: Account
    stranger: Account


@pytest.fixture
def city(database: str) -> City:
    """An adult polyclinic; a therapist (with a staff account) working tomorrow
    09:00-10:00 (4 slots); Anna, attached; a registrar here and one elsewhere."""
    clinic = make_clinic()
    doctor = make_doctor(clinic.id)
    therapist = make_practitioner(clinic.id, "therapist", user_id=doctor.id)
    slots = make_slots(therapist.id)
    patient = make_patient(BIRTH, oms_policy=POLICY)
    assert patient.person_id is not None
    attach(patient.person_id, clinic.id)
    return City(
        clinic_id=clinic.id,
        specialty_id=therapist.specialty_id,
        practitioner_id=therapist.id,
        slots=slots,
        patient=patient,
        doctor=doctor,
        registrar=make_staff("registrar", clinic.id),
        stranger=make_staff("registrar", make_clinic().id),
    )


def _new_browser() -> TestClient:
    from infocity.app import create_app

    return TestClient(create_app(), base_url="http://testserver")


def other_patient(city: City) -> Account:
    patient = make_patient()
    assert patient.person_id is not None
    attach(patient.person_id, city.clinic_id)
    return patient


def book(patient: Account, slot_id: int, now: datetime | None = None) -> Any:
    return service.book_slot(patient.principal, BookingCreate(slot_id=slot_id), now=now)


def messages(kind: str) -> list[OutboxMessage]:
    with UnitOfWork() as uow:
        found = list(
            uow.session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == kind, OutboxMessage.channel == "inbox")
                .order_by(OutboxMessage.created_at, OutboxMessage.id)
            )
        )
        for message in found:
            uow.session.expunge(message)
        return found


def state() -> dict[str, Any]:
    """What the pages below may change."""
    with UnitOfWork() as uow:
        s = uow.session
        return {
            "appointments": s.execute(
                select(Appointment.id, Appointment.status, Appointment.confirmed_at).order_by(
                    Appointment.id
                )
            ).all(),
            "slots": s.execute(select(Slot.id, Slot.status).order_by(Slot.id)).all(),
            "entries": s.execute(
                select(WaitlistEntry.id, WaitlistEntry.status).order_by(WaitlistEntry.id)
            ).all(),
            "outbox": len(list(s.scalars(select(OutboxMessage.id)))),
        }


# --- Waiting list ---------------------------------------------------------------------


def test_join_the_waiting_list_see_the_kept_time_and_accept_it(
    city: City, client: TestClient
) -> None:
    others = [other_patient(city) for _ in city.slots]
    taken = [book(p, s) for p, s in zip(others, city.slots, strict=True)]
    logged_in(client, city.patient)

    # Nothing free: the slot choice offers the waiting list.
    choice = client.get("/health/book", params={"specialty": "therapist"})
    assert choice.status_code == 200
    link = re.search(r'href="(/health/waitlist\?[^"]+specialty=therapist)"', choice.text)
    assert link, "the slot choice offers the waiting list"
    form_page = client.get(link.group(1).replace("&amp;", "&"))
    assert form_page.status_code == 200
    assert "Лист ожидания" in form_page.text
    assert f'<option value="{city.specialty_id}" selected>' in form_page.text

    # Join, leave, join again with a time-of-day window.
    joined = submit(
        client,
        form_page,
        "/health/waitlist",
        {"patient_id": city.patient.person_id, "specialty_id": city.specialty_id},
    )
    assert joined.status_code == 303, joined.text
    listed = client.get(joined.headers["location"])
    assert "Вы в листе ожидания" in listed.text
    assert "Ожидает времени" in listed.text
    with UnitOfWork() as uow:
        first_id = uow.session.scalars(select(WaitlistEntry.id)).one()
    left = submit(client, listed, f"/health/waitlist/{first_id}/leave", {})
    assert left.status_code == 303
    assert "Вы покинули лист ожидания" in client.get(left.headers["location"]).text

    page = client.get("/health/waitlist")
    joined = submit(
        client,
        page,
        "/health/waitlist",
        {"specialty_id": city.specialty_id, "time_from": "08:00", "time_to": "12:00"},
    )
    assert joined.status_code == 303, joined.text
    before_hold = client.get("/health/waitlist")
    assert "Для вас придержано время" not in before_hold.text

    # Someone cancels: the time is kept for Anna, who is told and sees it first.
    service.cancel_appointment(others[1].principal, taken[1].id)
    (told,) = messages("waitlist_hold")
    assert told.link == "/health/waitlist"
    page = client.get("/health/waitlist")
    assert page.status_code == 200
    assert "Для вас придержано время" in page.text
    assert 'role="alert"' in page.text
    accept = re.search(r'action="(/health/waitlist/\d+/accept)"', page.text)
    assert accept
    assert re.search(r'action="/health/waitlist/\d+/decline"', page.text)

    # Accepting books it: the ticket page follows.
    accepted = submit(client, page, accept.group(1), {})
    assert accepted.status_code == 303, accepted.text
    ticket = client.get(accepted.headers["location"])
    assert "Талон" in ticket.text
    with UnitOfWork() as uow:
        mine = uow.session.execute(
            select(Appointment.id, Appointment.slot_id, Appointment.status).where(
                Appointment.person_id == city.patient.person_id
            )
        ).one()
        entry = uow.session.execute(
            select(WaitlistEntry.status, WaitlistEntry.appointment_id).where(
                WaitlistEntry.status != "left"
            )
        ).one()
    assert (mine.slot_id, mine.status) == (taken[1].slot_id, "booked")
    assert tuple(entry) == ("booked", mine.id)


def test_declining_a_kept_time_keeps_the_place_and_refusals_are_shown(
    city: City, client: TestClient
) -> None:
    others = [other_patient(city) for _ in city.slots]
    taken = [book(p, s) for p, s in zip(others, city.slots, strict=True)]
    logged_in(client, city.patient)
    page = client.get("/health/waitlist")

    # A window that ends before it starts: the form comes back with the reason.
    before = state()
    refused = submit(
        client,
        page,
        "/health/waitlist",
        {"specialty_id": city.specialty_id, "time_from": "12:00", "time_to": "09:00"},
    )
    assert refused.status_code == 422
    assert "Начало интервала времени должно быть раньше конца" in refused.text
    assert 'value="12:00"' in refused.text
    assert state() == before

    joined = submit(client, page, "/health/waitlist", {"specialty_id": city.specialty_id})
    assert joined.status_code == 303
    service.cancel_appointment(others[0].principal, taken[0].id)
    page = client.get("/health/waitlist")
    decline = re.search(r'action="(/health/waitlist/\d+/decline)"', page.text)
    assert decline
    declined = submit(client, page, decline.group(1), {})
    assert declined.status_code == 303
    after = client.get(declined.headers["location"])
    assert "Вы остаётесь в листе ожидания" in after.text
    assert "Для вас придержано время" not in after.text
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(WaitlistEntry.status)) == "waiting"
        assert uow.session.get(Slot, taken[0].slot_id).status == "free"  # type: ignore[union-attr]

    # Accepting a time that is no longer kept: a clear refusal, nothing written.
    entry_id = re.search(r"/health/waitlist/(\d+)/decline", decline.group(1))
    assert entry_id
    before = state()
    stale = submit(client, after, f"/health/waitlist/{entry_id.group(1)}/accept", {})
    assert stale.status_code == 409
    assert 'role="alert"' in stale.text
    assert "нет придержанного времени" in stale.text
    assert state() == before


# --- Booking status -------------------------------------------------------------------


def three_no_shows(city: City) -> list[int]:
    """Anna misses three appointments on three days; returns slots on a fourth day."""
    now: datetime | None = None
    for offset in (1, 2, 3):
        day = city_today() + timedelta(days=offset)
        slot_id = city.slots[0] if offset == 1 else make_slots(city.practitioner_id, day)[0]
        appointment = book(city.patient, slot_id, now=now)
        now = appointment.starts_at + timedelta(minutes=10)
        service.mark_appointment_outcome(
            city.doctor.principal, appointment.id, OutcomeCreate(outcome="no_show"), now=now
        )
    return make_slots(city.practitioner_id, city_today() + timedelta(days=4))


def test_a_suspended_patient_sees_why_and_until_when(city: City, client: TestClient) -> None:
    later = three_no_shows(city)
    status = service.get_booking_status(city.patient.principal)
    assert status.suspended
    assert status.suspended_until is not None
    until = format_date(
        rules.city_date(status.suspended_until, get_settings().city_tz), "long", locale="ru"
    )

    logged_in(client, city.patient)
    home = client.get("/health")
    assert home.status_code == 200
    suspended = r'<div class="alert alert-error" role="alert" data-suspended="(\d+)">(.*?)</div>'
    alert = re.search(suspended, home.text, re.S)
    assert alert, "the suspension is shown, not silent"
    assert int(alert.group(1)) == city.patient.person_id
    assert "приостановлена до" in alert.group(2)
    assert until in alert.group(2)
    assert "пропущено приёмов без отмены: 3" in alert.group(2)

    # The kiosk path has the same rule, through the identified-patient booking.
    assert city.patient.person_id is not None
    before = state()
    with pytest.raises(AppError) as refused:
        service.book_identified_patient(
            city.patient.person_id, IdentifiedBookingCreate(slot_id=later[0])
        )
    assert refused.value.code == "booking_suspended"
    assert state() == before


def test_a_patient_in_good_standing_sees_no_suspension(city: City, client: TestClient) -> None:
    logged_in(client, city.patient)
    home = client.get("/health")
    assert home.status_code == 200
    assert "data-suspended" not in home.text
    assert 'href="/health/waitlist?patient=' in home.text
    assert 'href="/health/home-visits?patient=' in home.text


# --- Home visits ----------------------------------------------------------------------


def test_a_home_visit_request_reaches_the_clinic_queue_and_each_step_is_told(
    city: City, client: TestClient, browser: TestClient
) -> None:
    logged_in(client, city.patient)
    page = client.get("/health/home-visits")
    assert page.status_code == 200
    assert "Вызов врача на дом" in page.text

    # A phone that is no phone: the form comes back, nothing is written.
    refused = submit(
        client,
        page,
        "/health/home-visits",
        {"address": "Москва, Тверская ул., 7, кв. 12", "reason": "Температура 38,5",
         "contact_phone": "12345"},
    )  # fmt: skip
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    assert 'value="Москва, Тверская ул., 7, кв. 12"' in refused.text
    assert count_rows(HomeVisitRequest) == 0

    sent = submit(
        client,
        page,
        "/health/home-visits",
        {"address": "Москва, Тверская ул., 7, кв. 12", "reason": "Температура 38,5",
         "contact_phone": "8 (916) 123-45-67"},
    )  # fmt: skip
    assert sent.status_code == 303, sent.text
    mine = client.get(sent.headers["location"])
    assert "Заявка отправлена в поликлинику" in mine.text
    assert "Заявка получена" in mine.text

    # The registrar of the polyclinic sees it in the queue; one elsewhere does not.
    registrar = logged_in(browser, city.registrar)
    day = registrar.get("/registry")
    assert f'href="/registry/home-visits?clinic={city.clinic_id}"' in day.text
    queue = registrar.get("/registry/home-visits")
    assert queue.status_code == 200
    assert "Иванова Анна" in queue.text
    assert "+79161234567" in queue.text
    visit_id = re.search(r'data-visit="(\d+)"', queue.text)
    assert visit_id
    action = f"/registry/home-visits/{visit_id.group(1)}"
    common = {"clinic_id": city.clinic_id, "filter": ""}
    assert submit(registrar, queue, action, {**common, "status": "accepted"}).status_code == 303
    queue = registrar.get("/registry/home-visits", params={"status": "accepted"})
    assert "Иванова Анна" in queue.text
    doctor = re.search(r'name="practitioner_id">\s*<option value="(\d+)"', queue.text)
    assert doctor
    assigned = submit(
        registrar,
        queue,
        action,
        {**common, "status": "assigned", "practitioner_id": doctor.group(1)},
    )
    assert assigned.status_code == 303
    assert submit(registrar, queue, action, {**common, "status": "done"}).status_code == 303

    # A step that no longer fits: the queue comes back with the reason, nothing changes.
    before = count_rows(OutboxMessage)
    again = submit(registrar, queue, action, {**common, "status": "accepted"})
    assert again.status_code == 409
    assert "больше не в том состоянии" in again.text
    assert count_rows(OutboxMessage) == before

    told = [m.subject for m in messages("home_visit_status")]
    assert told == [
        "Заявка на вызов врача на дом получена",
        "Заявка на вызов врача на дом принята",
        "К вам придёт врач",
        "Вызов врача на дом выполнен",
    ]
    done = client.get("/health/home-visits")
    assert "Визит состоялся" in done.text

    with _new_browser() as third:
        stranger = logged_in(third, city.stranger)
        refused_queue = stranger.get("/registry/home-visits", params={"clinic": city.clinic_id})
        assert refused_queue.status_code == 403
        assert "Иванова Анна" not in stranger.get("/registry/home-visits").text


def test_the_citizen_cancels_a_home_visit_request(city: City, client: TestClient) -> None:
    logged_in(client, city.patient)
    page = client.get("/health/home-visits")
    submit(
        client,
        page,
        "/health/home-visits",
        {"address": "Москва, Арбат, 1", "reason": "Кашель", "contact_phone": "+79161234567"},
    )
    page = client.get("/health/home-visits")
    cancel = re.search(r'action="(/health/home-visits/\d+/cancel)"', page.text)
    assert cancel
    cancelled = submit(client, page, cancel.group(1), {})
    assert cancelled.status_code == 303
    after = client.get(cancelled.headers["location"])
    assert "Заявка отменена" in after.text
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(HomeVisitRequest.status)) == "cancelled"


# --- Reminder links -------------------------------------------------------------------


def reminder_links(city: City) -> tuple[Any, str, str]:
    """Anna's appointment tomorrow, booked two days before, and its reminder's links."""
    with UnitOfWork() as uow:
        slot = uow.session.get(Slot, city.slots[0])
        assert slot is not None
        starts = slot.starts_at
    appointment = book(city.patient, city.slots[0], now=starts - timedelta(days=2))
    assert service.send_due_reminders(now=starts - timedelta(hours=23)) == 1
    (reminder,) = messages("appointment_reminder")
    base = re.escape(get_settings().base_url.rstrip("/"))
    found = dict(
        re.findall(base + r"(/health/appointments/\d+/(confirm|cancel)\?token=[\w.\-]+)",
                   reminder.body)
    )  # fmt: skip
    links = {action: path for path, action in found.items()}
    return appointment, links["confirm"], links["cancel"]


def test_reminder_links_work_without_logging_in(city: City, client: TestClient) -> None:
    appointment, confirm, cancel = reminder_links(city)
    assert f"/health/appointments/{appointment.id}/confirm" in confirm

    # Clicked in an e-mail: a GET, no session. The page shows the appointment and one button.
    page = client.get(confirm)
    assert page.status_code == 200
    assert appointment.ticket_number in page.text
    assert "Да, я приду" in page.text
    assert "Войти" in page.text  # nobody is logged in
    confirmed = submit(
        client, page, f"/health/appointments/{appointment.id}/confirm",
        {"token": confirm.split("token=")[1]},
    )  # fmt: skip
    assert confirmed.status_code == 303, confirmed.text
    result = client.get(confirmed.headers["location"])
    assert "Спасибо! Визит подтверждён." in result.text
    assert "Да, я приду" not in result.text
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(Appointment.confirmed_at)) is not None

    # The cancel link frees the time.
    page = client.get(cancel)
    assert page.status_code == 200
    cancelled = submit(
        client, page, f"/health/appointments/{appointment.id}/cancel",
        {"token": cancel.split("token=")[1]},
    )  # fmt: skip
    assert cancelled.status_code == 303, cancelled.text
    assert "Запись отменена" in client.get(cancelled.headers["location"]).text
    with UnitOfWork() as uow:
        assert uow.session.scalar(select(Appointment.status)) == "cancelled_by_patient"
        assert uow.session.get(Slot, city.slots[0]).status == "free"  # type: ignore[union-attr]


def test_a_tampered_reminder_link_is_refused_in_russian_and_changes_nothing(
    city: City, client: TestClient
) -> None:
    appointment, confirm, cancel = reminder_links(city)
    genuine = client.get(cancel)
    before = state()

    tampered = cancel + "x"
    page = client.get(tampered)
    assert page.status_code == 404
    assert 'role="alert"' in page.text
    assert "Ссылка недействительна" in page.text
    assert appointment.ticket_number not in page.text

    # Posting a tampered token (with a valid CSRF token) is refused the same way.
    refused = submit(
        client, genuine, f"/health/appointments/{appointment.id}/cancel",
        {"token": tampered.split("token=")[1]},
    )  # fmt: skip
    assert refused.status_code == 404
    assert "Ссылка недействительна" in refused.text
    # A confirm token does not cancel; another appointment's id does not fit it.
    other_action = submit(
        client, genuine, f"/health/appointments/{appointment.id}/cancel",
        {"token": confirm.split("token=")[1]},
    )  # fmt: skip
    assert other_action.status_code == 404
    assert client.get(cancel.replace(f"/{appointment.id}/", "/999999/")).status_code == 404
    # Without the form's CSRF token nothing happens either.
    forged = client.post(
        f"/health/appointments/{appointment.id}/cancel",
        data={"token": cancel.split("token=")[1]},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert state() == before


# --- Kiosk ----------------------------------------------------------------------------


def test_the_kiosk_cookie_carries_only_the_person_id(city: City, client: TestClient) -> None:
    start = client.get("/kiosk")
    identified = submit(client, start, "/kiosk", {"oms_policy": POLICY, "birth_date": BIRTH})
    assert identified.status_code == 303
    raw = client.cookies.get("infocity_kiosk")
    assert raw
    payload = URLSafeTimedSerializer(get_settings().secret_key, salt="health-kiosk").loads(raw)
    assert set(payload) == {"p", "e"}
    assert payload["p"] == city.patient.person_id
    assert POLICY not in raw
    assert POLICY not in str(payload)
    assert BIRTH.isoformat() not in str(payload)

    slots = client.get("/kiosk/slots", params={"specialty": "therapist"})
    link = re.findall(r'href="(/kiosk/confirm[^"]+)"', slots.text)[0].replace("&amp;", "&")
    confirm = client.get(link)
    fields = dict(re.findall(r'type="hidden" name="(\w+)" value="([^"]*)"', confirm.text))
    booked = client.post("/kiosk/book", data=fields, follow_redirects=False)
    assert booked.status_code == 303, booked.text
    assert "Талон" in client.get(booked.headers["location"]).text
    with UnitOfWork() as uow:
        person_id, channel = uow.session.execute(
            select(Appointment.person_id, Appointment.channel)
        ).one()
    assert (person_id, channel) == (city.patient.person_id, "kiosk")
    renewed = client.cookies.get("infocity_kiosk")
    assert renewed
    assert POLICY not in renewed

    # A forged cookie (another person's id, not signed) is no identity.
    client.cookies.set("infocity_kiosk", raw + "x", path="/kiosk")
    assert client.get("/kiosk/specialties", follow_redirects=False).status_code == 303


def test_identified_booking_keeps_the_limit(city: City) -> None:
    assert city.patient.person_id is not None
    first = service.book_identified_patient(
        city.patient.person_id, IdentifiedBookingCreate(slot_id=city.slots[0])
    )
    assert (first.channel, first.status) == ("kiosk", "booked")
    before = state()
    with pytest.raises(AppError) as refused:
        service.book_identified_patient(
            city.patient.person_id, IdentifiedBookingCreate(slot_id=city.slots[1])
        )
    assert refused.value.code == "active_limit_reached"
    with pytest.raises(AppError) as wrong_channel:
        service.book_identified_patient(
            city.patient.person_id, IdentifiedBookingCreate(slot_id=city.slots[1]), channel="app"
        )
    assert wrong_channel.value.code == "invalid_channel"
    assert state() == before
