"""What a clinic's administrator reads: the practitioners' weekly rules and exceptions."""

from __future__ import annotations

from sqlalchemy import select

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, Role, authorize
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.models import Clinic, Practitioner, ScheduleException, ScheduleRule
from infocity.health.reads.base import _specialties, _staff_clinic
from infocity.health.reads.shapes import (
    ClinicSchedules,
    ExceptionView,
    PractitionerSchedule,
    RuleView,
)


def clinic_schedules(
    actor: Principal | None, clinic_id: int | None, *, uow: UnitOfWork | None = None
) -> ClinicSchedules:
    """Practitioners of a clinic with their weekly rules and exceptions."""
    actor = authorize(actor, Action.SCHEDULE_MANAGE)
    uow = uow or UnitOfWork()
    with uow:
        session = uow.session
        clinics, clinic = _staff_clinic(
            uow, actor, Action.SCHEDULE_MANAGE, (Role.CLINIC_ADMIN,), clinic_id
        )
        specialties = _specialties(session)
        practitioners = list(
            session.scalars(
                select(Practitioner)
                .where(Practitioner.clinic_id == clinic.id)
                .order_by(Practitioner.name)
            )
        )
        ids = [p.id for p in practitioners]
        rules_by: dict[int, list[RuleView]] = {}
        for r in session.scalars(
            select(ScheduleRule)
            .where(ScheduleRule.practitioner_id.in_(ids))
            .order_by(ScheduleRule.weekday, ScheduleRule.start_time)
        ):
            rules_by.setdefault(r.practitioner_id, []).append(
                RuleView(
                    r.id,
                    r.weekday,
                    r.start_time,
                    r.end_time,
                    r.break_start,
                    r.break_end,
                    r.slot_minutes,
                    r.valid_from,
                    r.valid_to,
                )
            )
        exceptions_by: dict[int, list[ExceptionView]] = {}
        for e in session.scalars(
            select(ScheduleException)
            .where(ScheduleException.practitioner_id.in_(ids))
            .order_by(ScheduleException.date_from)
        ):
            exceptions_by.setdefault(e.practitioner_id, []).append(
                ExceptionView(e.id, e.kind, e.date_from, e.date_to, e.start_time, e.end_time)
            )
        doctors = accounts.staff_of_organisation(session, clinic.id, Role.DOCTOR)
        kind = session.get(Clinic, clinic.id)
        audience = service.AUDIENCE_OF_CLINIC[kind.clinic_kind] if kind else "any"
        offered = sorted(
            (s for s in specialties.values() if s.audience in ("any", audience)),
            key=lambda s: s.name,
        )
        return ClinicSchedules(
            clinics,
            clinic,
            [
                PractitionerSchedule(
                    p.id,
                    p.name,
                    p.room,
                    p.active,
                    specialties[p.specialty_id],
                    rules_by.get(p.id, []),
                    exceptions_by.get(p.id, []),
                    p.district,
                )
                for p in practitioners
            ],
            doctor_accounts=list(doctors.items()),
            specialties=offered,
        )
