"""Housing test data made through the real service functions."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from infocity.core.auth import SYSTEM
from infocity.housing import service
from infocity.housing.schemas import (
    ApartmentCreate,
    ApartmentLinkCreate,
    ApartmentRead,
    MeterCreate,
    MeterRead,
    TariffCreate,
)
from tests.builders import Account, make_citizen, make_organisation

_codes = itertools.count(1)

PRICES = {
    "cold_water": Decimal("50.00"),
    "hot_water": Decimal("250.00"),
    "water_disposal": Decimal("40.00"),
    "electricity_day": Decimal("7.50"),
    "electricity_night": Decimal("3.00"),
}


def make_operator(name: str | None = None) -> int:
    """A housing operator organisation, at the demo's Arbat coordinates."""
    return make_organisation("housing_operator", name=name).id


def make_apartment(
    operator_id: int,
    *,
    number: str | None = None,
    residents: int = 2,
    payer_code: str | None = None,
) -> ApartmentRead:
    serial = next(_codes)
    return service.register_apartment(
        ApartmentCreate(
            payer_code=payer_code or f"{7700000000 + serial:010d}",
            operator_id=operator_id,
            address=f"Москва, ул. Тестовая, {serial}",
            number=number or str(serial % 200 + 1),
            residents=residents,
        )
    )


def make_meter(
    apartment_id: int,
    kind: str = "cold_water",
    *,
    verification_due: date = date(2030, 1, 1),
    initial_value: Decimal = Decimal(0),
) -> MeterRead:
    return service.register_meter(
        SYSTEM,
        MeterCreate(
            apartment_id=apartment_id,
            kind=kind,
            serial=f"SN-{next(_codes):06d}",
            verification_due=verification_due,
            initial_value=initial_value,
        ),
    )


def link(citizen: Account, apartment: ApartmentRead) -> None:
    service.link_apartment(
        citizen.principal,
        ApartmentLinkCreate(payer_code=apartment.payer_code, number=apartment.number),
    )


def resident(apartment: ApartmentRead) -> Account:
    """A citizen who has linked ``apartment``."""
    citizen = make_citizen()
    link(citizen, apartment)
    return citizen


def set_prices(valid_from: date = date(2020, 1, 1)) -> None:
    for kind, price in PRICES.items():
        service.set_tariff(SYSTEM, TariffCreate(service=kind, valid_from=valid_from, price=price))
