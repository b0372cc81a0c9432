"""The portal's refusals: one class per code, so tests and callers can name them. Each
carries an English message id, translated where it is shown."""

from __future__ import annotations

from pydantic import ValidationError

from infocity.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from infocity.core.i18n import N_

# --- Things that do not exist (or are someone else's: the same answer) ---------------


class MessageNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("message_not_found", N_("This message was not found in your inbox."))


class ApplicationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("application_not_found", N_("There is no such application."))


class ApplicationTypeNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("application_type_not_found", N_("There is no such kind of application."))


class CabinetDocumentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("cabinet_document_not_found", N_("There is no such document."))


class NotInYourFamily(Forbidden):
    def __init__(self) -> None:
        super().__init__(
            "document_person_not_in_family",
            N_("A document can be kept only for yourself or a child of your family."),
            field="person_id",
        )


class TooManyDocuments(Conflict):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "too_many_documents",
            N_("The cabinet keeps at most %(limit)s documents."),
        )
        self.params = {"limit": limit}


class AttachmentNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("attachment_not_found", N_("There is no such file."))


# --- An application's state does not allow it ------------------------------------------


class InvalidTransition(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "invalid_transition",
            N_("This cannot be done with the application in its current status."),
        )


class ApplicationChanged(Conflict):
    """Someone changed the application between its reading and the guarded update."""

    def __init__(self) -> None:
        super().__init__(
            "application_changed",
            N_("The application was changed at the same moment. Please reload it and try again."),
        )


class ClosedToComments(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "application_closed", N_("This application is closed: it takes no more comments.")
        )


class ClosedToFiles(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "application_closed", N_("This application is closed: it takes no more files.")
        )


# --- What was given is not right ------------------------------------------------------


class FormInvalid(InvalidInput):
    """A typed form that does not validate; ``errors`` says which fields and why."""

    def __init__(self, exc: ValidationError) -> None:
        errors = exc.errors()
        first = ".".join(str(p) for p in errors[0]["loc"]) if errors else None
        super().__init__(
            "invalid_form", N_("Some fields are filled in incorrectly."), field=first or None
        )
        self.errors = errors


class AssigneeNotStaff(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "assignee_not_staff",
            N_("This person does not process applications of this organisation."),
            field="assignee_user_id",
        )


class ReasonRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__("reason_required", N_("Please give a reason."), field="reason")


class ReasonTooLong(InvalidInput):
    def __init__(self) -> None:
        super().__init__("reason_too_long", N_("This value is too long."), field="reason")


class CommentRequired(InvalidInput):
    def __init__(self) -> None:
        super().__init__("required", N_("This field is required."), field="body")


class InvalidYear(InvalidInput):
    def __init__(self) -> None:
        super().__init__("invalid_year", N_("This value is not valid."), field="year")


class FileEmpty(InvalidInput):
    def __init__(self) -> None:
        super().__init__("file_empty", N_("The file is empty."), field="file")


class FileTooLarge(InvalidInput):
    def __init__(self, limit_mb: int) -> None:
        super().__init__(
            "file_too_large",
            N_("The file is larger than %(limit)s MB."),
            field="file",
            limit=limit_mb,
        )


class FileTypeNotAllowed(InvalidInput):
    def __init__(self) -> None:
        super().__init__(
            "file_type_not_allowed",
            N_("Only PDF, JPEG and PNG files can be attached."),
            field="file",
        )


class TooManyFiles(InvalidInput):
    def __init__(self, limit: int) -> None:
        super().__init__(
            "too_many_files",
            N_("An application can have at most %(limit)s files."),
            field="file",
            limit=limit,
        )
