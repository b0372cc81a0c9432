"""The refusals of housing and utilities: one class per code, so tests and callers can
name them. Each carries an English message id, translated where it is shown; values in
a message (dates, quantities) are written by the caller in the user's language."""

from __future__ import annotations

from infocity.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from infocity.core.i18n import N_

# --- Who asks ------------------------------------------------------------------------


class LoginRequired(Unauthenticated):
    def __init__(self) -> None:
        super().__init__("login_required", N_("Please log in to continue."))


class NoAccess(Forbidden):
    def __init__(self) -> None:
        super().__init__("forbidden", N_("You do not have access to this."))


class FilerOnly(Forbidden):
    def __init__(self) -> None:
        super().__init__("forbidden", N_("Only the citizen who filed the request can do this."))


# --- Things that do not exist ------------------------------------------------------


class ApartmentNotFound(NotFound):
    """The same answer for no apartment and for one the user may not see."""

    def __init__(self) -> None:
        super().__init__("apartment_not_found", N_("There is no such apartment among yours."))


class RegisteredApartmentNotFound(NotFound):
    """Staff installing a meter name an apartment of the register."""

    def __init__(self) -> None:
        super().__init__("apartment_not_found", N_("There is no such apartment."))


class MeterNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("meter_not_found", N_("There is no such meter among yours."))


class BillNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("bill_not_found", N_("There is no such bill."))


class OperatorNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("operator_not_found", N_("There is no such housing operator."))


class ServiceNotFound(NotFound):
    """An Open311 service code no one can report."""

    def __init__(self, code: str) -> None:
        super().__init__(
            "service_not_found",
            N_("There is no service with code %(service_code)s."),
            service_code=code[:40],
        )


class RequestNotFound(NotFound):
    """The same answer for no request and for one the user may not see."""

    def __init__(self) -> None:
        super().__init__("request_not_found", N_("There is no such service request."))


class PhotoNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("photo_not_found", N_("There is no such photo."))


# --- Apartments and meters -----------------------------------------------------------


class ApartmentExists(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "apartment_exists",
            N_("An apartment with this payer code or address is already registered."),
        )


class ApartmentNotMatched(InvalidInput):
    """One answer for an unknown code and a wrong number: nothing to enumerate."""

    def __init__(self) -> None:
        super().__init__(
            "apartment_not_matched",
            N_(
                "No apartment matches this payer code and apartment number. "
                "Check both on your bill."
            ),
            field="payer_code",
        )


class MeterExists(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "meter_exists",
            N_("A meter with this serial number is already registered."),
            field="serial",
        )


# --- Readings ------------------------------------------------------------------------


class InvalidReading(InvalidInput):
    def __init__(self) -> None:
        super().__init__("invalid_reading", N_("A reading cannot be negative."), field="value")


class ReadingOutOfRange(InvalidInput):
    """Confirming cannot help: no meter shows this, so no bill may be made of it."""

    def __init__(self, *, value: str, capacity: str, field: str = "value") -> None:
        super().__init__(
            "reading_out_of_range",
            N_("This meter cannot show %(value)s: at most %(capacity)s. Check the number."),
            field=field,
            value=value,
            capacity=capacity,
        )


class ReadingBelowPrevious(InvalidInput):
    def __init__(self, *, value: str, previous: str) -> None:
        super().__init__(
            "reading_below_previous",
            N_(
                "The reading %(value)s is below the previous one (%(previous)s). "
                "Check the number on the meter."
            ),
            field="value",
            value=value,
            previous=previous,
        )


class ReadingNeedsConfirmation(Conflict):
    def __init__(self, *, consumption: str, limit: str) -> None:
        super().__init__(
            "reading_needs_confirmation",
            N_(
                "This reading means %(consumption)s used this month, more than %(limit)s "
                "expected for your apartment. If the number is right, confirm it."
            ),
            field="value",
            consumption=consumption,
            limit=limit,
        )


class ReadingsWindowClosed(Conflict):
    def __init__(self, *, first: int, last: int, opens: str) -> None:
        super().__init__(
            "readings_window_closed",
            N_(
                "Readings are accepted from the %(first)s to the %(last)s of the next "
                "month. The next window opens on %(opens)s."
            ),
            first=first,
            last=last,
            opens=opens,
        )


