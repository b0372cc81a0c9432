"""The service catalogue, and the monthly count of e-service users (each service records
a use with ``infocity.core.usage.record_service_use`` inside its own transaction)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from infocity.core.auth import Action, Principal, authorize
from infocity.core.i18n import current_locale
from infocity.core.models import ServiceUse
from infocity.core.uow import UnitOfWork
from infocity.portal import errors, rules
from infocity.portal.models import (
    CatalogueService,
    ServiceCategory,
)
from infocity.portal.schemas import (
    CatalogueCategoryRead,
    CatalogueRead,
    CatalogueServiceRead,
    MonthlyUsersRead,
    UniqueUsersRead,
)


def seed_catalogue(*, uow: UnitOfWork | None = None) -> int:
    """Add or refresh the catalogue's categories and services; return how many were new.

    Idempotent: run it at every deployment (the demo loader does).
    """
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        added = 0
        categories: dict[str, ServiceCategory] = {
            c.code: c for c in session.scalars(select(ServiceCategory))
        }
        for position, seed in enumerate(rules.CATEGORIES):
            category = categories.get(seed.code)
            if category is None:
                category = ServiceCategory(code=seed.code)
                session.add(category)
                categories[seed.code] = category
                added += 1
            category.name_ru, category.name_en = seed.name_ru, seed.name_en
            category.position = position
        session.flush()
        services = {s.code: s for s in session.scalars(select(CatalogueService))}
        for position, item in enumerate(rules.SERVICES):
            service = services.get(item.code)
            if service is None:
                service = CatalogueService(code=item.code, active=True)
                session.add(service)
                added += 1
            service.category_id = categories[item.category].id
            service.name_ru, service.name_en = item.name_ru, item.name_en
            service.description_ru, service.description_en = (
                item.description_ru,
                item.description_en,
            )
            service.audience_ru, service.audience_en = item.audience_ru, item.audience_en
            service.link, service.application_type = item.link, item.application_type
            service.position = position
            service.search_ru = rules.search_text(item.name_ru, item.description_ru)
            service.search_en = rules.search_text(item.name_en, item.description_en)
        uow.commit()
        return added


def search_catalogue(query: str | None = None, *, uow: UnitOfWork | None = None) -> CatalogueRead:
    """The catalogue in the current language; with ``query``, only services whose name or
    description contains it (case-insensitive, ``ё`` matches ``е``)."""
    english = current_locale() == "en"
    query = (query or "").strip()[: rules.MAX_QUERY] or None
    uow = uow or UnitOfWork()
    with uow:
        statement = (
            select(CatalogueService, ServiceCategory)
            .join(ServiceCategory, CatalogueService.category_id == ServiceCategory.id)
            .where(CatalogueService.active.is_(True))
            .order_by(ServiceCategory.position, CatalogueService.position)
        )
        if query:
            column = CatalogueService.search_en if english else CatalogueService.search_ru
            statement = statement.where(
                column.like(rules.like_pattern(query), escape=rules.LIKE_ESCAPE)
            )
        grouped: dict[str, CatalogueCategoryRead] = {}
        total = 0
        for service, category in uow.session.execute(statement):
            entry = grouped.setdefault(
                category.code,
                CatalogueCategoryRead(
                    code=category.code,
                    name=category.name_en if english else category.name_ru,
                    services=[],
                ),
            )
            entry.services.append(
                CatalogueServiceRead(
                    code=service.code,
                    category=category.code,
                    name=service.name_en if english else service.name_ru,
                    description=service.description_en if english else service.description_ru,
                    audience=service.audience_en if english else service.audience_ru,
                    link=service.link,
                    application_type=service.application_type,
                )
            )
            total += 1
        return CatalogueRead(query=query, categories=list(grouped.values()), total=total)


def unique_users_per_month(
    actor: Principal | None, year: int, *, uow: UnitOfWork | None = None
) -> UniqueUsersRead:
    """How many different users used any e-service in each month of ``year`` (analysts)."""
    authorize(actor, Action.STATS_READ)
    if not 2000 <= year <= 2100:
        raise errors.InvalidYear()
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.execute(
            select(ServiceUse.used_month, func.count(func.distinct(ServiceUse.user_id)))
            .where(
                ServiceUse.used_month >= date(year, 1, 1),
                ServiceUse.used_month <= date(year, 12, 1),
            )
            .group_by(ServiceUse.used_month)
        )
        counts = {month.month: int(count) for month, count in rows}
        return UniqueUsersRead(
            year=year,
            months=[MonthlyUsersRead(month=m, unique_users=counts.get(m, 0)) for m in range(1, 13)],
        )
