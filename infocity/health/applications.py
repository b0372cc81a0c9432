"""The portal's application type of health: the change of polyclinic attachment.

A citizen asks to attach themself or a child to another polyclinic; the registry of the
chosen (head) clinic reviews the application in the portal's back office, and its
approval attaches the patient (``service.attach_patient``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from infocity.accounts import service as accounts
from infocity.core.auth import SYSTEM, Principal
from infocity.core.clock import city_today
from infocity.core.i18n import N_, current_locale, gettext
from infocity.core.schemas import MAX_ID
from infocity.core.uow import UnitOfWork
from infocity.health import errors, rules, service
from infocity.health.schemas import AttachmentCreate, ClinicRead
from infocity.portal.registry import Approval, Routing, register_application_type


class ClinicAttachmentForm(BaseModel):
    """Attach me (or my child) to another polyclinic."""

    model_config = ConfigDict(extra="forbid")

    person_id: int | None = Field(
        default=None,
        ge=1,
        le=MAX_ID,
        title=N_("For whom"),
        description=N_("You or one of your children; yourself if not chosen."),
    )
    clinic_id: int = Field(ge=1, le=MAX_ID, title=N_("Polyclinic"))
    reason: str = Field(
        default="",
        max_length=1000,
        title=N_("Reason for the change"),
        description=N_("For example: I have moved."),
    )


def _clinics(uow: UnitOfWork) -> dict[int, ClinicRead]:
    return {clinic.id: clinic for clinic in service.list_clinics(uow=uow)}


def _clinic_name(clinic: ClinicRead) -> str:
    return clinic.name_en if current_locale() == "en" and clinic.name_en else clinic.name


def _resolve(form: ClinicAttachmentForm, applicant: Principal, uow: UnitOfWork) -> Routing:
    person_id = form.person_id or applicant.person_id
    if person_id is None or not accounts.acts_for(applicant, person_id, uow=uow):
        raise errors.NotYourFamily()
    clinics = _clinics(uow)
    clinic = clinics.get(form.clinic_id)
    if clinic is None:
        raise errors.ChosenClinicNotFound()
    # Patients attach to a head clinic; its registry decides.
    head = clinics.get(clinic.parent_clinic_id or clinic.id, clinic)
    # Refused now, by the rule the attachment applies, not after the clinic's review.
    person = accounts.person_by_id(uow.session, person_id)
    if person is not None:
        rules.check_suited(
            rules.PatientTraits(person.birth_date, person.sex),
            city_today(),
            clinic_kind=head.clinic_kind,
        )
    return Routing(organisation_id=head.id, person_id=person_id, summary=clinic.name)


def _attach(form: ClinicAttachmentForm, approval: Approval, uow: UnitOfWork) -> None:
    # The portal has checked that the approving staff member works for the clinic, so
    # the attachment is made as the system (a city administrator approving is not a registrar),
    # naming the approver for the record. The attachment joins the approval's transaction.
    assert approval.person_id is not None
    service.attach_patient(
        SYSTEM,
        AttachmentCreate(person_id=approval.person_id, clinic_id=form.clinic_id),
        approved_by=approval.actor,
        now=approval.now,
        uow=uow,
    )


def _options(applicant: Principal, uow: UnitOfWork) -> dict[str, list[tuple[str, str]]]:
    people = [("", gettext(N_("Myself")))]
    people += [
        (str(child.id), f"{child.last_name} {child.first_name}")
        for child in accounts.list_family(applicant, uow=uow)
    ]
    clinics = sorted(service.list_clinics(uow=uow), key=_clinic_name)
    return {
        "person_id": people,
        "clinic_id": [(str(c.id), _clinic_name(c)) for c in clinics],
    }


CLINIC_ATTACHMENT = register_application_type(
    "clinic_attachment",
    title=N_("Change of polyclinic attachment"),
    description=N_(
        "The polyclinic you choose reviews the application; once it is approved you are "
        "attached to it (at most one change a year)."
    ),
    form=ClinicAttachmentForm,
    resolve=_resolve,
    on_approved=_attach,
    deadline_days=7,
    working_days=True,
    field_options=_options,
)
