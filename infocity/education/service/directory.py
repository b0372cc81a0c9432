"""The education directory: schools and their buildings, kindergartens and the places of
their age groups, and the school territories imported from the district's file."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from infocity.city import service as city
from infocity.city.schemas import OrganisationCreate, OrganisationRead
from infocity.core import audit
from infocity.core.auth import SYSTEM, Action, Principal, allowed, authorize
from infocity.core.errors import NotFound
from infocity.core.i18n import N_
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.education import errors
from infocity.education.models.directory import (
    Kindergarten,
    KindergartenGroup,
    School,
    SchoolBuilding,
    TerritoryAddress,
)
from infocity.education.rules import directory as rules
from infocity.education.schemas.directory import (
    DirectoryRead,
    DistrictChoice,
    GroupPlacesSet,
    KindergartenCreate,
    KindergartenGroupRead,
    KindergartenRead,
    SchoolCreate,
    SchoolRead,
    TerritoryImportRead,
    TerritoryRead,
)
from infocity.portal import service as portal
from infocity.portal.schemas import CabinetDocumentRead


def _authorize_in(
    actor: Principal | None, action: Action, organisation_id: int, uow: UnitOfWork
) -> Principal:
    """``authorize`` for one school or kindergarten, inside the caller's unit of work:
    its own staff, the officials of its district, city officials. A district official
    reaching into another district is told so by name."""
    actor = authorize(actor, action)
    district = city.organisation_districts([organisation_id], uow=uow).get(organisation_id)
    if allowed(actor, action, organisation_id, district_id=district):
        return actor
    if actor.districts(action):
        raise errors.OutsideYourDistrict()
    return authorize(actor, action, organisation_id, district_id=district)


def _require_city_wide(actor: Principal, action: Action) -> None:
    """Refuse a district's official a step that concerns every district at once."""
    if actor.districts(action) is not None:
        raise errors.CityOfficialsOnly()


def _in_districts(
    actor: Principal, action: Action, organisation_ids: set[int], uow: UnitOfWork
) -> set[int] | None:
    """Of ``organisation_ids``, those the actor's district scope reaches for ``action``;
    None when the actor reaches them all (city officials)."""
    districts = actor.districts(action)
    if districts is None:
        return None
    found = city.organisation_districts(sorted(organisation_ids), uow=uow)
    return {o for o, d in found.items() if d in districts}


def _cabinet_document(
    uow: UnitOfWork, actor: Principal, document_id: int, child_id: int, field: str
) -> CabinetDocumentRead:
    """The document of the parent's cabinet an application points at: refused unless the
    parent keeps it and it concerns the parent or this child."""
    try:
        document = portal.my_document_for(actor, document_id, uow=uow)
    except NotFound as exc:
        raise errors.DocumentNotYours(field) from exc
    if document.person_id not in (actor.person_id, child_id):
        raise errors.DocumentNotYours(field)
    return document


def _check_new_in_district(actor: Principal, district_id: int | None) -> None:
    districts = actor.districts(Action.EDUCATION_DIRECTORY_MANAGE)
    if districts is not None and district_id not in districts:
        raise errors.OutsideYourDistrict()


def create_school(
    actor: Principal | None, data: SchoolCreate, *, uow: UnitOfWork | None = None
) -> SchoolRead:
    """Register a school with its buildings (education officials, of its district or
    of the city)."""
    actor = authorize(actor, Action.EDUCATION_DIRECTORY_MANAGE)
    _check_new_in_district(actor, data.district_id)
    buildings = list(dict.fromkeys(b.strip() for b in data.buildings if b.strip()))
    uow = uow or UnitOfWork()
    with uow:
        organisation = city.create_organisation(
            OrganisationCreate(
                kind="school",
                name=data.name,
                name_en=data.name_en,
                district_id=data.district_id,
                address=buildings[0] if buildings else None,
            ),
            actor=SYSTEM,  # checked above: a district's officials add to their district
            uow=uow,
        )
        uow.session.add(School(id=organisation.id))
        uow.session.flush()
        if not actor.is_system:
            audit.record(
                uow.session, actor, "education.school.create", organisation_id=organisation.id
            )
        for address in buildings:
            uow.session.add(SchoolBuilding(school_id=organisation.id, address=address))
        uow.session.flush()
        result = SchoolRead(
            id=organisation.id,
            name=organisation.name,
            name_en=organisation.name_en,
            district_id=organisation.district_id,
            buildings=buildings,
        )
        uow.commit()
        return result


