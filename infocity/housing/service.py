"""Use cases of housing: one function per thing a user does, one transaction each."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from infocity.core.errors import Conflict
from infocity.core.i18n import N_
from infocity.core.uow import UnitOfWork
from infocity.housing.models import Apartment
from infocity.housing.schemas import ApartmentCreate, ApartmentRead


def register_apartment(data: ApartmentCreate, *, uow: UnitOfWork | None = None) -> ApartmentRead:
    """Add an apartment to the housing register of its operator."""
    uow = uow or UnitOfWork()
    with uow:
        apartment = Apartment(**data.model_dump())
        uow.session.add(apartment)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "apartment_exists",
                N_("An apartment with this payer code or address is already registered."),
            ) from exc
        result = ApartmentRead.model_validate(apartment)
        uow.commit()
        return result


def find_apartment(payer_code: str, *, uow: UnitOfWork | None = None) -> ApartmentRead | None:
    """The apartment with this payer code, if any."""
    uow = uow or UnitOfWork()
    with uow:
        apartment = uow.session.scalar(select(Apartment).where(Apartment.payer_code == payer_code))
        return ApartmentRead.model_validate(apartment) if apartment else None
