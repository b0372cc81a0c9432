"""The portal's application type of cards: a student's social card.

A student names their college or university; its student office confirms the student
status in the portal's back office, and the approval orders the card
(``service.order_social_card``), which the office then issues.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from infocity.cards import service
from infocity.cards.schemas.social import SocialCardOrder
from infocity.core.auth import SYSTEM, Principal
from infocity.core.i18n import N_, current_locale
from infocity.core.schemas import MAX_ID
from infocity.core.uow import UnitOfWork
from infocity.portal.registry import Approval, Routing, register_application_type


class StudentSocialCardForm(BaseModel):
    """A social card for me, a full-time student."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    organisation_id: int = Field(ge=1, le=MAX_ID, title=N_("College or university"))
    student_number: str = Field(
        min_length=1,
        max_length=40,
        title=N_("Student card number"),
        description=N_("As on your student card or record book."),
    )
    graduation_year: int = Field(
        ge=2000,
        le=2100,
        title=N_("Year your studies end"),
        description=N_("The card is valid until 31 August of that year."),
    )


def _resolve(form: StudentSocialCardForm, applicant: Principal, uow: UnitOfWork) -> Routing:
    # Refused now rather than after the college's review: not a college, a year that does
    # not fit, a card already held.
    person_id = service.check_social_card_application(
        applicant, form.organisation_id, form.graduation_year, uow=uow
    )
    names = {college_id: name for college_id, name, _ in service.list_colleges(uow=uow)}
    return Routing(
        organisation_id=form.organisation_id,
        person_id=person_id,
        summary=names.get(form.organisation_id, ""),
    )


def _order(form: StudentSocialCardForm, approval: Approval, uow: UnitOfWork) -> None:
    # The portal has checked that the approver works for the college; the card is
    # ordered as the system in the approval's transaction, naming the approver.
    assert approval.person_id is not None
    service.order_social_card(
        SYSTEM,
        SocialCardOrder(
            person_id=approval.person_id,
            user_id=approval.applicant_user_id,
            college_id=approval.organisation_id,
            student_number=form.student_number,
            graduation_year=form.graduation_year,
            application_id=approval.application_id,
        ),
        approved_by=approval.actor,
        now=approval.now,
        uow=uow,
    )


def _options(applicant: Principal, uow: UnitOfWork) -> dict[str, list[tuple[str, str]]]:
    english = current_locale() == "en"
    colleges = [
        (str(college_id), (name_en if english and name_en else name))
        for college_id, name, name_en in service.list_colleges(uow=uow)
    ]
    return {"organisation_id": sorted(colleges, key=lambda option: option[1])}


STUDENT_SOCIAL_CARD = register_application_type(
    "student_social_card",
    title=N_("Student social card"),
    description=N_(
        "Your college or university confirms that you study there; the card is then made "
        "and you collect it at the student office. Follow it on the page of your card."
    ),
    form=StudentSocialCardForm,
    resolve=_resolve,
    on_approved=_order,
    deadline_days=10,
    working_days=True,
    field_options=_options,
)
