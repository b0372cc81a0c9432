"""Health's card in the citizen's cabinet: the family's upcoming appointments, times the
waiting list keeps for them (to accept or turn down) and home visits not done yet, read
through health's own use cases."""

from __future__ import annotations

from datetime import datetime

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, allowed
from infocity.core.i18n import N_, current_locale, gettext
from infocity.core.uow import UnitOfWork
from infocity.health import service
from infocity.health.schemas import (
    AppointmentRead,
    ClinicRead,
    HomeVisitRead,
    SpecialtyRead,
    WaitlistEntryRead,
)
from infocity.portal.registry import register_cabinet_card
from infocity.portal.schemas import (
    CabinetCardContent,
    CabinetFactRead,
    CabinetItemRead,
    CabinetLinkRead,
)

UPCOMING = 5
HOME_VISIT_STATES = {
    "new": N_("Request received"),
    "accepted": N_("Request accepted"),
    "assigned": N_("Doctor assigned"),
}


class _Names:
    """Clinics, specialties and the children by id, in the reader's language."""

    def __init__(self, actor: Principal, uow: UnitOfWork) -> None:
        self.english = current_locale() == "en"
        self.clinics = {c.id: c for c in service.list_clinics(uow=uow)}
        self.specialties = {s.id: s for s in service.list_specialties(uow=uow)}
        self.children = {
            child.id: f"{child.first_name} {child.last_name}"
            for child in accounts.list_family(actor, uow=uow)
        }

    def clinic(self, clinic_id: int | None) -> str:
        clinic: ClinicRead | None = self.clinics.get(clinic_id) if clinic_id else None
        if clinic is None:
            return ""
        return clinic.name_en if self.english and clinic.name_en else clinic.name

    def specialty(self, specialty_id: int) -> str:
        specialty: SpecialtyRead | None = self.specialties.get(specialty_id)
        if specialty is None:
            return ""
        return specialty.name_en if self.english and specialty.name_en else specialty.name

    def patient(self, person_id: int) -> list[CabinetFactRead]:
        """Whom it is for, said only of a child (the citizen's own needs no name)."""
        name = self.children.get(person_id)
        return [CabinetFactRead(label=gettext("Patient"), value=name)] if name else []


def _hold(entry: WaitlistEntryRead, names: _Names) -> CabinetItemRead:
    assert entry.held_starts_at is not None
    assert entry.held_until is not None
    return CabinetItemRead(
        text=names.specialty(entry.specialty_id),
        note=gettext("A time is kept for you"),
        facts=[
            *names.patient(entry.person_id),
            CabinetFactRead(
                label=gettext("Date and time"), kind="moment", value=entry.held_starts_at
            ),
            CabinetFactRead(label=gettext("Answer by"), kind="moment", value=entry.held_until),
        ],
        actions=[
            CabinetLinkRead(
                href=f"/health/waitlist#hold-{entry.id}", label=gettext("Accept or turn down")
            )
        ],
        attention=True,
    )


def _appointment(item: AppointmentRead, names: _Names) -> CabinetItemRead:
    place = ", ".join(
        part for part in (names.specialty(item.specialty_id), names.clinic(item.clinic_id)) if part
    )
    return CabinetItemRead(
        text=place,
        href=f"/health/appointments/{item.id}",
        facts=[
            *names.patient(item.person_id),
            CabinetFactRead(label=gettext("Date and time"), kind="moment", value=item.starts_at),
            CabinetFactRead(label=gettext("Ticket"), value=item.ticket_number),
        ],
        actions=[
            CabinetLinkRead(
                href=f"/health/appointments/{item.id}/reschedule", label=gettext("Move")
            )
        ],
    )


def _home_visit(visit: HomeVisitRead, names: _Names) -> CabinetItemRead:
    return CabinetItemRead(
        text=gettext("Home visit: %(address)s", address=visit.address),
        href="/health/home-visits",
        note=gettext(HOME_VISIT_STATES.get(visit.status, visit.status)),
        facts=[
            *names.patient(visit.person_id),
            CabinetFactRead(label=gettext("Requested"), kind="moment", value=visit.created_at),
        ],
    )


def health_card(actor: Principal, now: datetime, uow: UnitOfWork) -> CabinetCardContent | None:
    """The family's appointments, kept times and home visits; none for a non-patient."""
    if not allowed(actor, Action.APPOINTMENT_BOOK_OWN):
        return None
    names = _Names(actor, uow)
    holds = [
        entry
        for entry in service.list_my_waitlist(actor, uow=uow)
        if entry.status == "holding"
        and entry.held_until is not None
        and entry.held_starts_at is not None
        and entry.held_until > now
    ]
    appointments = service.list_my_appointments(
        actor, upcoming=True, limit=UPCOMING, now=now, uow=uow
    )
    visits = [
        visit
        for visit in service.list_my_home_visits(actor, uow=uow)
        if visit.status in service.OPEN_HOME_VISITS
    ]
    items = [_hold(entry, names) for entry in holds]
    items += [_appointment(item, names) for item in appointments]
    items += [_home_visit(visit, names) for visit in visits]
    return CabinetCardContent(
        items=items,
        empty=gettext("No upcoming appointments."),
        links=[
            CabinetLinkRead(href="/health/appointments", label=gettext("My appointments")),
            CabinetLinkRead(href="/health", label=gettext("Book a doctor")),
            CabinetLinkRead(href="/health/home-visits", label=gettext("Home visits")),
        ],
    )


register_cabinet_card("health", title=N_("Upcoming appointments"), order=20, build=health_card)
