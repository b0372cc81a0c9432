"""The demo city's polyclinics load once, and the demo citizens can book."""

from __future__ import annotations

from sqlalchemy import func, select

from infocity.accounts import service as accounts
from infocity.core.uow import UnitOfWork
from infocity.demo import DEMO_PASSWORD, load_demo_city
from infocity.health import service
from infocity.health.demo import load_demo_health
from infocity.health.models import Slot
from infocity.health.schemas import BookingCreate, SlotFilter


def test_demo_polyclinics_load_once_and_anna_books_a_therapist(database: str) -> None:
    assert load_demo_health() is False  # no demo city yet
    assert load_demo_city() is True  # the city brings its polyclinics' schedules
    with UnitOfWork() as uow:
        slots = uow.session.scalar(select(func.count()).select_from(Slot))
    assert (slots or 0) > 1000
    assert load_demo_health() is False
    token = accounts.login(
        "anna.ivanova@demo.infocity.example", DEMO_PASSWORD, user_agent="t", ip=None
    )
    anna = accounts.principal_from_session(token)
    therapist = next(s for s in service.list_specialties() if s.code == "therapist")
    clinic3 = next(c for c in service.list_clinics() if c.name_en == "City Polyclinic No. 3")
    free = service.search_free_slots(SlotFilter(specialty_id=therapist.id, clinic_id=clinic3.id))
    assert free
    appointment = service.book_slot(anna, BookingCreate(slot_id=free[0].id))
    assert appointment.status == "booked"
