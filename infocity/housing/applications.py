"""The portal's application type of housing: "utility information".

A citizen asks for a statement of an apartment's charges and payments; the housing
operator of the apartment reviews the application in the portal's back office, and its
approval sends the statement to the citizen's inbox (``service.issue_charges_statement``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from infocity.core.auth import Principal
from infocity.core.i18n import N_
from infocity.core.schemas import MAX_ID
from infocity.core.uow import UnitOfWork
from infocity.housing import service
from infocity.portal.registry import Approval, Routing, register_application_type


class UtilityInformationForm(BaseModel):
    """Send me the charges and payments of my apartment."""

    model_config = ConfigDict(extra="forbid")

    apartment_id: int = Field(
        ge=1,
        le=MAX_ID,
        title=N_("Apartment"),
        description=N_("One of the apartments linked in Housing and utilities."),
    )


def _resolve(form: UtilityInformationForm, applicant: Principal, uow: UnitOfWork) -> Routing:
    apartment = service.apartment_for_applicant(applicant, form.apartment_id, uow=uow)
    return Routing(
        organisation_id=apartment.operator_id,
        person_id=applicant.person_id,
        summary=f"{apartment.address}, {apartment.number}",
    )


def _approved(form: UtilityInformationForm, approval: Approval, uow: UnitOfWork) -> None:
    service.issue_charges_statement(form.apartment_id, user_id=approval.applicant_user_id, uow=uow)


def _options(applicant: Principal, uow: UnitOfWork) -> dict[str, list[tuple[str, str]]]:
    return {
        "apartment_id": [
            (str(a.id), f"{a.address}, {a.number}")
            for a in service.list_my_apartments(applicant, uow=uow)
        ]
    }


UTILITY_INFORMATION = register_application_type(
    "utility_information",
    title=N_("Utility charges information"),
    description=N_(
        "The housing operator of your apartment reviews the request and sends you a "
        "statement of the latest bills, payments and debt."
    ),
    form=UtilityInformationForm,
    resolve=_resolve,
    on_approved=_approved,
    deadline_days=5,
    working_days=True,
    field_options=_options,
)
