"""The states of health's rows: one StrEnum per kind, one table of the moves between them
(``rules.TRANSITIONS``) that the guarded UPDATEs follow, and the labels people read."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import select

from infocity.core.i18n import gettext, use_locale
from infocity.core.uow import UnitOfWork
from infocity.health import models, rules, service
from infocity.health.models import Appointment, Slot
from infocity.health.pages import common
from infocity.health.rules import AppointmentStatus, Move, SlotStatus
from infocity.health.schemas import BookingCreate
from tests.health_builders import make_world

KINDS = (
    rules.SlotStatus,
    rules.AppointmentStatus,
    rules.ReferralStatus,
    rules.WaitlistStatus,
    rules.OfferOutcome,
    rules.HomeVisitStatus,
)
# Where each kind starts: the state a new row is written in.
STARTS = {
    rules.SlotStatus.FREE,
    rules.AppointmentStatus.BOOKED,
    rules.ReferralStatus.ACTIVE,
    rules.WaitlistStatus.WAITING,
    rules.OfferOutcome.HELD,
    rules.HomeVisitStatus.NEW,
}


def test_every_move_stays_within_one_kind_of_state() -> None:
    assert set(rules.TRANSITIONS) == set(Move)
    for move, (sources, target) in rules.TRANSITIONS.items():
        assert sources, move
        assert {type(state) for state in sources} == {type(target)}, move


def test_every_state_is_a_start_or_reached_by_a_move() -> None:
    reached = {target for _, target in rules.TRANSITIONS.values()}
    for kind in KINDS:
        for state in kind:
            assert state in STARTS or state in reached, state


def test_the_table_says_what_a_move_expects_and_leads_to() -> None:
    assert rules.expected(Move.SLOT_CLOSE) == ("free", "held")
    assert rules.leads_to(Move.SLOT_CLOSE) == "blocked"
    assert rules.expected(Move.VISIT_CANCEL) == rules.OPEN_HOME_VISITS
    assert set(rules.OPEN_HOME_VISITS) == {"new", "accepted", "assigned"}


def test_the_models_keep_no_lists_of_states_of_their_own() -> None:
    gone = ("SLOT_STATUSES", "APPOINTMENT_STATUSES", "REFERRAL_STATUSES", "WAITLIST_STATUSES",
            "OFFER_OUTCOMES", "HOME_VISIT_STATUSES", "OUTCOMES")  # fmt: skip
    for name in gone:
        assert not hasattr(models, name), name
    assert Slot.__table__.c.status.default.arg == SlotStatus.FREE


@pytest.mark.parametrize(
    ("labels", "kind"),
    [
        (rules.APPOINTMENT_LABELS, rules.AppointmentStatus),
        (rules.SLOT_LABELS, rules.SlotStatus),
        (rules.WAITLIST_LABELS, rules.WaitlistStatus),
        (rules.HOME_VISIT_LABELS, rules.HomeVisitStatus),
    ],
)
def test_every_state_shown_has_a_label_in_both_languages(
    labels: dict[Any, str], kind: type[StrEnum]
) -> None:
    assert set(labels) == set(kind)
    for label in labels.values():
        with use_locale("en"):
            assert gettext(label) == label
        with use_locale("ru"):
            assert gettext(label) != label


def test_pages_take_the_labels_from_the_rules() -> None:
    assert common.STATUS_LABELS is rules.STATUS_LABELS
    with use_locale("ru"):
        assert gettext(rules.STATUS_LABELS["cancelled_by_clinic"]) == "Отменена поликлиникой"


def test_a_cancellation_writes_the_states_the_table_leads_to(database: str) -> None:
    world = make_world()
    patient = world["patient"]
    booked = service.book_slot(patient.principal, BookingCreate(slot_id=world["slots"][0]))
    assert booked.status == str(AppointmentStatus.BOOKED)
    service.cancel_appointment(patient.principal, booked.id)
    with UnitOfWork() as uow:
        appointment = uow.session.scalar(select(Appointment).where(Appointment.id == booked.id))
        slot = uow.session.get(Slot, booked.slot_id)
        assert appointment is not None
        assert slot is not None
        assert appointment.status == rules.leads_to(Move.APPOINTMENT_CANCEL)
        assert slot.status == rules.leads_to(Move.SLOT_FREE)
