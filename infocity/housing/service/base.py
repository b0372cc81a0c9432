"""What every part of the housing service shares: the tables, who may see an apartment,
the readings window and an apartment's debt."""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from infocity.core.auth import PERMISSIONS, Action, Principal, authorize
from infocity.core.clock import city_date
from infocity.core.settings import get_settings
from infocity.housing import errors, rules
from infocity.housing.models import (
    Apartment,
    ApartmentLink,
    Bill,
    MeterReading,
    Payment,
    ServiceRequest,
)
from infocity.housing.schemas import WindowRead

logger = logging.getLogger("infocity.housing")
READINGS = cast(Table, MeterReading.__table__)
APARTMENTS = cast(Table, Apartment.__table__)
PAYMENTS = cast(Table, Payment.__table__)
BILLS = cast(Table, Bill.__table__)
REQUESTS = cast(Table, ServiceRequest.__table__)


def _logged_in(actor: Principal | None) -> Principal:
    """The acting user of a use case whose action depends on who asks (a citizen or the
    staff), before ``authorize`` decides; the anonymous are asked to log in."""
    if actor is None:
        raise errors.LoginRequired()
    return actor


def _authorize_city_wide(actor: Principal) -> None:
    """Billing the whole city or setting its tariffs: a city-wide grant, not an operator's."""
    roles = PERMISSIONS[Action.HOUSING_BILLING]
    if not actor.is_system and not any(
        g.role in roles and g.organisation_id is None for g in actor.grants
    ):
        raise errors.NoAccess()


def _visible_apartment(session: Session, actor: Principal | None, apartment_id: int) -> Apartment:
    """The apartment if the citizen linked it, or if it is in the operator's care of a
    staff member who bills it; otherwise NotFound (the same answer as for no apartment)."""
    actor = _logged_in(actor)
    apartment = session.get(Apartment, apartment_id)
    if apartment is None:
        raise errors.ApartmentNotFound()
    if actor.kind == "citizen":
        authorize(actor, Action.HOUSING_OWN)
        linked = session.scalar(
            select(ApartmentLink.id).where(
                ApartmentLink.apartment_id == apartment_id,
                ApartmentLink.user_id == actor.user_id,
            )
        )
        if linked is None:
            raise errors.ApartmentNotFound()
        return apartment
    authorize(actor, Action.HOUSING_BILLING, apartment.operator_id)
    return apartment


def _window(now: datetime) -> WindowRead:
    settings = get_settings()
    today = city_date(now)
    start, end = settings.readings_window_start_day, settings.readings_window_end_day
    current = rules.open_window(today, start, end)
    window = current or rules.next_open_window(today, start, end)
    return WindowRead(
        is_open=current is not None,
        period=window.period,
        first_day=window.first_day,
        last_day=window.last_day,
    )


def _debt(session: Session, apartment_id: int) -> Decimal:
    billed = session.scalar(
        select(func.coalesce(func.sum(Bill.total), 0)).where(Bill.apartment_id == apartment_id)
    )
    paid = session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.apartment_id == apartment_id
        )
    )
    return Decimal(billed or 0) - Decimal(paid or 0)
