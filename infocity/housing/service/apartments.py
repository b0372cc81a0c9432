"""Apartments and their meters: the register, linking an apartment to a citizen's
cabinet, and what the cabinet shows of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from infocity.core.auth import Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.db import utcnow
from infocity.core.ratelimit import hit
from infocity.core.settings import get_settings
from infocity.core.sql import upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.housing import errors, rules
from infocity.housing.models import Apartment, ApartmentLink, Bill, Meter, MeterReading, Payment
from infocity.housing.schemas import (
    ApartmentCreate,
    ApartmentLinkCreate,
    ApartmentOverviewRead,
    ApartmentRead,
    BillSummaryRead,
    MeterCreate,
    MeterRead,
    PaymentRead,
    ReadingRead,
)
from infocity.housing.service.base import _debt, _visible_apartment, _window

# --- Apartments ------------------------------------------------------------------------


def register_apartment(data: ApartmentCreate, *, uow: UnitOfWork | None = None) -> ApartmentRead:
    """Add an apartment to the housing register of its operator."""
    uow = uow or UnitOfWork()
    with uow:
        apartment = Apartment(**data.model_dump())
        uow.session.add(apartment)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise errors.ApartmentExists() from exc
        result = ApartmentRead.model_validate(apartment)
        uow.commit()
        return result


def find_apartment(payer_code: str, *, uow: UnitOfWork | None = None) -> ApartmentRead | None:
    """The apartment with this payer code, if any."""
    uow = uow or UnitOfWork()
    with uow:
        apartment = uow.session.scalar(select(Apartment).where(Apartment.payer_code == payer_code))
        return ApartmentRead.model_validate(apartment) if apartment else None


def link_apartment(
    actor: Principal | None, data: ApartmentLinkCreate, *, uow: UnitOfWork | None = None
) -> ApartmentRead:
    """Link an apartment to the citizen's cabinet by the payer code and apartment number
    on its bill (several citizens may link one apartment)."""
    actor = authorize(actor, Action.HOUSING_OWN)
    # Counted before checking and whatever the outcome: payer codes are guessable, so the
    # number of tries, not only of failures, is what stops enumeration.
    hit(
        f"housing.link:{actor.user_id}",
        limit=get_settings().apartment_link_attempts_per_hour,
        window_seconds=3600,
    )
    uow = uow or UnitOfWork()
    with uow:
        apartment = uow.session.scalar(
            select(Apartment).where(Apartment.payer_code == data.payer_code)
        )
        if apartment is None or apartment.number.strip().casefold() != (
            data.number.strip().casefold()
        ):
            raise errors.ApartmentNotMatched()
        uow.session.execute(
            upsert_insert(uow.session)(ApartmentLink)
            .values(apartment_id=apartment.id, user_id=actor.user_id, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["apartment_id", "user_id"])
        )
        result = ApartmentRead.model_validate(apartment)
        uow.commit()
        return result


def list_my_apartments(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[ApartmentRead]:
    """The apartments linked to the citizen's cabinet."""
    actor = authorize(actor, Action.HOUSING_OWN)
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.scalars(
            select(Apartment)
            .join(ApartmentLink, ApartmentLink.apartment_id == Apartment.id)
            .where(ApartmentLink.user_id == actor.user_id)
            .order_by(Apartment.address, Apartment.number)
        )
        return [ApartmentRead.model_validate(row) for row in rows]


def get_apartment_overview(
    actor: Principal | None,
    apartment_id: int,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> ApartmentOverviewRead:
    """An apartment's meters with their readings, the readings window, bills, payments and
    debt."""
    now = now or utcnow()
    today = city_date(now)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        apartment = _visible_apartment(session, actor, apartment_id)
        meters = list(
            session.scalars(
                select(Meter).where(Meter.apartment_id == apartment.id).order_by(Meter.id)
            )
        )
        readings: dict[int, list[ReadingRead]] = {m.id: [] for m in meters}
        for reading in session.scalars(
            select(MeterReading)
            .where(MeterReading.apartment_id == apartment.id)
            .order_by(MeterReading.period)
        ):
            readings[reading.meter_id].append(ReadingRead.model_validate(reading))
        bills = session.scalars(
            select(Bill).where(Bill.apartment_id == apartment.id).order_by(Bill.period.desc())
        )
        payments = session.scalars(
            select(Payment)
            .where(Payment.apartment_id == apartment.id)
            .order_by(Payment.paid_on.desc(), Payment.id.desc())
        )
        return ApartmentOverviewRead(
            apartment=ApartmentRead.model_validate(apartment),
            meters=[
                MeterRead.model_validate(meter).model_copy(
                    update={
                        "overdue": meter.verification_due < today,
                        "readings": readings[meter.id],
                    }
                )
                for meter in meters
            ],
            window=_window(now),
            bills=[BillSummaryRead.model_validate(b) for b in bills],
            payments=[PaymentRead.model_validate(p) for p in payments],
            debt=_debt(session, apartment.id),
        )


# --- Meters and readings -----------------------------------------------------------------


def register_meter(
    actor: Principal | None, data: MeterCreate, *, uow: UnitOfWork | None = None
) -> MeterRead:
    """Install a meter in an apartment (the apartment's operator; ``SYSTEM``: the command
    line or the demo)."""
    actor = authorize(actor, Action.HOUSING_BILLING)
    uow = uow or UnitOfWork()
    with uow:
        apartment = uow.session.get(Apartment, data.apartment_id)
        if apartment is None:
            raise errors.RegisteredApartmentNotFound()
        authorize(actor, Action.HOUSING_BILLING, apartment.operator_id)
        capacity = rules.meter_capacity(data.kind)
        if data.initial_value > capacity:
            raise errors.ReadingOutOfRange(
                value=rules.format_quantity(data.initial_value),
                capacity=rules.format_quantity(capacity),
                field="initial_value",
            )
        meter = Meter(**data.model_dump())
        uow.session.add(meter)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise errors.MeterExists() from exc
        result = MeterRead.model_validate(meter)
        uow.commit()
        return result


# --- The portal's "utility information" application ---------------------------------------------


def apartment_for_applicant(
    actor: Principal | None, apartment_id: int, *, uow: UnitOfWork | None = None
) -> ApartmentRead:
    """One of the citizen's linked apartments (the portal routes an application by it)."""
    actor = authorize(actor, Action.HOUSING_OWN)
    uow = uow or UnitOfWork()
    with uow:
        return ApartmentRead.model_validate(_visible_apartment(uow.session, actor, apartment_id))