def register_education_organisation(
    actor: Principal | None,
    organisation_id: int,
    buildings: list[str] | None = None,
    *,
    uow: UnitOfWork | None = None,
) -> None:
    """Give an existing school or kindergarten of the city directory its education
    profile (a school with its buildings; education officials of its district or city)."""
    uow = uow or UnitOfWork()
    with uow:
        actor = _authorize_in(actor, Action.EDUCATION_DIRECTORY_MANAGE, organisation_id, uow)
        organisation = city.get_organisation(organisation_id, uow=uow)
        if organisation.kind == "school":
            uow.session.add(School(id=organisation_id))
            uow.session.flush()
            for address in dict.fromkeys(buildings or [organisation.address or ""]):
                if address:
                    uow.session.add(SchoolBuilding(school_id=organisation_id, address=address))
        elif organisation.kind == "kindergarten":
            uow.session.add(Kindergarten(id=organisation_id))
        else:
            raise errors.NotAnEducationOrganisation()
        uow.session.flush()
        uow.commit()


def create_kindergarten(
    actor: Principal | None, data: KindergartenCreate, *, uow: UnitOfWork | None = None
) -> KindergartenRead:
    """Register a kindergarten (education officials, of its district or of the city);
    its places come by groups."""
    actor = authorize(actor, Action.EDUCATION_DIRECTORY_MANAGE)
    _check_new_in_district(actor, data.district_id)
    uow = uow or UnitOfWork()
    with uow:
        organisation = city.create_organisation(
            OrganisationCreate(kind="kindergarten", **data.model_dump()),
            actor=SYSTEM,  # checked above: a district's officials add to their district
            uow=uow,
        )
        uow.session.add(Kindergarten(id=organisation.id))
        uow.session.flush()
        if not actor.is_system:
            audit.record(
                uow.session, actor, "education.kindergarten.create", organisation_id=organisation.id
            )
        result = KindergartenRead.model_validate(organisation, from_attributes=True)
        uow.commit()
        return result


def _groups(
    session: Session, kindergarten_ids: list[int]
) -> dict[int, list[KindergartenGroupRead]]:
    found: dict[int, list[KindergartenGroupRead]] = {k: [] for k in kindergarten_ids}
    rows = session.scalars(
        select(KindergartenGroup)
        .where(KindergartenGroup.kindergarten_id.in_(kindergarten_ids))
        .order_by(KindergartenGroup.year, KindergartenGroup.age_group)
    )
    for row in rows:
        found[row.kindergarten_id].append(KindergartenGroupRead.model_validate(row))
    return found


def list_kindergartens(*, uow: UnitOfWork | None = None) -> list[KindergartenRead]:
    """The city's kindergartens by name, with their groups' places (public)."""
    uow = uow or UnitOfWork()
    with uow:
        ids = set(uow.session.scalars(select(Kindergarten.id)))
        organisations = [o for o in city.list_organisations("kindergarten", uow=uow) if o.id in ids]
        return _kindergarten_reads(uow.session, organisations)


def _kindergarten_reads(
    session: Session, organisations: list[OrganisationRead]
) -> list[KindergartenRead]:
    groups = _groups(session, [o.id for o in organisations])
    return [
        KindergartenRead(
            id=o.id,
            name=o.name,
            name_en=o.name_en,
            district_id=o.district_id,
            address=o.address,
            groups=groups[o.id],
        )
        for o in organisations
    ]


