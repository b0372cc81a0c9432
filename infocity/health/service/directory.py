"""The directory: specialties, clinics, practitioners, and patients' attachment to clinics."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infocity.accounts import service as accounts
from infocity.city import service as city
from infocity.core import audit
from infocity.core.auth import Action, Principal, Role, authorize
from infocity.core.clock import city_date, city_tz
from infocity.core.db import utcnow
from infocity.core.errors import Conflict
from infocity.core.i18n import N_, format_datetime
from infocity.core.sql import dml, upsert_insert
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules
from infocity.health.models import Attachment, Clinic, Practitioner, Specialty
from infocity.health.schemas import (
    AttachmentCreate,
    AttachmentRead,
    ClinicCreate,
    ClinicRead,
    DistrictUpdate,
    DoctorPostCreate,
    DoctorRead,
    PractitionerCreate,
    PractitionerRead,
    SpecialtyRead,
    SpecialtyUpdate,
)
from infocity.health.service.base import (
    ATTACHMENTS,
    SLOTS,
    _authorize_in_clinic,
    _specialty_by_code,
)


def seed_specialties(*, uow: UnitOfWork | None = None) -> int:
    """Add the city's 19 specialties that are missing; return how many were added."""
    uow = uow or UnitOfWork()
    with uow:
        table = cast(Table, Specialty.__table__)
        added = 0
        now = utcnow()
        for seed in rules.SPECIALTIES:
            statement = (
                upsert_insert(uow.session)(table)
                .values(
                    code=seed.code,
                    name=seed.name,
                    name_en=seed.name_en,
                    slot_minutes=seed.slot_minutes,
                    booking_mode=seed.booking_mode,
                    horizon_days=rules.DEFAULT_HORIZON_DAYS,
                    release_time=rules.DEFAULT_RELEASE_TIME,
                    active_limit=rules.DEFAULT_ACTIVE_LIMIT,
                    audience=seed.audience,
                    sex=seed.sex,
                    created_at=now,
                )
                .on_conflict_do_nothing(index_elements=["code"])
            )
            added += dml(uow.session, statement).rowcount
        uow.commit()
        return added


def list_specialties(*, uow: UnitOfWork | None = None) -> list[SpecialtyRead]:
    """Every specialty, directly bookable first, then by name."""
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.scalars(
            select(Specialty).order_by(Specialty.booking_mode, Specialty.name_en)
        )
        return [SpecialtyRead.model_validate(row) for row in rows]


