"""Education's card in the citizen's cabinet: each child's kindergarten application (the
position in every chosen kindergarten, or the place offered and the last day to answer)
and first-grade application (the decision, its reason or its last day), read through
education's own use cases.

Kindergarten and first-grade applications are decided by the city's allocation runs, not
approved one by one in the portal's back office, so they are not portal application
types; the cabinet shows them here instead.
"""

from __future__ import annotations

from datetime import datetime

from infocity.accounts import service as accounts
from infocity.core.auth import Action, Principal, allowed
from infocity.core.i18n import N_, current_locale, gettext
from infocity.core.uow import UnitOfWork
from infocity.education import service
from infocity.education.rules.first_grade import (
    FIRST_GRADE_LABELS,
    REFUSAL_LABELS,
    FirstGradeStatus,
    RefusalReason,
)
from infocity.education.rules.kindergarten import APPLICATION_LABELS, ApplicationStatus, OfferStatus
from infocity.education.schemas.first_grade import FirstGradeApplicationRead
from infocity.education.schemas.kindergarten import KindergartenApplicationRead
from infocity.portal.registry import register_cabinet_card
from infocity.portal.schemas import (
    CabinetCardContent,
    CabinetFactRead,
    CabinetItemRead,
    CabinetLinkRead,
)

KINDERGARTEN_PAGE = "/education/kindergarten"
FIRST_GRADE_PAGE = "/education/first-grade"


def shown_name(name: str, name_en: str | None) -> str:
    """A school's or kindergarten's name in the reader's language (as the pages show it)."""
    return name_en if current_locale() == "en" and name_en else name


def _kindergarten(application: KindergartenApplicationRead) -> CabinetItemRead:
    facts: list[CabinetFactRead] = []
    actions: list[CabinetLinkRead] = []
    offer = next((o for o in application.offers if o.status == OfferStatus.OPEN), None)
    if offer is not None:
        facts.append(
            CabinetFactRead(
                label=gettext("Place offered"),
                value=shown_name(offer.kindergarten_name, offer.kindergarten_name_en),
            )
        )
        facts.append(
            CabinetFactRead(label=gettext("Answer by"), kind="day", value=offer.expires_on)
        )
        actions.append(CabinetLinkRead(href=KINDERGARTEN_PAGE, label=gettext("Answer the offer")))
    elif application.status == ApplicationStatus.QUEUED:
        facts += [
            CabinetFactRead(
                label=shown_name(p.kindergarten_name, p.kindergarten_name_en),
                value=gettext(
                    "Position %(position)s. Ahead: %(ahead)s, of them with a benefit: %(benefit)s.",
                    position=p.position,
                    ahead=p.ahead,
                    benefit=p.ahead_with_benefit,
                ),
            )
            for p in application.positions
        ]
    return CabinetItemRead(
        text=gettext("Kindergarten: %(child)s", child=application.child_name),
        href=KINDERGARTEN_PAGE,
        note=gettext(APPLICATION_LABELS[ApplicationStatus(application.status)]),
        facts=facts,
        actions=actions,
        attention=offer is not None,
    )


def _first_grade(application: FirstGradeApplicationRead) -> CabinetItemRead:
    facts: list[CabinetFactRead] = []
    if application.school_name:
        facts.append(
            CabinetFactRead(
                label=gettext("School"),
                value=shown_name(application.school_name, application.school_name_en),
            )
        )
    if application.status == FirstGradeStatus.SUBMITTED:
        facts.append(
            CabinetFactRead(label=gettext("Decision by"), kind="day", value=application.decide_by)
        )
    if application.refusal_reason:
        facts.append(
            CabinetFactRead(
                label=gettext("Reason"),
                value=gettext(REFUSAL_LABELS[RefusalReason(application.refusal_reason)]),
            )
        )
    return CabinetItemRead(
        text=gettext("First grade: %(child)s", child=application.child_name),
        href=FIRST_GRADE_PAGE,
        note=gettext(FIRST_GRADE_LABELS[application.status]),
        facts=facts,
        attention=application.status == FirstGradeStatus.ADMITTED,
    )


def education_card(actor: Principal, now: datetime, uow: UnitOfWork) -> CabinetCardContent | None:
    """The children's kindergarten and first-grade applications that are not withdrawn;
    none for a citizen with no child in the family and no application."""
    if not allowed(actor, Action.KINDERGARTEN_APPLY):
        return None
    kindergarten = [
        _kindergarten(a)
        for a in service.list_my_kindergarten_applications(actor, now=now, uow=uow)
        if a.status != ApplicationStatus.WITHDRAWN
    ]
    first_grade = [
        _first_grade(a)
        for a in service.list_my_first_grade_applications(actor, uow=uow)
        if a.status != FirstGradeStatus.WITHDRAWN
    ]
    if not kindergarten and not first_grade and not accounts.list_family(actor, uow=uow):
        return None
    return CabinetCardContent(
        items=kindergarten + first_grade,
        empty=gettext("You have no kindergarten or first-grade applications."),
        links=[
            CabinetLinkRead(href=KINDERGARTEN_PAGE, label=gettext("Kindergarten enrolment")),
            CabinetLinkRead(href=FIRST_GRADE_PAGE, label=gettext("First-grade enrolment")),
        ],
    )


register_cabinet_card(
    "education", title=N_("Kindergarten and school"), order=35, build=education_card
)
