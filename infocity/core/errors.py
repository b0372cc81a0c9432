"""Errors a user can cause, each with a machine-readable code and a translatable message.

Service functions raise these; the web layer turns them into an HTTP status and a body
``{"error": {"code", "message", "field"}}`` in the user's language. Anything else that
escapes is a bug and answers 500.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from infocity.core.i18n import gettext


class AppError(Exception):
    """A refusal the user can understand and act on; nothing has been written."""

    status: int = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        status: int | None = None,
        **params: Any,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.message = message  # English message id, translated when shown
        self.field = field
        self.params = params
        if status is not None:
            self.status = status

    def translated(self) -> str:
        return gettext(self.message, **self.params)

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.translated()}
        if self.field:
            body["field"] = self.field
        return body


class InvalidInput(AppError):
    status = 422


class InvalidFields(InvalidInput):
    """Several fields refused at once, so that a form marks all of them in one answer.

    Code, message and field are the first refusal's; ``errors`` holds every one.
    """

    def __init__(self, errors: Sequence[AppError]) -> None:
        first = errors[0]
        super().__init__(first.code, first.message, field=first.field, **first.params)
        self.errors = list(errors)

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["fields"] = [
            {"field": error.field, "message": error.translated()}
            for error in self.errors
            if error.field
        ]
        return body


class NotFound(AppError):
    status = 404


class Conflict(AppError):
    status = 409


class Unauthenticated(AppError):
    status = 401


class Forbidden(AppError):
    status = 403


class RateLimited(AppError):
    status = 429
