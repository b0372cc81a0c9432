"""The refusals of education: one class per code, so tests and callers can name them.
Each carries an English message id, translated where it is shown."""

from __future__ import annotations

from collections.abc import Sequence

from infocity.core.errors import Conflict, InvalidInput, NotFound
from infocity.core.i18n import N_, gettext

# --- Exam results ----------------------------------------------------------------------


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