def _school_read(organisation: OrganisationRead, buildings: list[str]) -> SchoolRead:
    return SchoolRead(
        id=organisation.id,
        name=organisation.name,
        name_en=organisation.name_en,
        district_id=organisation.district_id,
        buildings=buildings,
    )


def _kindergarten_names(uow: UnitOfWork) -> dict[int, tuple[str, str | None]]:
    """Every kindergarten's name in Russian and English, by id (inside the caller's unit
    of work)."""
    ids = set(uow.session.scalars(select(Kindergarten.id)))
    return {
        o.id: (o.name, o.name_en)
        for o in city.list_organisations("kindergarten", uow=uow)
        if o.id in ids
    }


def set_group_places(
    actor: Principal | None,
    kindergarten_id: int,
    data: GroupPlacesSet,
    *,
    uow: UnitOfWork | None = None,
) -> KindergartenGroupRead:
    """Set how many places an age group of a kindergarten has in a school year (the
    kindergarten's own staff, the officials of its district or of the city). Places
    already offered stay taken: the free places change by the difference, and never go
    below the places taken."""
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        actor = _authorize_in(actor, Action.KINDERGARTEN_PLACES_MANAGE, kindergarten_id, uow)
        if session.get(Kindergarten, kindergarten_id) is None:
            raise errors.KindergartenNotFound(field=None)
        group = session.scalar(
            select(KindergartenGroup)
            .where(
                KindergartenGroup.kindergarten_id == kindergarten_id,
                KindergartenGroup.year == data.year,
                KindergartenGroup.age_group == data.age_group,
            )
            .with_for_update()
        )
        if group is None:
            group = KindergartenGroup(
                kindergarten_id=kindergarten_id,
                year=data.year,
                age_group=data.age_group,
                places=data.places,
                free_places=data.places,
            )
            session.add(group)
        else:
            taken = group.places - group.free_places
            if data.places < taken:
                raise errors.PlacesBelowTaken(taken)
            group.free_places = data.places - taken
            group.places = data.places
        session.flush()
        audit.record(
            session,
            actor,
            "education.kindergarten.places",
            organisation_id=kindergarten_id,
            detail=f"{data.year} group {data.age_group}: {data.places}",
        )
        result = KindergartenGroupRead.model_validate(group)
        uow.commit()
        return result


def import_territory(
    actor: Principal | None, text: str, *, uow: UnitOfWork | None = None
) -> TerritoryImportRead:
    """Load a territory file (CSV ``address,school_id``): every row or none. An address
    already in the table moves to the school the file names. A district's official
    loads its district's schools only."""
    actor = authorize(actor, Action.EDUCATION_DIRECTORY_MANAGE)
    rows, rejected = rules.parse_territory(text)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        named = {row.school_id for row in rows}
        known = (
            set(session.scalars(select(School.id).where(School.id.in_(named)))) if named else set()
        )
        reachable = _in_districts(actor, Action.EDUCATION_DIRECTORY_MANAGE, known, uow)
        rejected += [
            (row.line, N_("There is no school with this number."))
            for row in rows
            if row.school_id not in known
        ]
        rejected += [
            (row.line, N_("This school is in another district."))
            for row in rows
            if row.school_id in known and reachable is not None and row.school_id not in reachable
        ]
        if rejected:
            raise errors.TerritoryRowsRejected(sorted(rejected))
        if not rows:
            raise errors.TerritoryRowsRejected([(2, N_("The file has no rows after the header."))])
        table = cast(Table, TerritoryAddress.__table__)
        insert = upsert_insert(session)
        for row in rows:
            statement = insert(table).values(
                address_key=rules.address_key(row.address),
                address=row.address,
                school_id=row.school_id,
            )
            dml(
                session,
                statement.on_conflict_do_update(
                    index_elements=["address_key"],
                    set_={"address": row.address, "school_id": row.school_id},
                ),
            )
        audit.record(session, actor, "education.territory.import", detail=f"{len(rows)} rows")
        uow.commit()
        return TerritoryImportRead(imported=len(rows))


