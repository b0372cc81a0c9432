"""Use cases of the city directory: one function per thing a user does, one transaction each."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from infocity.city import errors, rules
from infocity.city.models import ORGANISATION_KINDS, District, Organisation
from infocity.city.schemas import DistrictCreate, DistrictRead, OrganisationCreate, OrganisationRead
from infocity.core import audit
from infocity.core.auth import Action, Principal, authorize
from infocity.core.uow import UnitOfWork


def create_district(
    data: DistrictCreate, *, actor: Principal | None, uow: UnitOfWork | None = None
) -> DistrictRead:
    """Add a district (city administrators; ``SYSTEM``: the CLI or the demo seed)."""
    actor = authorize(actor, Action.DIRECTORY_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        exists = uow.session.scalar(select(District.id).where(District.code == data.code))
        if exists is not None:
            raise errors.DistrictExists()
        district = District(code=data.code, name=data.name, name_en=data.name_en)
        uow.session.add(district)
        try:
            uow.session.flush()
        except IntegrityError as exc:  # the same code added at the same moment
            raise errors.DistrictExists() from exc
        if not actor.is_system:
            audit.record(uow.session, actor, "district.create", detail=data.code)
        result = DistrictRead.model_validate(district)
        uow.commit()
        return result


def create_organisation(
    data: OrganisationCreate, *, actor: Principal | None, uow: UnitOfWork | None = None
) -> OrganisationRead:
    """Add a clinic, school, kindergarten or operator (city administrators; ``SYSTEM``)."""
    actor = authorize(actor, Action.DIRECTORY_MANAGE)
    if data.kind not in ORGANISATION_KINDS:
        raise errors.UnknownOrganisationKind()
    uow = uow or UnitOfWork()
    with uow:
        if data.district_id is not None and uow.session.get(District, data.district_id) is None:
            raise errors.DistrictNotFound()
        organisation = Organisation(**data.model_dump())
        uow.session.add(organisation)
        uow.session.flush()
        if not actor.is_system:
            audit.record(
                uow.session,
                actor,
                "organisation.create",
                organisation_id=organisation.id,
                detail=data.kind,
            )
        result = OrganisationRead.model_validate(organisation)
        uow.commit()
        return result


def list_districts(*, uow: UnitOfWork | None = None) -> list[DistrictRead]:
    """Every district of the city, by code."""
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.scalars(select(District).order_by(District.code))
        return [DistrictRead.model_validate(row) for row in rows]


def list_organisations(
    kind: str | None = None, *, uow: UnitOfWork | None = None
) -> list[OrganisationRead]:
    """The city's organisations, of one kind or all, by name."""
    uow = uow or UnitOfWork()
    with uow:
        query = select(Organisation).order_by(Organisation.name, Organisation.id)
        if kind is not None:
            query = query.where(Organisation.kind == kind)
        return [OrganisationRead.model_validate(row) for row in uow.session.scalars(query)]


def get_organisation(organisation_id: int, *, uow: UnitOfWork | None = None) -> OrganisationRead:
    """One organisation, or NotFound ("organisation_not_found")."""
    uow = uow or UnitOfWork()
    with uow:
        organisation = uow.session.get(Organisation, organisation_id)
        if organisation is None:
            raise errors.OrganisationNotFound()
        return OrganisationRead.model_validate(organisation)


def organisation_districts(
    organisation_ids: list[int], *, uow: UnitOfWork | None = None
) -> dict[int, int | None]:
    """The district of each organisation named (an organisation not found is left out)."""
    uow = uow or UnitOfWork()
    with uow:
        if not organisation_ids:
            return {}
        rows = uow.session.execute(
            select(Organisation.id, Organisation.district_id).where(
                Organisation.id.in_(organisation_ids)
            )
        )
        return {row.id: row.district_id for row in rows}


def organisation_kind_labels() -> dict[str, str]:
    """Each kind of organisation in words (message ids, translated where shown), for the
    pages where staff pick an organisation."""
    return dict(rules.ORGANISATION_KIND_LABELS)