class MeterVerificationOverdue(Conflict):
    def __init__(self, *, serial: str, due: str) -> None:
        super().__init__(
            "meter_verification_overdue",
            N_(
                "Meter %(serial)s was due for verification on %(due)s, so its readings "
                "cannot be accepted. Have it verified and the housing operator will "
                "record the new date; until then the month is charged by the norm."
            ),
            serial=serial,
            due=due,
        )


# --- Tariffs, bills and payments -------------------------------------------------------


class InvalidPeriod(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "invalid_period", N_("Give the month as YYYY-MM, for example 2026-03."), field="period"
        )


class TariffMissing(InvalidInput):
    def __init__(self, *, service: str, period: str) -> None:
        super().__init__(
            "tariff_missing",
            N_("There is no tariff for %(service)s in %(period)s."),
            service=service,
            period=period,
        )


class InvalidBankDetails(InvalidInput):
    """One wrong field of an operator's bank details (``message`` says which rule)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__("invalid_bank_details", message, field=field)


class PaymentFileRefused(InvalidInput):
    """A payment file with bad rows: nothing of it was imported; ``rows`` says why."""

    def __init__(self, rows: list[tuple[int, str]]) -> None:
        super().__init__(
            "payment_file_refused",
            N_("The file was not imported: %(count)s rows have errors."),
            count=len(rows),
        )
        self.rows = rows  # (line number, English message id)


# --- Service requests ------------------------------------------------------------------


class UnknownService(InvalidInput):
    """A request filed for a service code no one can report (the form's field)."""

    def __init__(self, code: str) -> None:
        super().__init__(
            "service_not_found",
            N_("There is no service with code %(service_code)s."),
            field="service_code",
            service_code=code,
        )


class LocationRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "location_required",
            N_("Choose your apartment or give the location of the problem."),
            field="apartment_id",
        )


class NoOperator(InvalidInput):
    def __init__(self) -> None:
        super().__init__("no_operator", N_("No housing operator serves this place."), field="lat")


class DateRangeReversed(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "date_range_reversed", N_("end_date must not be before start_date."), field="end_date"
        )


class DateRangeTooLong(InvalidInput):
    def __init__(self, *, days: int) -> None:
        super().__init__(
            "date_range_too_long",
            N_("A date range may span at most %(days)s days."),
            field="end_date",
            days=days,
        )


class NoteRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "note_required", N_("Say what was done before closing the request."), field="note"
        )


class RequestStatusConflict(Conflict):
    """Two people acted on the request at once, or the page was old."""

    def __init__(self) -> None:
        super().__init__(
            "request_status_conflict",
            N_("This request has already moved past this step. Reload the page."),
        )


class RequestClosed(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "request_closed", N_("This request is closed. Reopen it to add photos."), field="file"
        )


class TooManyPhotos(InvalidInput):
    def __init__(self, *, limit: int) -> None:
        super().__init__(
            "too_many_photos",
            N_("A request can have at most %(limit)s photos."),
            field="file",
            limit=limit,
        )


class FileEmpty(InvalidInput):
    def __init__(self) -> None:
        super().__init__("file_empty", N_("The file is empty."), field="file")


class FileTooLarge(InvalidInput):
    def __init__(self, *, limit: int) -> None:
        super().__init__(
            "file_too_large", N_("The file is larger than %(limit)s MB."), field="file", limit=limit
        )


class PhotoTypeNotAllowed(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "photo_type_not_allowed", N_("Only JPEG and PNG photos can be added."), field="file"
        )


class ReasonRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "reason_required", N_("Say what is still wrong before reopening."), field="reason"
        )


class RequestNotReopenable(Conflict):
    def __init__(self, *, days: int) -> None:
        super().__init__(
            "request_not_reopenable",
            N_(
                "Only a request closed within the last %(days)s days can be reopened. "
                "Report the problem again."
            ),
            days=days,
        )


class RequestNotRatable(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "request_not_ratable",
            N_("A request can be rated once, after it is closed."),
            field="rating",
        )
