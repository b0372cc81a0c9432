"""The refusals of the city directory: one class per code, so tests and callers can name
them. Each carries an English message id, translated where it is shown."""

from __future__ import annotations

from infocity.core.errors import Conflict, InvalidInput, NotFound
from infocity.core.i18n import N_


class DistrictExists(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "district_exists", N_("A district with this code already exists."), field="code"
        )


class UnknownOrganisationKind(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_organisation_kind", N_("Unknown kind of organisation."), field="kind"
        )


class DistrictNotFound(InvalidInput):
    """A district named in a form that does not exist: the form's field is wrong."""

    def __init__(self) -> None:
        super().__init__(
            "district_not_found", N_("There is no such district."), field="district_id"
        )


class OrganisationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("organisation_not_found", N_("There is no such organisation."))