def school_for_address(address: str, *, uow: UnitOfWork | None = None) -> TerritoryRead:
    """The school whose territory an address is in (public), or "address unknown"."""
    uow = uow or UnitOfWork()
    with uow:
        row = uow.session.execute(
            select(TerritoryAddress.address, TerritoryAddress.school_id).where(
                TerritoryAddress.address_key == rules.address_key(address)
            )
        ).one_or_none()
        if row is None:
            raise errors.AddressNotInTerritory()
        school = city.get_organisation(row.school_id, uow=uow)
        return TerritoryRead(address=row.address, school_id=row.school_id, school_name=school.name)


def get_school(school_id: int, *, uow: UnitOfWork | None = None) -> SchoolRead:
    """A school with its buildings (public)."""
    uow = uow or UnitOfWork()
    with uow:
        if uow.session.get(School, school_id) is None:
            raise errors.SchoolNotFound()
        organisation = city.get_organisation(school_id, uow=uow)
        buildings = list(
            uow.session.scalars(
                select(SchoolBuilding.address)
                .where(SchoolBuilding.school_id == school_id)
                .order_by(SchoolBuilding.id)
            )
        )
        return _school_read(organisation, buildings)


# What a member of staff may do with a school or kindergarten, any of which shows it on
# their directory page.
DIRECTORY_ACTIONS = (
    Action.EDUCATION_DIRECTORY_MANAGE,
    Action.KINDERGARTEN_PLACES_MANAGE,
    Action.FIRST_GRADE_SCHOOL,
)


def _buildings(session: Session, school_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {s: [] for s in school_ids}
    rows = session.execute(
        select(SchoolBuilding.school_id, SchoolBuilding.address)
        .where(SchoolBuilding.school_id.in_(school_ids))
        .order_by(SchoolBuilding.id)
    )
    for school_id, address in rows:
        found[school_id].append(address)
    return found


def list_directory(actor: Principal | None, *, uow: UnitOfWork | None = None) -> DirectoryRead:
    """The schools (with buildings) and kindergartens (with their groups' places) the
    staff member looks after: their own organisation, their district's, or every one for
    city officials."""
    actor = authorize(actor, Action.WORKPLACE_OPEN)
    if not any(allowed(actor, a) for a in DIRECTORY_ACTIONS):
        authorize(actor, Action.EDUCATION_DIRECTORY_MANAGE)  # refuses with the usual reason
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        schools = set(session.scalars(select(School.id)))
        kindergartens = set(session.scalars(select(Kindergarten.id)))
        organisations = [
            o
            for o in city.list_organisations(uow=uow)
            if (o.id in schools or o.id in kindergartens)
            and any(allowed(actor, a, o.id, district_id=o.district_id) for a in DIRECTORY_ACTIONS)
        ]
        registering = actor.districts(Action.EDUCATION_DIRECTORY_MANAGE)
        shown_schools = [o for o in organisations if o.id in schools]
        buildings = _buildings(session, [o.id for o in shown_schools])
        return DirectoryRead(
            schools=[_school_read(o, buildings[o.id]) for o in shown_schools],
            kindergartens=_kindergarten_reads(
                session, [o for o in organisations if o.id in kindergartens]
            ),
            may_register=allowed(actor, Action.EDUCATION_DIRECTORY_MANAGE),
            districts=[
                DistrictChoice(id=d.id, name=d.name, name_en=d.name_en)
                for d in city.list_districts(uow=uow)
                if allowed(actor, Action.EDUCATION_DIRECTORY_MANAGE)
                and (registering is None or d.id in registering)
            ],
        )
