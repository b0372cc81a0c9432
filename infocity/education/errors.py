"""The refusals of education: one class per code, so tests and callers can name them.
Each carries an English message id, translated where it is shown."""

from __future__ import annotations

from infocity.core.errors import Conflict, Forbidden, InvalidFields, InvalidInput, NotFound
from infocity.core.i18n import N_

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
            N_("A benefit needs its supporting document: give its name, number and date."),
            field="benefit_document",
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
