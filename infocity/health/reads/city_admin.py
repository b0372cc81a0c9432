"""What the city's administrators read of health."""

from __future__ import annotations

from infocity.core.auth import Action, Principal, authorize
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.schemas import SpecialtyRead


def city_specialties(
    actor: Principal | None, *, uow: UnitOfWork | None = None
) -> list[SpecialtyRead]:
    """Every specialty with the rules the city tunes (city administrators only)."""
    authorize(actor, Action.DIRECTORY_MANAGE)
    return service.list_specialties(uow=uow)
