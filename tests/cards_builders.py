"""School cards made for tests through the real service functions: a school with its
staff, pupils with cards, parents who activated the service, turnstiles and tills."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from infocity.accounts import service as accounts
from infocity.accounts.schemas import ChildCreate, DeviceKeyCreate
from infocity.accounts.service import DeviceIdentity
from infocity.cards import service
from infocity.cards.schemas.cards import Activation, CardIssue, PupilRead
from infocity.cards.schemas.events import BatchRead
from infocity.cards.schemas.ledger import TopUp
from infocity.core.auth import SYSTEM, Role
from infocity.core.clock import city_today, city_tz
from tests.builders import Account, make_citizen, make_organisation, make_staff

_numbers = itertools.count(1)


@dataclass(frozen=True)
class School:
    id: int
    staff: Account


@dataclass(frozen=True)
class Device:
    identity: DeviceIdentity
    key: str


@dataclass(frozen=True)
class Pupil:
    id: int  # the pupil's account in the service
    person_id: int
    uid: str
    card_id: int


def make_school() -> School:
    school = make_organisation("school")
    return School(school.id, make_staff(Role.SCHOOL_STAFF, school.id))


def new_uid() -> str:
    return f"04A1{next(_numbers):010X}"


def yesterday_at(hour: int, minute: int = 0) -> datetime:
    """A moment of yesterday in the city: a day wholly past, whatever the clock says now."""
    return datetime.combine(city_today() - timedelta(days=1), time(hour, minute), city_tz())


def make_child(parent: Account, first_name: str = "Маша") -> int:
    return accounts.add_child(
        parent.principal,
        ChildCreate(last_name="Иванова", first_name=first_name, birth_date=date(2015, 3, 1)),
    ).id


def issue(school: School, person_id: int, uid: str | None = None) -> Pupil:
    card = service.issue_card(
        school.staff.principal,
        CardIssue(school_id=school.id, person_id=person_id, uid=uid or new_uid()),
    )
    return Pupil(card.pupil_id, person_id, card.uid, card.id)


def enrolled_child(
    school: School, parent: Account | None = None, first_name: str = "Маша", balance: int = 0
) -> tuple[Account, Pupil]:
    """A parent whose child has a card and who activated the service (with ``balance``
    kopecks on the card)."""
    parent = parent or make_citizen()
    child = make_child(parent, first_name)
    pupil = issue(school, child)
    activate(parent, child)
    if balance:
        top_up(parent, pupil.id, balance)
    return parent, pupil


def activate(parent: Account, child_id: int) -> PupilRead:
    return service.activate_card_service(parent.principal, Activation(child_id=child_id))


def top_up(adult: Account, pupil_id: int, amount: int) -> PupilRead:
    return service.top_up_card(
        adult.principal, pupil_id, TopUp(amount=amount, reference=f"pay-{next(_numbers)}")
    )


def make_device(school_id: int, kind: str = "turnstile") -> Device:
    _read, key = accounts.register_device(
        SYSTEM, DeviceKeyCreate(organisation_id=school_id, kind=kind, name=f"{kind} 1")
    )
    return Device(accounts.authenticate_device(key), key)


def event(
    event_id: str, kind: str, uid: str, at: datetime, amount: int | None = None, **extra: object
) -> dict[str, object]:
    row: dict[str, object] = {"event_id": event_id, "kind": kind, "uid": uid, "at": at.isoformat()}
    if amount is not None:
        row["amount"] = amount
    row.update(extra)
    return row


def send(device: Device, *rows: dict[str, object]) -> BatchRead:
    return service.record_device_events(device.identity, list(rows))
