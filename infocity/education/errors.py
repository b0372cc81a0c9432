"""The refusals of education: one class per code, so tests and callers can name them.
Each carries an English message id, translated where it is shown."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from infocity.core.errors import Conflict, Forbidden, InvalidFields, InvalidInput, NotFound
from infocity.core.i18n import N_, format_day, gettext

# --- Directory and kindergarten queue ----------------------------------------------


class SchoolNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("school_not_found", N_("There is no such school."), field="school_id")


class KindergartenNotFound(NotFound):
    def __init__(self, field: str | None = "kindergarten_id") -> None:
        super().__init__(
            "kindergarten_not_found", N_("There is no such kindergarten."), field=field
        )


class NotAnEducationOrganisation(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "not_an_education_organisation",
            N_("This organisation is neither a school nor a kindergarten."),
            field="organisation_id",
        )


class OutsideYourDistrict(Forbidden):
    """A district's education official acting on an organisation of another district."""

    def __init__(self) -> None:
        super().__init__(
            "outside_your_district",
            N_(
                "This school or kindergarten is in another district: your district's "
                "education office does not manage it."
            ),
        )


class CityOfficialsOnly(Forbidden):
    """A step that concerns the whole city (the allocation run, the campaign's dates),
    asked by a district's official."""

    def __init__(self) -> None:
        super().__init__(
            "city_officials_only",
            N_(
                "This concerns every district at once, so the city's education department "
                "does it. Your district's part is on the preview."
            ),
        )


class AddressNotInTerritory(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "address_unknown",
            N_(
                "This address is not in the list of school territories. Check the spelling "
                "(street, house) or ask the district education office."
            ),
            field="address",
        )