def update_specialty(
    actor: Principal | None,
    specialty_id: int,
    data: SpecialtyUpdate,
    *,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> SpecialtyRead:
    """Tune a specialty (city administrators): slot length, booking mode, horizon,
    release time, limit of active appointments."""
    authorize(actor, Action.DIRECTORY_MANAGE)
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        specialty = session.get(Specialty, specialty_id)
        if specialty is None:
            raise errors.SpecialtyNotFound()
        changes = data.model_dump(exclude_unset=True, exclude_none=True)
        for name, value in changes.items():
            setattr(specialty, name, value)
        session.flush()
        if {"horizon_days", "release_time"} & changes.keys():
            _move_unreleased_slots(session, specialty, now)
        audit.record(
            session,
            actor,
            "health.specialty.update",
            detail=f"{specialty.code}: {', '.join(sorted(changes)) or 'no change'}",
        )
        result = SpecialtyRead.model_validate(specialty)
        uow.commit()
        return result


MAX_HORIZON_DAYS = 60  # the longest booking horizon a specialty may have (SpecialtyUpdate)


def _move_unreleased_slots(session: Session, specialty: Specialty, now: datetime) -> None:
    # Slots not yet open follow the new release rule; slots already open stay open, so
    # nobody loses a time they could already see. Slot length changes apply to slots
    # materialised from now on.
    tz = city_tz()
    today = city_date(now)
    for offset in range(0, 2 * MAX_HORIZON_DAYS + 2):
        day = today + timedelta(days=offset)
        day_start = rules.local_instant(day, time(0, 0), tz) or datetime.combine(
            day, time(1, 0), tzinfo=tz
        ).astimezone(UTC)
        next_day = day + timedelta(days=1)
        day_end = rules.local_instant(next_day, time(0, 0), tz) or datetime.combine(
            next_day, time(1, 0), tzinfo=tz
        ).astimezone(UTC)
        opens = rules.release_at(
            day, horizon_days=specialty.horizon_days, release_time=specialty.release_time, tz=tz
        )
        dml(
            session,
            update(SLOTS)
            .where(
                SLOTS.c.specialty_id == specialty.id,
                SLOTS.c.starts_at >= day_start,
                SLOTS.c.starts_at < day_end,
                SLOTS.c.release_at > now,
            )
            .values(release_at=opens),
        )


def create_clinic(
    data: ClinicCreate, *, actor: Principal | None, uow: UnitOfWork | None = None
) -> ClinicRead:
    """Give an organisation of kind "clinic" its health profile (city administrators;
    ``SYSTEM``)."""
    authorize(actor, Action.DIRECTORY_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        organisation = city.get_organisation(data.organisation_id, uow=uow)
        if organisation.kind != "clinic":
            raise errors.NotAClinic()
        if data.parent_clinic_id is not None:
            parent = uow.session.get(Clinic, data.parent_clinic_id)
            if parent is None:
                raise errors.ClinicNotFound()
            if parent.parent_clinic_id is not None or parent.clinic_kind != data.clinic_kind:
                raise errors.InvalidParentClinic()
        if uow.session.get(Clinic, data.organisation_id) is not None:
            raise errors.ClinicExists()
        clinic = Clinic(
            id=data.organisation_id,
            clinic_kind=data.clinic_kind,
            parent_clinic_id=data.parent_clinic_id,
        )
        uow.session.add(clinic)
        try:
            uow.session.flush()
        except IntegrityError as exc:
            raise errors.ClinicExists() from exc
        result = ClinicRead(
            id=clinic.id,
            name=organisation.name,
            name_en=organisation.name_en,
            address=organisation.address,
            clinic_kind=clinic.clinic_kind,
            parent_clinic_id=clinic.parent_clinic_id,
        )
        uow.commit()
        return result


def list_clinics(*, uow: UnitOfWork | None = None) -> list[ClinicRead]:
    """Every polyclinic and branch with its health profile, by name."""
    uow = uow or UnitOfWork()
    with uow:
        profiles = {c.id: c for c in uow.session.scalars(select(Clinic))}
        return [
            ClinicRead(
                id=o.id,
                name=o.name,
                name_en=o.name_en,
                address=o.address,
                clinic_kind=profiles[o.id].clinic_kind,
                parent_clinic_id=profiles[o.id].parent_clinic_id,
            )
            for o in city.list_organisations("clinic", uow=uow)
            if o.id in profiles
        ]


def list_doctors(
    *,
    specialty_id: int | None = None,
    clinic_id: int | None = None,
    practitioner_id: int | None = None,
    uow: UnitOfWork | None = None,
) -> list[DoctorRead]:
    """The doctors (active posts) of a specialty or a clinic, or of the whole city, by name."""
    uow = uow or UnitOfWork()
    with uow:
        query = select(Practitioner).where(Practitioner.active.is_(True))
        if practitioner_id is not None:
            query = query.where(Practitioner.id == practitioner_id)
        if specialty_id is not None:
            query = query.where(Practitioner.specialty_id == specialty_id)
        if clinic_id is not None:
            query = query.where(Practitioner.clinic_id == clinic_id)
        rows = uow.session.scalars(query.order_by(Practitioner.name, Practitioner.id))
        return [DoctorRead.model_validate(row) for row in rows]


def add_practitioner(
    data: PractitionerCreate, *, actor: Principal | None, uow: UnitOfWork | None = None
) -> PractitionerRead:
    """Add a doctor's post to a clinic (clinic administrators; ``SYSTEM``)."""
    actor = authorize(actor, Action.SCHEDULE_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        if uow.session.get(Clinic, data.clinic_id) is None:
            raise errors.ClinicNotFound()
        _authorize_in_clinic(uow.session, actor, Action.SCHEDULE_MANAGE, data.clinic_id)
        specialty = _specialty_by_code(uow.session, data.specialty_code)
        practitioner = Practitioner(
            clinic_id=data.clinic_id,
            specialty_id=specialty.id,
            name=data.name,
            room=data.room,
            user_id=data.user_id,
            district=data.district,
            active=True,
        )
        uow.session.add(practitioner)
        try:
            uow.session.flush()
        except IntegrityError as exc:  # the only foreign key left unchecked: the user
            raise errors.UserNotFound() from exc
        result = PractitionerRead.model_validate(practitioner)
        uow.commit()
        return result


# Whom a polyclinic of each kind sees, in the words of a specialty's audience.
AUDIENCE_OF_CLINIC = {"adult": "adult", "children": "child"}


def open_doctor_post(
    actor: Principal | None, data: DoctorPostCreate, *, uow: UnitOfWork | None = None
) -> PractitionerRead:
    """Open a doctor's post, with its specialty and room, for a doctor's account of the
    clinic (created by the city administrator), so that patients can be booked with them
    (clinic administrators). The post carries the account's name."""
    actor = authorize(actor, Action.SCHEDULE_MANAGE)  # the anonymous learn nothing
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinic = session.get(Clinic, data.clinic_id)
        if clinic is None:
            raise errors.ClinicNotFound()
        _authorize_in_clinic(session, actor, Action.SCHEDULE_MANAGE, clinic.id)
        name = accounts.staff_of_organisation(session, clinic.id, Role.DOCTOR).get(data.user_id)
        if name is None:
            raise errors.NotADoctorHere()
        specialty = _specialty_by_code(session, data.specialty_code)
        if specialty.audience not in ("any", AUDIENCE_OF_CLINIC[clinic.clinic_kind]):
            raise errors.SpecialtyNotForClinic()
        existing = session.scalar(
            select(Practitioner.id).where(
                Practitioner.clinic_id == clinic.id,
                Practitioner.user_id == data.user_id,
                Practitioner.specialty_id == specialty.id,
                Practitioner.active.is_(True),
            )
        )
        if existing is not None:
            raise errors.DoctorPostExists()
        practitioner = Practitioner(
            clinic_id=clinic.id,
            specialty_id=specialty.id,
            name=name,
            room=data.room.strip(),
            user_id=data.user_id,
            district=data.district,
            active=True,
        )
        session.add(practitioner)
        session.flush()
        audit.record(
            session,
            actor,
            "health.practitioner.open",
            organisation_id=clinic.id,
            detail=f"{specialty.code}, room {practitioner.room}"
            + (f", district {practitioner.district}" if practitioner.district else ""),
        )
        result = PractitionerRead.model_validate(practitioner)
        uow.commit()
        return result


def attach_patient(
    actor: Principal | None,
    data: AttachmentCreate,
    *,
    approved_by: Principal | None = None,
    now: datetime | None = None,
    uow: UnitOfWork | None = None,
) -> AttachmentRead:
    """Attach a patient to a polyclinic (at most one change a year; history kept).

    Only ``SYSTEM`` attaches: the portal once a polyclinic has approved the patient's
    application (``approved_by`` is the staff member who did, checked there to work for
    the clinic; the applicant is told of the decision), the demo and the command line.
    Neither a citizen nor staff attach directly, which would skip the approval and, for a
    registrar, move a patient of another polyclinic without telling them.
    """
    actor = authorize(actor, Action.INBOX_READ)  # any logged-in user; narrowed below
    if not actor.is_system:
        raise errors.AttachmentByApplication()
    now = now or utcnow()
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinic = session.get(Clinic, data.clinic_id)
        if clinic is None:
            raise errors.ClinicNotFound()
        if clinic.parent_clinic_id is not None:  # patients attach to the head clinic
            clinic = session.get(Clinic, clinic.parent_clinic_id)
            assert clinic is not None
        patient = accounts.person_by_id(session, data.person_id)
        if patient is None:
            raise errors.PatientNotFound()
        if patient.birth_date is None:
            raise errors.BirthDateRequired()
        rules.check_suited(
            rules.PatientTraits(patient.birth_date, patient.sex),
            city_date(now),
            clinic_kind=clinic.clinic_kind,
        )
        current = session.scalars(
            select(Attachment).where(
                Attachment.person_id == patient.person_id,
                Attachment.kind == clinic.clinic_kind,
                Attachment.valid_to.is_(None),
            )
        ).one_or_none()
        if current is not None and current.clinic_id == clinic.id:
            return AttachmentRead.model_validate(current)  # already there: nothing to do
        if data.reason == "address_change" and not (data.new_address or "").strip():
            raise errors.NewAddressRequired()
        if current is not None:
            next_change = rules.next_attachment_change(current.valid_from)
            # A move lets the patient change at any time; otherwise once a year.
            if data.reason == "yearly" and next_change is not None and now < next_change:
                raise errors.AttachmentTooSoon(
                    next_change=format_datetime(next_change, "long").split(",")[0]
                )
            # Guarded: if another change closed this row meanwhile, ours must not win too.
            closed = dml(
                session,
                update(ATTACHMENTS)
                .where(ATTACHMENTS.c.id == current.id, ATTACHMENTS.c.valid_to.is_(None))
                .values(valid_to=now),
            )
            if closed.rowcount != 1:
                raise _attachment_changed()
        attachment = Attachment(
            person_id=patient.person_id,
            clinic_id=clinic.id,
            kind=clinic.clinic_kind,
            valid_from=now,
            valid_to=None,
            created_by_user_id=approved_by.acting_user_id if approved_by else None,
            reason=data.reason,
            new_address=(data.new_address or "").strip() or None,
            district=data.district,
        )
        session.add(attachment)
        try:
            session.flush()
        except IntegrityError as exc:  # a first attachment made at the same moment
            raise _attachment_changed() from exc
        if approved_by is not None:
            audit.record(
                session,
                approved_by,
                "health.attach",
                subject_person_id=patient.person_id,
                organisation_id=clinic.id,
            )
        result = AttachmentRead.model_validate(attachment)
        uow.commit()
        return result


def district_doctors(session: Session, head_clinic_id: int) -> dict[int, list[str]]:
    """The districts of a head clinic that a doctor's post serves (in the clinic or its
    branches), each with its doctors' names, in district order."""
    rows = session.execute(
        select(Practitioner.district, Practitioner.name)
        .join(Clinic, Clinic.id == Practitioner.clinic_id)
        .where(
            Practitioner.district.is_not(None),
            Practitioner.active.is_(True),
            (Clinic.id == head_clinic_id) | (Clinic.parent_clinic_id == head_clinic_id),
        )
        .order_by(Practitioner.district, Practitioner.name)
    )
    districts: dict[int, list[str]] = {}
    for district, name in rows:
        assert district is not None  # as the query asks
        districts.setdefault(district, []).append(name)
    return districts


def set_patient_district(
    actor: Principal | None,
    person_id: int,
    data: DistrictUpdate,
    *,
    uow: UnitOfWork | None = None,
) -> AttachmentRead:
    """Record a patient's district in the polyclinic they are attached to, so that its
    district doctor is offered to them first (registrars and clinic administrators of
    that polyclinic; null clears it). Only a district some doctor of the polyclinic
    serves may be chosen. Audited."""
    actor = authorize(actor, Action.APPOINTMENT_BOOK_FOR_ANY)  # the anonymous learn nothing
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        _authorize_in_clinic(session, actor, Action.APPOINTMENT_BOOK_FOR_ANY, data.clinic_id)
        clinic = session.get(Clinic, data.clinic_id)
        assert clinic is not None  # _authorize_in_clinic found staff of it
        head_id = clinic.parent_clinic_id or clinic.id
        current = session.scalars(
            select(Attachment).where(
                Attachment.person_id == person_id,
                Attachment.clinic_id == head_id,
                Attachment.valid_to.is_(None),
            )
        ).one_or_none()
        if current is None:  # not this clinic's patient: as if the id did not exist
            raise errors.PatientNotFound()
        if data.district is not None and data.district not in district_doctors(session, head_id):
            raise errors.UnknownDistrict()
        # Guarded: an attachment closed meanwhile (the patient moved) keeps its district.
        changed = dml(
            session,
            update(ATTACHMENTS)
            .where(ATTACHMENTS.c.id == current.id, ATTACHMENTS.c.valid_to.is_(None))
            .values(district=data.district),
        )
        if changed.rowcount != 1:
            raise _attachment_changed()
        audit.record(
            session,
            actor,
            "health.patient.district",
            subject_person_id=person_id,
            organisation_id=head_id,
            detail=str(data.district or "-"),
        )
        session.refresh(current)
        result = AttachmentRead.model_validate(current)
        uow.commit()
        return result


def _attachment_changed() -> Conflict:
    return Conflict(
        "attachment_changed",
        N_("The attachment was changed at the same moment. Please check and try again."),
    )


def current_attachments(person_id: int, *, uow: UnitOfWork | None = None) -> list[AttachmentRead]:
    """A patient's current attachments (one per kind at most)."""
    uow = uow or UnitOfWork()
    with uow:
        rows = uow.session.scalars(
            select(Attachment)
            .where(Attachment.person_id == person_id, Attachment.valid_to.is_(None))
            .order_by(Attachment.kind)
        )
        return [AttachmentRead.model_validate(row) for row in rows]