class TerritoryRowsRejected(InvalidFields):
    """The file is refused as a whole; ``rows`` says what is wrong on which line (each is
    one of ``fields``, named "line N")."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        super().__init__(
            [
                InvalidInput("territory_row_rejected", why, field=f"line {line}")
                for line, why in rows
            ]
        )
        self.code = "territory_rows_rejected"
        self.message = N_("The file was not imported: %(count)s rows have mistakes.")
        self.field = "file"
        self.params = {"count": len(rows)}
        self.rows = rows


class ApplicationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "kindergarten_application_not_found",
            N_("There is no such kindergarten application."),
        )


class OfferNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("kindergarten_offer_not_found", N_("There is no such offer."))


class NotYourChild(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "not_your_child",
            N_("This child is not in your family. Add the child in your cabinet first."),
            field="child_id",
        )


class WrongAgeForKindergarten(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "wrong_age_for_kindergarten",
            N_(
                "On the desired start date the child must be between 1 and 7 years old "
                "(full years on 1 September of that school year)."
            ),
            field="desired_start",
        )


class DesiredStartInPast(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "desired_start_in_past",
            N_("The desired start date cannot be in the past."),
            field="desired_start",
        )


class ChoicesInvalid(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "kindergarten_choices_invalid",
            N_("Choose from one to three different kindergartens."),
            field="kindergarten_ids",
        )


class BenefitDocumentMissing(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "benefit_document_missing",
            N_(
                "A benefit needs its supporting document: choose it from the documents "
                "in your cabinet."
            ),
            field="benefit_document_id",
        )


class DocumentNotYours(Forbidden):
    """The document named is not in the parent's cabinet, or concerns neither the parent
    nor this child."""

    def __init__(self, field: str) -> None:
        super().__init__(
            "document_not_yours",
            N_(
                "This document is not among yours or your child's in the cabinet. Add it "
                "under My documents first."
            ),
            field=field,
        )


class ChildAlreadyQueued(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "child_already_queued",
            N_("This child already has an application in the kindergarten queue."),
            field="child_id",
        )


class ApplicationChanged(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "kindergarten_application_changed",
            N_("The application has changed meanwhile. Please look at it again."),
        )


class AllocationCollided(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "allocation_collided",
            N_(
                "Another allocation changed the queue or the places at the same moment; "
                "nothing was given by this run. Preview again."
            ),
        )


class PlacesBelowTaken(Conflict):
    def __init__(self, taken: int) -> None:
        super().__init__(
            "places_below_taken",
            N_("%(taken)s places of this group are already given; there cannot be fewer."),
            field="places",
            taken=taken,
        )


class OfferClosed(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "kindergarten_offer_closed",
            N_("This offer is no longer open: it was answered or its time ran out."),
        )


# --- Exam results ----------------------------------------------------------------------


class PublicationStateConflict(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "invalid_transition", N_("This cannot be done with the publication in its state.")
        )


class ResultsNotFound(NotFound):
    """No participant with this code, or the document does not match: the same answer,
    so that a look-up cannot tell which."""

    def __init__(self) -> None:
        super().__init__(
            "exam_results_not_found",
            N_(
                "No results were found for this registration code and document number. "
                "Check both and try again."
            ),
        )


class InvalidRegistrationCode(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_registration_code",
            N_("A registration code is 6 to 20 letters or digits."),
            field="registration_code",
        )


class InvalidDocumentNumber(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_document_number",
            N_("Give the document's number alone, 4 to 12 digits, without the series."),
            field="document_number",
        )


class ResultsFileRefused(InvalidInput):
    """A results file with bad rows: nothing of it was imported; ``rows`` says why."""

    def __init__(self, rows: Sequence[tuple[int, str, dict[str, object]]]) -> None:
        super().__init__(
            "exam_results_file_refused",
            N_("The file was not imported: %(count)s lines have errors."),
            count=len({line for line, _, _ in rows}),
        )
        self.rows = list(rows)  # (line, English message id, its parameters)

    def translated_rows(self) -> list[tuple[int, str]]:
        """Each refused line's reason in the user's language."""
        return [(line, gettext(message, **params)) for line, message, params in self.rows]

    def to_dict(self) -> dict[str, object]:
        body = super().to_dict()
        # The shape every JSON error has: the line is the field.
        body["fields"] = [
            {"field": f"line {line}", "message": message}
            for line, message in self.translated_rows()
        ]
        return body


class ImportCollided(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "exam_import_collided",
            N_("Another results file was being imported at the same time. Please import again."),
        )


class SubscriptionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("exam_subscription_not_found", N_("There is no such subscription."))


# --- First grade -------------------------------------------------------------------------


class CampaignNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "first_grade_campaign_not_found",
            N_("There is no first-grade enrolment campaign for this school year."),
        )


class CampaignDatesInvalid(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "first_grade_campaign_dates_invalid",
            N_(
                "Phase 1 must open before it closes, phase 2 must open after phase 1 closes, "
                "and everything must end by 1 September of the school year."
            ),
            field="phase_2_opens",
        )


class CampaignClosed(Conflict):
    """Outside both phases; the phases' days are written in the reader's language."""

    def __init__(self, phases: Sequence[date]) -> None:
        self.phases = list(phases)  # phase 1 opens, closes, phase 2 opens, closes
        super().__init__(
            "first_grade_campaign_closed",
            N_(
                "First-grade applications are not taken today. Phase 1 runs from "
                "%(phase_1_opens)s to %(phase_1_closes)s, phase 2 from %(phase_2_opens)s to "
                "%(phase_2_closes)s."
            ),
        )

    def translated(self) -> str:
        names = ("phase_1_opens", "phase_1_closes", "phase_2_opens", "phase_2_closes")
        days = {name: format_day(day) for name, day in zip(names, self.phases, strict=True)}
        return gettext(self.message, **days)


class WrongAgeForFirstGrade(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "wrong_age_for_first_grade",
            N_(
                "On 1 September the child must be from 6 years and 6 months to 8 years old. "
                "Otherwise give the education authority's permission: its number and date."
            ),
            field="age_permission",
        )


class SchoolChoicesInvalid(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "first_grade_choices_invalid",
            N_("Choose from one to three different schools."),
            field="school_ids",
        )


class SchoolHasNoFirstGrade(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "school_has_no_first_grade",
            N_("One of the chosen schools takes no first graders in this campaign."),
            field="school_ids",
        )


class SiblingSchoolNotChosen(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "sibling_school_not_chosen",
            N_(
                "The school of the brother or sister must be one of the chosen schools, "
                "and their name must be given."
            ),
            field="sibling_school_id",
        )


class NoRightInPhase1(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "no_right_in_phase_1",
            N_(
                "Phase 1 is for children with a brother or sister at the chosen school, a "
                "priority category, or a home on the school's territory. None applies to "
                "the chosen schools: apply in phase 2."
            ),
            field="school_ids",
        )


class ChildAlreadyApplied(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "child_already_applied_first_grade",
            N_("This child already has a first-grade application."),
            field="child_id",
        )


class FirstGradeApplicationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__(
            "first_grade_application_not_found", N_("There is no such first-grade application.")
        )


class FirstGradeApplicationChanged(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "first_grade_application_changed",
            N_("The application has changed meanwhile. Please look at it again."),
        )


class DocumentsRefusalReasonMissing(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "documents_refusal_reason_missing",
            N_("Write what does not match: the parents read it."),
            field="reason",
        )


class FirstGradeRunCollided(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "first_grade_allocation_collided",
            N_(
                "Another allocation changed the applications or the places at the same "
                "moment; nothing was decided by this run. Preview again."
            ),
        )
